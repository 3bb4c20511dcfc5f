"""Argument checks shared by the Python layer. Every error names the argument."""
import numbers

import numpy as np
import scipy.sparse


def check_choice(name, value, choices):
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {', '.join(choices)}; got {value!r}")
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_int(name, value, minimum, allow_none=False, maximum=None):
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer{' or None' if allow_none else ''}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return int(value)


def check_real(name, value, minimum=None, strict=False):
    """A finite real number; > minimum when strict, >= minimum otherwise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value}")
    return value


def check_dtype(value):
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise TypeError(f"dtype must be 'float32' or 'float64', got {value!r}") from None
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {value!r}")
    return dtype


MAX_PARAMS = 2 ** 48
"""More parameters than any machine's memory holds (2 PiB of float64): refused before sizes
reach an int64 offset (which 10**10 x 10**10 would overflow) or an allocation."""


def check_sizes(sizes):
    try:
        values = list(sizes)
    except TypeError:
        raise TypeError(f"sizes must be a sequence of layer widths, got {sizes!r}") from None
    if len(values) < 2:
        raise ValueError(f"sizes needs at least an input and an output width, got {sizes!r}")
    widths = tuple(check_int(f"sizes[{i}]", v, 1) for i, v in enumerate(values))
    n_params = sum(k * n + n for k, n in zip(widths[:-1], widths[1:]))
    if n_params > MAX_PARAMS:
        raise ValueError(f"sizes {list(widths)} describe a network of about {n_params:.3g} "
                         f"parameters, more than {MAX_PARAMS:.3g}")
    return widths


def real_array(name, value):
    """``value`` as an array of real numbers (bool, integer or float), not yet converted."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{name} is not a rectangular array of numbers: {error}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return array


def as_real_array(name, value, dtype):
    """``value`` as a C-contiguous array of ``dtype``, rejecting non-numbers and NaN/inf."""
    array = np.ascontiguousarray(real_array(name, value), dtype=dtype)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinity (in {np.dtype(dtype).name})")
    return array


def is_sparse(value):
    """Whether ``value`` is a scipy.sparse matrix or array (an ndarray is answered first: a
    one-row forward takes a few microseconds)."""
    return type(value) is not np.ndarray and scipy.sparse.issparse(value)


def as_csr(value, dtype):
    """A scipy.sparse matrix or array as a CSR array of ``dtype`` with int64 indices and
    indptr, the form the sparse kernels take (fastnn.kernels.sparse): CSC, COO and the other
    formats through scipy's ``tocsr()``, which never densifies; returned as it is when it
    already has that form, else a CSR array over the same arrays, each copied only if its
    dtype differs (O(nonzeros))."""
    csr = value.tocsr()
    if (type(csr) is scipy.sparse.csr_array and csr.data.dtype == dtype
            and csr.indices.dtype == np.int64 and csr.indptr.dtype == np.int64
            and csr.data.flags.c_contiguous and csr.indices.flags.c_contiguous
            and csr.indptr.flags.c_contiguous):
        return csr
    if csr.data.dtype.kind not in "biuf":
        raise TypeError(f"sparse input must hold real numbers, got dtype {csr.data.dtype}")
    converted = scipy.sparse.csr_array(csr.shape, dtype=dtype)  # then its arrays, as they are
    converted.data = np.ascontiguousarray(csr.data, dtype)
    converted.indices = np.ascontiguousarray(csr.indices, np.int64)
    converted.indptr = np.ascontiguousarray(csr.indptr, np.int64)
    return converted


def as_rows(value, dtype):
    """Checked input rows in the form the kernels take: a CSR array as as_csr makes it for
    sparse input, else a C-contiguous array of ``dtype``."""
    return as_csr(value, dtype) if is_sparse(value) else np.ascontiguousarray(value, dtype)


def check_sparse_inputs(name, value, n_features, dtype):
    """check_inputs for a scipy.sparse matrix or array: a 2-D CSR array (as_csr) with at
    least one row, ``n_features`` columns and finite values."""
    if value.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, {n_features}), got a sparse array "
                         f"of shape {value.shape}")
    if value.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows")
    if value.shape[1] != n_features:
        raise ValueError(f"{name} has {value.shape[1]} columns but the network takes "
                         f"{n_features} inputs")
    if value.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got a sparse matrix of dtype "
                        f"{value.dtype}")
    csr = as_csr(value, dtype)
    check_csr_structure(name, csr)
    if not np.isfinite(csr.data[:csr.indptr[-1]]).all():
        raise ValueError(f"{name} contains NaN or infinity (in {np.dtype(dtype).name})")
    return csr


def check_csr_structure(name, csr):
    """ValueError unless the CSR arrays describe ``csr.shape``: indptr from 0, not
    decreasing, to at most the stored values; every column index in range. The kernels read
    the rows through these arrays without bounds checks."""
    data, indices, indptr = csr.data, csr.indices, csr.indptr
    n_rows, n_columns = csr.shape
    stored = indptr[-1] if indptr.size else -1
    columns = indices[:max(stored, 0)]
    if (indptr.size != n_rows + 1 or indptr[0] != 0
            or not 0 <= stored <= min(indices.size, data.size) or (np.diff(indptr) < 0).any()
            or (columns.size and not 0 <= columns.min() <= columns.max() < n_columns)):
        raise ValueError(f"{name}: the sparse matrix's CSR arrays (indptr, indices) do not "
                         f"describe a {n_rows} x {n_columns} matrix")


def check_inputs(name, value, n_features, dtype):
    """A 2-D (n_samples, n_features) input array with at least one row; a scipy.sparse
    matrix or array becomes a CSR array (check_sparse_inputs), never a dense one."""
    if is_sparse(value):
        return check_sparse_inputs(name, value, n_features, dtype)
    array = as_real_array(name, value, dtype)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, {n_features}), got shape {array.shape}"
                         + ("; use X.reshape(1, -1) for a single sample" if array.ndim == 1 else ""))
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows")
    if array.shape[1] != n_features:
        raise ValueError(f"{name} has {array.shape[1]} columns but the network takes {n_features} inputs")
    return array


def check_dense_inputs(name, value, n_features, dtype, who):
    """check_inputs for a model that takes dense arrays only (``who`` names it): a sparse
    matrix is refused with a TypeError."""
    if is_sparse(value):
        raise TypeError(f"{name}: {who} takes dense arrays, not a sparse matrix (fastnn.MLP and "
                        f"the estimators take sparse input; or pass {name}.toarray())")
    return check_inputs(name, value, n_features, dtype)


def check_seed(name, value):
    """None, a non-negative int or a np.random.Generator (for shuffling)."""
    if value is None or isinstance(value, np.random.Generator):
        return value
    return check_int(name, value, 0)


def check_random_state(name, value):
    """None, a non-negative int or a np.random.RandomState (for initial weights)."""
    if isinstance(value, np.random.RandomState):
        return value
    if value is not None:
        check_int(name, value, 0, maximum=2 ** 32 - 1)  # RandomState's seeds
    return np.random.RandomState(value)


def check_hidden(value, n_hidden, choices):
    """``hidden``: one activation name for every hidden layer, or a list (or tuple) of one
    name per hidden layer. Returns the names, one per hidden layer."""
    if isinstance(value, str):
        check_choice("hidden", value, choices)
        return (value,) * n_hidden
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"hidden must be an activation name or a list of one per hidden layer, "
                        f"got {value!r}")
    if len(value) != n_hidden:
        raise ValueError(f"hidden must name {n_hidden} activation{'s' if n_hidden != 1 else ''} "
                         f"(one per hidden layer), got {len(value)}: {list(value)!r}")
    for name in value:
        if not isinstance(name, str):
            raise TypeError(f"hidden: {name!r} is not an activation name; names: "
                            f"{', '.join(choices)}")
        if name not in choices:
            raise ValueError(f"hidden: {name!r} is not one of {', '.join(choices)}")
    return tuple(value)


def check_sample_weight(value, n_samples, n_models=None):
    """``sample_weight``: None (every row weighs 1) or one finite weight >= 0 per row, not all
    zero. Returns a C-contiguous (n_samples,) float64 array (float64 for every model: in a
    float32 one, the weighted loss and each row's factor w_i / (the batch's weight) are formed
    in float64, so weights far from 1 neither overflow nor lose their ratios). For a stack of
    ``n_models`` models: (n_samples,) for every model or (n_models, n_samples), one row per
    model, each checked so; returns (n_models, n_samples)."""
    shape = (n_samples,) if n_models is None else (n_models, n_samples)
    if value is None:
        return np.ones(shape)
    weights = real_array("sample_weight", value)
    if n_models is None and weights.shape != shape:
        raise ValueError(f"sample_weight must have shape ({n_samples},), one weight per row, got "
                         f"shape {weights.shape}")
    if n_models is not None and weights.shape not in ((n_samples,), shape):
        raise ValueError(f"sample_weight must have shape ({n_samples},) (every model's) or "
                         f"({n_models}, {n_samples}) (one row per model), got shape "
                         f"{weights.shape}")
    with np.errstate(over="ignore"):
        weights = as_real_array("sample_weight", weights, np.float64)
    if weights.min() < 0:
        raise ValueError(f"sample_weight must be >= 0, got {weights.min():g}")
    if weights.shape != shape:  # (n,) for every model of a stack
        weights = np.ascontiguousarray(np.broadcast_to(weights, shape))
    rows = weights.reshape(-1, n_samples)
    with np.errstate(over="ignore"):
        totals = rows.sum(axis=1)
    for k in range(rows.shape[0]):
        whose = "the weights" if n_models is None else f"the weights of model {k}"
        if not rows[k].any():
            raise ValueError(f"sample_weight: {whose} are all zero")
        if not np.isfinite(totals[k]):
            raise ValueError(f"sample_weight: the sum of {whose} overflows float64")
    return weights
