"""Sparse input (scipy.sparse CSR, CSC, COO and the other formats) on the sparse path
(fastnn.kernels.sparse), generated from the tables below: fastnn.MLP against the same rows
dense and against fastnn.reference; the estimators against scikit-learn's MLP on the same
sparse X and against their own dense fits; the kernels a sparse call runs and compiles; the
memory of a fit on a 100,000 x 50,000 matrix."""
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse

import fastnn
from fastnn import _registry as reg
from fastnn import paths, threads

from conftest import (DTYPES, OPTIMIZERS, OUTPUT_LOSS_PAIRS, assert_matches, draw_targets,
                      make_weights, output_and_loss)


def sparse_rows(n, k, density=0.15, seed=0, dtype=np.float64):
    """An n x k CSR matrix of normal values at about ``density`` of the places, with empty
    rows (every fifth), a row whose columns are unsorted and a row with a repeated column
    (scipy and fastnn add repeated entries up)."""
    rng = np.random.default_rng(seed)
    X = scipy.sparse.random(n, k, density=density, format="lil", random_state=seed,
                            data_rvs=rng.standard_normal)
    X[::5] = 0
    X = X.tocsr()
    X.eliminate_zeros()
    data, indices, indptr = list(X.data), list(X.indices), list(X.indptr)
    # row 1 gets two entries more: column 0 twice, after larger columns
    at = indptr[2]
    data[at:at] = [0.5, -1.25]
    indices[at:at] = [0, 0]
    indptr = indptr[:2] + [p + 2 for p in indptr[2:]]
    X = scipy.sparse.csr_matrix((np.array(data, dtype), np.array(indices, np.int32),
                                 np.array(indptr, np.int32)), shape=(n, k))
    assert not X.has_sorted_indices and not X.has_canonical_format
    return X


def targets(n, sizes, output, loss, seed=1, dtype=np.float64):
    return draw_targets(np.random.default_rng(seed), n, sizes, output, loss, dtype)


def three_nets(sizes, hidden, output, bias=True, dtype="float64", seed=0):
    """fastnn.MLP for the sparse rows, fastnn.MLP for the same rows dense, fastnn.reference.MLP
    for the sparse rows: identical parameters."""
    args = dict(hidden=hidden, output=output, bias=bias, seed=seed, dtype=dtype)
    return fastnn.MLP(sizes, **args), fastnn.MLP(sizes, **args), fastnn.reference.MLP(sizes, **args)


# ---------------------------------------------------------------------------- fastnn.MLP
@dataclass(frozen=True)
class SparseCase:
    """fit arguments and data for one kind of sparse training; ``block_rows``: the batched
    blocks made that small (BLOCK_ROWS), so batches are summed over several blocks."""
    name: str
    sizes: tuple
    n: int
    fit: dict
    hidden: tuple
    block_rows: int = None

    def __str__(self):
        return self.name


SPARSE_CASES = [
    SparseCase("per_sample", (30, 7, 3), 40, dict(batch_size=1, shuffle=True), ("tanh",)),
    SparseCase("per_sample_in_order", (30, 7, 3), 40, dict(batch_size=1, shuffle=False),
               ("relu",)),
    SparseCase("small_batches", (30, 7, 6, 3), 60, dict(batch_size=5, shuffle=True),
               ("softplus", "leaky_relu")),
    SparseCase("batches", (50, 40, 3), 120, dict(batch_size=40, shuffle=True), ("sigmoid",)),
    SparseCase("batches_in_order", (50, 40, 3), 120, dict(batch_size=40, shuffle=False),
               ("tanh",)),
    SparseCase("full_batch", (30, 7, 3), 60, dict(batch_size=None), ("linear",)),
    SparseCase("batches_over_blocks", (30, 7, 3), 60, dict(batch_size=25, shuffle=True),
               ("tanh",), block_rows=8),
    SparseCase("no_hidden_layer", (30, 3), 60, dict(batch_size=8, shuffle=True), ()),
    SparseCase("threads_would_split", (200, 64, 48, 10), 96, dict(batch_size=48, shuffle=True),
               ("relu", "tanh")),
]
"""Every kind of sparse training: one row, a few, many, all, batches longer than a block,
no hidden layer, and a network whose dense batches split over two threads."""
CASES = [pytest.param(case, id=case.name) for case in SPARSE_CASES]


@pytest.fixture
def on_case(monkeypatch):
    """Two usable threads on OpenMP (as a 2-core machine: the dense "threads_would_split"
    batches split in two) and the case's blocks. Returns the case."""
    def use(case):
        monkeypatch.setattr(threads, "usable_threads", lambda: 2)
        monkeypatch.setattr(threads, "threading_layer", lambda: "omp")
        if case.block_rows:
            monkeypatch.setattr(paths, "BLOCK_ROWS", case.block_rows)
        return case
    return use


@pytest.mark.parametrize("case", CASES)
def test_each_case_runs_the_sparse_kernels(on_case, kernel_calls, case):
    case = on_case(case)
    output, loss = output_and_loss(case.sizes)
    net = fastnn.MLP(case.sizes, hidden=list(case.hidden), output=output, seed=0)
    X = sparse_rows(case.n, case.sizes[0])
    Y = targets(case.n, case.sizes, output, loss)
    rows = case.fit["batch_size"] or case.n
    assert paths.choose("train", rows, case.sizes, 8, sparse=True).kind == paths.SPARSE
    net.fit(X, Y, loss=loss, epochs=2, **case.fit)
    assert set(kernel_calls) == {"train:sparse"}  # in chunks of epochs: once or more
    kernel_calls.clear()
    net.forward(X)
    net.loss_and_grad(X, Y, loss)
    assert kernel_calls == ["forward:sparse", "loss_grad:sparse"]
    kernel_calls.clear()
    net.fit(X.toarray(), Y, loss=loss, epochs=1, **case.fit)
    assert "train:sparse" not in kernel_calls


def fit_three(nets, X, Y, make_optimizer, **fit_args):
    """Fit the sparse, dense and reference nets (sparse, dense, sparse rows): their losses
    and optimizers."""
    optimizers = [make_optimizer() for _ in nets]
    losses = [net.fit(rows, Y, optimizer=opt, seed=3, **fit_args).loss
              for net, rows, opt in zip(nets, (X, X.toarray(), X), optimizers)]
    return losses, optimizers


def assert_three_agree(nets, losses, optimizers, dtype):
    """The sparse rows' training equals the dense rows' to RTOL, and the reference's to RTOL
    in float64 (float32: to 1e-4, the reference's own rounding, which Adam's division by
    sqrt(v) amplifies where a gradient nearly cancels: as far from fastnn's dense rows)."""
    sparse, dense, reference = nets
    for other, other_losses, other_optimizer, rtol in zip(
            (dense, reference), losses[1:], optimizers[1:],
            (None, None if dtype == np.float64 else 1e-4)):
        assert_matches(losses[0], other_losses, dtype, rtol)
        assert_matches(sparse.params, other.params, dtype, rtol)
        assert_matches(optimizers[0]._state, other_optimizer._state, dtype, rtol)
        assert optimizers[0].steps == other_optimizer.steps


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", ["momentum", "adam", "sklearn_adam"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_training_equals_the_dense_rows_and_the_reference(on_case, case, dtype, optimizer,
                                                          bias, weighted):
    """The case's fit with the update rule, with and without biases and sample weights
    (some 0), the l2 penalty on: losses, parameters, optimizer state and steps agree with the
    same rows dense and with the reference on the sparse rows."""
    case = on_case(case)
    output, loss = output_and_loss(case.sizes)
    nets = three_nets(case.sizes, list(case.hidden), output, bias, dtype, seed=5)
    X = sparse_rows(case.n, case.sizes[0], seed=6, dtype=dtype)
    Y = targets(case.n, case.sizes, output, loss, seed=7, dtype=dtype)
    losses, optimizers = fit_three(
        nets, X, Y, OPTIMIZERS[optimizer], loss=loss, l2=0.1,
        epochs=3 if dtype == np.float64 else 1,
        sample_weight=make_weights(case.n, 8) if weighted else None, **case.fit)
    assert_three_agree(nets, losses, optimizers, dtype)


@pytest.mark.parametrize("case", CASES)
def test_long_training_stays_close(on_case, case):
    """30 epochs with nesterov momentum and weight decay: float64 within 1e-9 of the dense
    rows' training."""
    case = on_case(case)
    output, loss = output_and_loss(case.sizes)
    sparse, dense, _ = three_nets(case.sizes, list(case.hidden), output, seed=8)
    X = sparse_rows(case.n, case.sizes[0], seed=9)
    Y = targets(case.n, case.sizes, output, loss, seed=10)
    opt = lambda: fastnn.SGD(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-3)
    losses, _ = fit_three((sparse, dense), X, Y, opt, loss=loss, epochs=30,
                          sample_weight=make_weights(case.n), **case.fit)
    assert_matches(losses[0], losses[1], rtol=1e-9)
    assert_matches(sparse.params, dense.params, rtol=1e-9)


# (sizes, rows): one block, and several blocks of BLOCK_ROWS
EVALUATIONS = [pytest.param(sizes, n, id=f"{'-'.join(map(str, sizes))}x{n}")
               for sizes, n in [((30, 7, 6, 3), 17), ((30, 3), 40), ((40, 9, 3), 2500)]]


@pytest.mark.parametrize("sizes,n", EVALUATIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", reg.HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("bias", [True, False])
def test_forward_loss_and_gradient(sizes, n, dtype, hidden, output, loss, bias):
    """forward and loss_and_grad (both reductions, with and without weights and l2) of sparse
    rows equal the dense rows' and the reference's."""
    sparse, dense, reference = three_nets(sizes, hidden, output, bias, dtype, seed=1)
    X = sparse_rows(n, sizes[0], seed=2, dtype=dtype)
    Y = targets(n, sizes, output, loss, seed=3, dtype=dtype)
    out = sparse.forward(X)
    assert out.dtype == dtype
    assert_matches(out, dense.forward(X.toarray()), dtype)
    assert_matches(out, reference.forward(X), dtype)
    for reduction, l2, weights in [("mean", 0.0, None), ("sum", 0.0, None),
                                   ("mean", 0.3, make_weights(n, 3)),
                                   ("sum", 0.3, make_weights(n, 4))]:
        ours = sparse.loss_and_grad(X, Y, loss, reduction, l2=l2, sample_weight=weights)
        for rows, net in ((X.toarray(), dense), (X, reference)):
            value, grad_w, grad_b = net.loss_and_grad(rows, Y, loss, reduction, l2=l2,
                                                      sample_weight=weights)
            assert_matches(ours[0], value, dtype)
            assert (ours[2] is None) == (not bias)
            for a, b in zip(ours[1] + (ours[2] or []), grad_w + (grad_b or [])):
                assert a.dtype == dtype
                assert_matches(a, b, dtype)


FORMATS = {
    # id -> the CSR matrix in that form
    "csr_array": scipy.sparse.csr_array,
    "csc_matrix": scipy.sparse.csc_matrix,
    "csc_array": scipy.sparse.csc_array,
    "coo_matrix": scipy.sparse.coo_matrix,
    "coo_array": scipy.sparse.coo_array,
    "lil_matrix": scipy.sparse.lil_matrix,
    "dok_array": scipy.sparse.dok_array,
    "bsr_matrix": scipy.sparse.bsr_matrix,
    "dia_matrix": scipy.sparse.dia_matrix,
    "int64_indices": lambda X: scipy.sparse.csr_matrix(
        (X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64)), shape=X.shape),
    "float32_values": lambda X: scipy.sparse.csr_matrix(  # (astype would sum duplicates)
        (X.data.astype(np.float32), X.indices, X.indptr), shape=X.shape),
    "integer_values": lambda X: scipy.sparse.csr_matrix(
        (X.data.astype(np.int32), X.indices, X.indptr), shape=X.shape),
    "canonical": lambda X: scipy.sparse.csr_matrix(X.toarray()),
}
VALUES = {"integer_values": lambda data: np.round(3 * data),
          "float32_values": lambda data: data.astype(np.float32).astype(np.float64)}
"""The values of those forms, in float64."""


@pytest.mark.parametrize("form", sorted(FORMATS))
def test_every_format_gives_the_results_of_its_csr_rows(form):
    """Every scipy.sparse format, index and value dtype: the same bits as the same values as
    a CSR matrix of the model's dtype (converted by scipy's tocsr, never densified; a
    canonical matrix, with repeated entries summed and columns sorted, to rounding)."""
    X = sparse_rows(40, 30, seed=11)
    if form in VALUES:
        X.data = VALUES[form](X.data)
    given = FORMATS[form](X)
    assert scipy.sparse.issparse(given)
    Y = targets(40, (30, 7, 3), "softmax", "cross_entropy")
    results = []
    for rows in (X, given):
        net = fastnn.MLP([30, 7, 3], output="softmax", seed=0)
        out = net.forward(rows)
        np.testing.assert_array_equal(net.predict(rows), out.argmax(axis=1))
        value, grad_w, _ = net.loss_and_grad(rows, Y, "cross_entropy")
        history = net.fit(rows, Y, loss="cross_entropy", optimizer=fastnn.Adam(lr=0.01),
                          epochs=2, batch_size=4, seed=1)
        results.append([out, value, *grad_w, history.loss, net.params.copy()])
    exact = form not in ("canonical", "bsr_matrix", "dia_matrix", "dok_array", "lil_matrix",
                         "csc_matrix", "csc_array", "coo_matrix", "coo_array")
    for a, b in zip(*results):
        if exact:
            np.testing.assert_array_equal(a, b)
        else:  # repeated entries summed, columns in another order: another rounding
            assert_matches(a, b)


def test_sparse_inputs_are_not_modified():
    X = sparse_rows(40, 30, seed=12)
    arrays = [X.data.copy(), X.indices.copy(), X.indptr.copy()]
    net = fastnn.MLP([30, 7, 1], seed=0)
    net.fit(X, np.ones(40), epochs=2, batch_size=8)
    net.forward(X)
    net.loss_and_grad(X, np.ones(40))
    for before, after in zip(arrays, [X.data, X.indices, X.indptr]):
        np.testing.assert_array_equal(before, after)
    assert X.indices.dtype == np.int32 and not X.has_sorted_indices


# ---------------------------------------------------------------------------- memory
def test_a_fit_on_100000_by_50000_rows_takes_memory_of_the_nonzeros_only():
    """A 100,000 x 50,000 CSR matrix of 0.1% nonzeros (40 GB dense): fit, forward,
    loss_and_grad and an estimator's fit and predict allocate less than the matrix's own
    arrays, and nothing near the dense size."""
    n, k, per_row = 100_000, 50_000, 50
    rng = np.random.default_rng(0)
    X = scipy.sparse.csr_matrix(
        (rng.random(n * per_row), rng.integers(0, k, n * per_row).astype(np.int32),
         np.arange(0, n * per_row + 1, per_row, dtype=np.int32)), shape=(n, k))
    y = rng.integers(0, 2, n).astype(np.float64)
    X_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    net = fastnn.MLP([k, 2, 1], hidden="tanh", output="sigmoid", seed=0)
    MLPClassifier = fastnn.MLPClassifier  # imports scikit-learn (not to be counted)
    tracemalloc.start()
    try:
        net.fit(X, y, loss="binary_cross_entropy", optimizer=fastnn.Adam(lr=0.01), epochs=1,
                batch_size=1000, seed=0)
        net.forward(X)
        net.loss_and_grad(X, y, "binary_cross_entropy")
        _, fastnn_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # one iteration does not converge
            model = MLPClassifier((2,), max_iter=1, batch_size=1000, random_state=0).fit(X, y)
        model.predict_proba(X)
        _, estimator_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert X_bytes < n * k * 8 / 500
    assert max(fastnn_peak, estimator_peak) < X_bytes, (fastnn_peak, estimator_peak, X_bytes)
    assert np.isfinite(net.params).all() and model.n_iter_ == 1


# ---------------------------------------------------------------------------- compilation
COMPILED = textwrap.dedent("""
    from numba.core import event
    compiled = []
    class Listener(event.Listener):
        def on_start(self, ev): pass
        def on_end(self, ev): compiled.append(ev.data["dispatcher"].py_func.__module__ + "."
                                              + ev.data["dispatcher"].py_func.__qualname__)
    event.register("numba:compile", Listener())
    import numpy as np, scipy.sparse, fastnn
    net = fastnn.MLP([40, 40, 2], seed=0)
    X = scipy.sparse.random(5, 40, density=0.2, format="csr", random_state=0)
    for rows in (X.toarray(), X):
        before = len(compiled)
        net.forward(rows)
        print(sorted(set(compiled[before:])))
""")


def test_dense_calls_compile_no_sparse_kernel(tmp_path):
    """In a new process with an empty cache, a dense forward compiles nothing of
    fastnn.kernels.sparse; a sparse one compiles its kernel (and none of the dense input's)."""
    import os
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", COMPILED], capture_output=True, text=True,
                          env=env)
    assert done.returncode == 0, done.stderr
    dense, sparse = (eval(line) for line in done.stdout.splitlines())
    assert "fastnn.kernels.batched.forward_batched" in dense
    assert not [name for name in dense if name.startswith("fastnn.kernels.sparse")]
    assert "fastnn.kernels.sparse.forward_sparse" in sparse
    assert "fastnn.kernels.batched.forward_batched" not in sparse


# ---------------------------------------------------------------------------- estimators
sklearn = pytest.importorskip("sklearn", reason="the estimators need scikit-learn")
from sklearn import neural_network  # noqa: E402

from test_estimators import COMMON, SOLVERS, assert_same_fit, fit_quietly  # noqa: E402


def estimator_data(task):
    """(sparse X, y) for the task: 160 rows of 30 non-negative features, 20% nonzero, some
    rows empty; targets that depend on the features."""
    X = sparse_rows(160, 30, density=0.2, seed=20)
    X.data = np.abs(X.data)
    scores = X @ np.random.default_rng(21).normal(size=(30, 3))
    if task == "multiclass":
        return X, scores.argmax(axis=1)
    if task == "binary":
        return X, scores[:, 0] > np.median(scores[:, 0])
    if task == "multilabel":
        return X, (scores > np.median(scores, axis=0)).astype(int)
    return X, scores[:, 0] if task == "one_output" else scores


TASKS = ("multiclass", "binary", "multilabel", "one_output", "three_outputs")
CLASSIFICATION = TASKS[:3]


def estimators(task, **params):
    """(fastnn's for sparse X, fastnn's for the same X dense, scikit-learn's for sparse X)."""
    kind = "Classifier" if task in CLASSIFICATION else "Regressor"
    params = dict(COMMON, **params)
    return (getattr(fastnn, f"MLP{kind}")(**params), getattr(fastnn, f"MLP{kind}")(**params),
            getattr(neural_network, f"MLP{kind}")(**params))


def fit_estimators(task, method="fit", calls=1, sample_weight=None, **params):
    X, y = estimator_data(task)
    models = estimators(task, **params)
    extra = {"classes": np.unique(y)} if method == "partial_fit" and task == "multiclass" else {}
    for _ in range(calls):
        for model, rows in zip(models, (X, X.toarray(), X)):
            fit_quietly(model, rows, y, method, sample_weight=sample_weight, **extra)
    return models, X, y


def assert_same_as_dense_and_scikit_learn(models, X, y, sample_weight=None):
    """The sparse fit against scikit-learn's on the same sparse X (assert_same_fit: loss
    curve, coefs_, predictions on X) and against the dense fit; predictions and scores of
    the sparse X in CSR and CSC equal those of the dense rows."""
    ours, dense, theirs = models
    assert_same_fit(ours, theirs, X)
    assert_same_fit(ours, dense, X.toarray(), rtol=1e-12)
    for rows in (X, X.tocsc()):
        if hasattr(ours, "predict_proba"):
            np.testing.assert_allclose(ours.predict_proba(rows), dense.predict_proba(X.toarray()),
                                       rtol=1e-10, atol=1e-12)
            with np.errstate(divide="ignore"):  # log(0) of saturated outputs: -inf in both
                np.testing.assert_allclose(ours.predict_log_proba(rows),
                                           theirs.predict_log_proba(X), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(ours.score(rows, y, sample_weight=sample_weight),
                                   theirs.score(X, y, sample_weight=sample_weight), rtol=1e-10)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("solver", sorted(SOLVERS))
@pytest.mark.parametrize("shuffle", [False, True])
def test_estimators_train_on_sparse_X_as_scikit_learn(task, solver, shuffle):
    models, X, y = fit_estimators(task, shuffle=shuffle, **SOLVERS[solver])
    assert_same_as_dense_and_scikit_learn(models, X, y)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("solver", ["momentum", "adam", "lbfgs"])
def test_estimators_train_on_weighted_sparse_X_as_scikit_learn(task, solver):
    weights = np.random.default_rng(22).uniform(0.1, 3.0, 160)
    models, X, y = fit_estimators(task, sample_weight=weights, **SOLVERS[solver])
    assert_same_as_dense_and_scikit_learn(models, X, y, weights)


@pytest.mark.parametrize("task", ["multiclass", "binary", "three_outputs"])
@pytest.mark.parametrize("solver", ["nesterov", "adam"])
@pytest.mark.parametrize("weighted", [False, True])
def test_early_stopping_splits_the_sparse_rows_as_scikit_learn(task, solver, weighted):
    weights = np.random.default_rng(23).uniform(0.1, 3.0, 160) if weighted else None
    models, X, y = fit_estimators(task, sample_weight=weights, early_stopping=True,
                                  validation_fraction=0.2, n_iter_no_change=3, max_iter=60,
                                  **SOLVERS[solver])
    assert len(models[0].validation_scores_) == models[0].n_iter_
    assert_same_as_dense_and_scikit_learn(models, X, y, weights)


@pytest.mark.parametrize("task", ["multiclass", "one_output"])
@pytest.mark.parametrize("solver", ["nesterov", "adam"])
def test_partial_fit_on_sparse_X_as_scikit_learn(task, solver):
    models, X, y = fit_estimators(task, method="partial_fit", calls=3, **SOLVERS[solver])
    assert_same_as_dense_and_scikit_learn(models, X, y)


@pytest.mark.parametrize("form", ["csc_matrix", "coo_array", "lil_matrix", "dok_array"])
def test_estimators_take_every_sparse_format(form):
    """The formats validate_data passes (CSR, CSC, COO) and those it converts to CSR."""
    X, y = estimator_data("multiclass")
    csr = fit_quietly(fastnn.MLPClassifier(**COMMON), X, y)
    other = fit_quietly(fastnn.MLPClassifier(**COMMON), FORMATS[form](X), y)
    for a, b in zip(csr.coefs_, other.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(csr.predict(FORMATS[form](X)), csr.predict(X))


def test_float32_sparse_X_trains_in_float32_close_to_scikit_learn():
    X, y = estimator_data("multiclass")
    X = X.astype(np.float32)
    ours, _, theirs = estimators("multiclass", **SOLVERS["adam"])
    fit_quietly(ours, X, y)
    fit_quietly(theirs, X, y)
    assert all(W.dtype == np.float32 for W in ours.coefs_ + ours.intercepts_)
    assert ours.predict_proba(X).dtype == np.float32
    assert_same_fit(ours, theirs, X, rtol=1e-4)


BAD_SPARSE = {
    # id -> (X from the training X, the error)
    "fewer_columns": (lambda X: X[:, :-1], ValueError),
    "more_columns": (lambda X: scipy.sparse.hstack([X, X[:, :1]]).tocsr(), ValueError),
    "nan": (lambda X: _with_value(X, np.nan), ValueError),
    "inf": (lambda X: _with_value(X, np.inf), ValueError),
    "column_out_of_range": (lambda X: _with_index(X, 30), ValueError),
}


def _with_value(X, value):
    X = X.copy()
    X.data[3] = value
    return X


def _with_index(X, column):
    X = X.copy()
    X.indices[-1] = column
    return X


@pytest.mark.parametrize("bad", sorted(BAD_SPARSE))
@pytest.mark.parametrize("kind", ["MLPClassifier", "MLPRegressor"])
def test_bad_sparse_X_is_refused(kind, bad):
    """Predicting from, or fitting on, a bad sparse X raises ValueError naming X; a refused
    fit leaves the fitted estimator as it was."""
    X, y = estimator_data("multiclass" if kind == "MLPClassifier" else "one_output")
    model = fit_quietly(getattr(fastnn, kind)((4,), max_iter=2, random_state=0), X, y)
    before = [W.copy() for W in model.coefs_]
    make, error = BAD_SPARSE[bad]
    with pytest.raises(error, match="X"):
        model.predict(make(X))
    model.set_params(warm_start=True)
    with pytest.raises(error, match="X"):
        fit_quietly(model, make(X), y)
    for W, old in zip(model.coefs_, before):
        np.testing.assert_array_equal(W, old)


def test_estimators_declare_sparse_input():
    for model in (fastnn.MLPClassifier(), fastnn.MLPRegressor()):
        assert model.__sklearn_tags__().input_tags.sparse
