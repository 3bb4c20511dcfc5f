"""Activations and their derivatives: each formula once, for every path.

Elementwise activations are the same in every layout: ``activate`` and
``multiply_derivative`` run over a contiguous stretch of a flat buffer. Softmax, which mixes
the outputs of a row, exists once per layout: ``softmax_rows`` (row-major: the per-sample and
batched paths) and ``softmax_columns`` (feature-major: the narrow path).

Formulas (derivatives in terms of the activation's output a = f(z), which is what the
backward pass keeps):

    sigmoid     a = 1 / (1 + exp(-z))                  f' = a (1 - a)
    tanh        a = tanh(z)                            f' = 1 - a^2
    relu        a = max(z, 0)                          f' = 1 if a > 0 else 0
    leaky_relu  a = z if z > 0 else 0.01 z             f' = 1 if a > 0 else 0.01
    linear      a = z                                  f' = 1
    softplus    a = log(1 + exp(z))                    f' = 1 - exp(-a) = sigmoid(z)
                  = max(z, 0) + log1p(exp(-|z|))         (as -expm1(-a): exact for small a)
    softmax     a_j = exp(z_j - max z) / sum_k exp(z_k - max z)   (output layer only)
    exp         a = exp(z)                             f' = a      (output layer only: the
                                                                    Poisson loss's)

The loops use the exp, expm1, tanh and log1p of fastnn.kernels.elementary, so they vectorise.
They count from 0 and add the start: a loop over range(start, stop) does not vectorise, as
numba cannot tell that its index is never negative; max(start, 0) says so
(fastnn.kernels.buffers).
"""
from ._jit import kernel
from .buffers import copy
from .codes import (COMPILED_ACTIVATIONS, EXP, LEAKY_RELU, LEAKY_RELU_SLOPE, RELU, SIGMOID,
                    SOFTPLUS, TANH)
from .elementary import vexp, vexpm1, vlog1p, vtanh


@kernel(inline=True)
def softplus(z, zero):
    """log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)), without overflow for large |z|
    (``zero``: 0 in z's type). Also the binary cross-entropy's (fastnn.kernels.losses)."""
    return max(z, zero) + vlog1p(vexp(-abs(z)))


@kernel
def activate(code, a, start, size):
    """a[start + i] = f(a[start + i]) in place for i < size, for an elementwise activation
    (linear leaves a alone; softmax is softmax_rows' or softmax_columns')."""
    one = a.dtype.type(1.0)
    zero = a.dtype.type(0.0)
    start = max(start, 0)
    if ((SIGMOID in COMPILED_ACTIVATIONS or EXP in COMPILED_ACTIVATIONS)
            and (code == SIGMOID or code == EXP)):  # one copy of vexp for both
        sign = -one if code == SIGMOID else one
        for i in range(size):
            e = vexp(sign * a[start + i])
            a[start + i] = one / (one + e) if code == SIGMOID else e
    elif TANH in COMPILED_ACTIVATIONS and code == TANH:
        for i in range(size):
            a[start + i] = vtanh(a[start + i])
    elif RELU in COMPILED_ACTIVATIONS and code == RELU:
        for i in range(size):
            a[start + i] = a[start + i] if a[start + i] > zero else zero
    elif LEAKY_RELU in COMPILED_ACTIVATIONS and code == LEAKY_RELU:
        slope = a.dtype.type(LEAKY_RELU_SLOPE)
        for i in range(size):
            a[start + i] = a[start + i] if a[start + i] > zero else slope * a[start + i]
    elif SOFTPLUS in COMPILED_ACTIVATIONS and code == SOFTPLUS:
        for i in range(size):
            a[start + i] = softplus(a[start + i], zero)


@kernel
def multiply_derivative(code, a, a_start, d, d_start, size):
    """d[d_start + i] *= f'(z) for i < size, f' in terms of a[a_start + i] = f(z) (not for
    softmax, whose Jacobian the losses apply)."""
    one = a.dtype.type(1.0)
    zero = a.dtype.type(0.0)
    a_start = max(a_start, 0)
    d_start = max(d_start, 0)
    if SIGMOID in COMPILED_ACTIVATIONS and code == SIGMOID:
        for i in range(size):
            d[d_start + i] *= a[a_start + i] * (one - a[a_start + i])
    elif TANH in COMPILED_ACTIVATIONS and code == TANH:
        for i in range(size):
            d[d_start + i] *= one - a[a_start + i] * a[a_start + i]
    elif RELU in COMPILED_ACTIVATIONS and code == RELU:
        for i in range(size):
            d[d_start + i] = d[d_start + i] if a[a_start + i] > zero else zero
    elif LEAKY_RELU in COMPILED_ACTIVATIONS and code == LEAKY_RELU:
        slope = a.dtype.type(LEAKY_RELU_SLOPE)
        for i in range(size):
            d[d_start + i] *= one if a[a_start + i] > zero else slope
    elif SOFTPLUS in COMPILED_ACTIVATIONS and code == SOFTPLUS:
        for i in range(size):
            d[d_start + i] *= -vexpm1(-a[a_start + i])
    elif EXP in COMPILED_ACTIVATIONS and code == EXP:
        for i in range(size):
            d[d_start + i] *= a[a_start + i]


@kernel
def softmax_rows(a, start, rows, n_cols):
    """Softmax in place over each of ``rows`` rows of ``n_cols`` stored one after the other
    from a[start]: the peak subtracted row by row, the exponentials of all rows in one loop
    (a row of 10 is too short to vectorise), then each row divided by its sum."""
    zero = a.dtype.type(0.0)
    start = max(start, 0)
    for row in range(rows):
        first = max(start + row * n_cols, 0)
        peak = a[first]
        for j in range(1, n_cols):
            peak = max(peak, a[first + j])
        for j in range(n_cols):
            a[first + j] = a[first + j] - peak
    for i in range(rows * n_cols):
        a[start + i] = vexp(a[start + i])
    for row in range(rows):
        first = max(start + row * n_cols, 0)
        total = zero
        for j in range(n_cols):
            total += a[first + j]
        for j in range(n_cols):
            a[first + j] = a[first + j] / total


@kernel
def softmax_columns(a, m, n_cols, scratch):
    """Softmax in place over the rows of a feature-major block: output j of row i at
    a[j m + i] (n_cols columns of m rows); every loop runs over the m rows. ``scratch``: 2 m
    values."""
    zero = a.dtype.type(0.0)
    peak = scratch[:m]
    total = scratch[m:2 * m]
    copy(a[:m], peak)
    for j in range(1, n_cols):
        column = a[j * m:(j + 1) * m]
        for i in range(m):
            peak[i] = max(peak[i], column[i])
    total[:] = zero
    for j in range(n_cols):
        column = a[j * m:(j + 1) * m]
        for i in range(m):
            column[i] = vexp(column[i] - peak[i])
            total[i] += column[i]
    for j in range(n_cols):
        column = a[j * m:(j + 1) * m]
        for i in range(m):
            column[i] = column[i] / total[i]
