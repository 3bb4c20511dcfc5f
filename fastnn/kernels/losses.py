"""Losses of the output layer and their delta: each formula once per layout, weighted by row.

Per row, with output pre-activation z, output a = f(z), target t and row weight w (float64;
the row's loss and gradient are multiplied by w; w = 1 leaves both exactly as they are):

    squared_error         L = 1/2 sum_j (a_j - t_j)^2            any output
                          dL/da = a - t (softmax: the Jacobian below; an elementwise output's
                          f'(z) is multiplied in by the backward pass: delta_needs_derivative)
                          softmax: dL/dz_j = a_j ((a_j - t_j) - sum_k (a_k - t_k) a_k)
    binary_cross_entropy  L = sum_j softplus(z_j) - t_j z_j       sigmoid output
                          dL/dz = a - t
    cross_entropy         L = sum_j t_j (logsumexp(z) - z_j)      softmax output
                          dL/dz = a sum_k t_k - t
                          logsumexp(z) = max z - log a_max, with a_max the softmax output at
                          the largest z: exp(0) / sum_k exp(z_k - max z), at least 1/n
    poisson               L = sum_j a_j - t_j + t_j (log t_j - z_j)  exp output
                          dL/dz = a - t
                          (half the Poisson deviance, t log(t / a) - t + a: 0 where a = t;
                          t log t = 0 at t = 0)

Both cross-entropies and the Poisson loss are computed from the logits z, so saturated
float32 outputs give no inf or NaN. ``loss_rows`` serves the row-major layouts (per-sample
and batched paths), ``loss_columns`` the feature-major one (the narrow path). Both return the weighted loss sum
sum_i w_i L_i, multiplied and summed in float64, and write delta = scale w dL/dz, the row's
factor scale w formed in float64 (``scale``: fastnn.kernels.updates.batch_scale). (The
weights are float64 arrays: LLVM's fast-math narrows a product of two widened float32 numbers
back to float32, where w L can overflow.)
"""
import numpy as np

from ._jit import kernel
from .activations import softplus
from .buffers import copy
from .codes import (BINARY_CROSS_ENTROPY, COMPILED_ACTIVATIONS, COMPILED_LOSSES, CROSS_ENTROPY,
                    POISSON, SOFTMAX, SQUARED_ERROR)
from .elementary import vlog1p


@kernel(inline=True)
def delta_needs_derivative(loss, output):
    """Whether the loss leaves the output delta as dL/da, for the backward pass to multiply
    by f'(z) (squared error through an elementwise output activation)."""
    return loss == SQUARED_ERROR and output != SOFTMAX


@kernel(inline=True)
def poisson(z, a, t, zero):
    """a - t + t (log t - z): the Poisson loss of one output (``zero``: 0 in a's type)."""
    return a - t + (t * (np.log(t) - z) if t > zero else zero)


@kernel
def loss_rows(loss, output, z, a, a_start, t, w, delta, d_start, rows, n, scale):
    """Row-major: ``rows`` rows of ``n`` outputs, row i's at z[i n:], a[a_start + i n:],
    t[i n:] and delta[d_start + i n:], its weight w[i]. Returns sum_i w_i L_i (float64) and
    writes delta = scale w dL/dz (dL/da where delta_needs_derivative). For cross-entropy,
    delta holds exp(z - max z) for a while: it must not share memory with z, a or t."""
    zero = a.dtype.type(0.0)
    half = a.dtype.type(0.5)
    a_start = max(a_start, 0)
    d_start = max(d_start, 0)
    total = 0.0
    if BINARY_CROSS_ENTROPY in COMPILED_LOSSES and loss == BINARY_CROSS_ENTROPY:
        for row in range(rows):
            first = max(row * n, 0)
            weight = w[row]
            row_scale = a.dtype.type(scale * weight)
            for j in range(n):
                total += weight * (softplus(z[first + j], zero) - t[first + j] * z[first + j])
                delta[d_start + first + j] = row_scale * (a[a_start + first + j] - t[first + j])
    elif POISSON in COMPILED_LOSSES and loss == POISSON:
        for row in range(rows):
            first = max(row * n, 0)
            weight = w[row]
            row_scale = a.dtype.type(scale * weight)
            for j in range(n):
                total += weight * poisson(z[first + j], a[a_start + first + j], t[first + j],
                                          zero)
                delta[d_start + first + j] = row_scale * (a[a_start + first + j] - t[first + j])
    elif CROSS_ENTROPY in COMPILED_LOSSES and loss == CROSS_ENTROPY:
        for row in range(rows):
            first = max(row * n, 0)
            weight = w[row]
            row_scale = a.dtype.type(scale * weight)
            peak = z[first]
            at_peak = a[a_start + first]
            for j in range(1, n):
                if z[first + j] > peak:
                    peak = z[first + j]
                    at_peak = a[a_start + first + j]
            log_sum_exp = peak - np.log(at_peak)
            target_sum = zero
            for j in range(n):
                total += weight * (t[first + j] * (log_sum_exp - z[first + j]))
                target_sum += t[first + j]
            for j in range(n):
                delta[d_start + first + j] = row_scale * (
                    a[a_start + first + j] * target_sum - t[first + j])
    elif SQUARED_ERROR in COMPILED_LOSSES:  # loss == SQUARED_ERROR
        for row in range(rows):
            first = max(row * n, 0)
            weight = w[row]
            row_scale = a.dtype.type(scale * weight)
            for j in range(n):
                error = a[a_start + first + j] - t[first + j]
                total += weight * (half * error * error)
                delta[d_start + first + j] = row_scale * error
            if SOFTMAX in COMPILED_ACTIVATIONS and output == SOFTMAX:
                weighted = zero
                for j in range(n):
                    weighted += delta[d_start + first + j] * a[a_start + first + j]
                for j in range(n):
                    delta[d_start + first + j] = a[a_start + first + j] * (
                        delta[d_start + first + j] - weighted)
    return total


@kernel
def loss_columns(loss, output, z, a, t, w, delta, m, n, scale, scratch):
    """Feature-major: ``m`` rows of ``n`` outputs, output j of row i at z[j m + i], a[j m + i],
    t[j m + i] and delta[j m + i], row i's weight w[i]; every loop runs over the rows.
    Returns sum_i w_i L_i (float64) and writes delta = scale w dL/dz (dL/da where
    delta_needs_derivative). ``scratch``: 4 m values."""
    zero = a.dtype.type(0.0)
    one = a.dtype.type(1.0)
    half = a.dtype.type(0.5)
    row_scale = scratch[3 * m:4 * m]
    for i in range(m):
        row_scale[i] = scale * w[i]  # in float64 (batch_scale), rounded once
    total = 0.0
    if BINARY_CROSS_ENTROPY in COMPILED_LOSSES and loss == BINARY_CROSS_ENTROPY:
        for j in range(n):
            zj, tj = z[j * m:(j + 1) * m], t[j * m:(j + 1) * m]
            aj, dj = a[j * m:(j + 1) * m], delta[j * m:(j + 1) * m]
            for i in range(m):
                total += w[i] * (softplus(zj[i], zero) - tj[i] * zj[i])
                dj[i] = row_scale[i] * (aj[i] - tj[i])
    elif POISSON in COMPILED_LOSSES and loss == POISSON:
        for j in range(n):
            zj, tj = z[j * m:(j + 1) * m], t[j * m:(j + 1) * m]
            aj, dj = a[j * m:(j + 1) * m], delta[j * m:(j + 1) * m]
            for i in range(m):
                total += w[i] * poisson(zj[i], aj[i], tj[i], zero)
                dj[i] = row_scale[i] * (aj[i] - tj[i])
    elif CROSS_ENTROPY in COMPILED_LOSSES and loss == CROSS_ENTROPY:
        log_sum_exp = scratch[:m]  # the peak, first
        at_peak = scratch[m:2 * m]
        target_sum = scratch[2 * m:3 * m]
        copy(z[:m], log_sum_exp)
        copy(a[:m], at_peak)
        for j in range(1, n):
            zj, aj = z[j * m:(j + 1) * m], a[j * m:(j + 1) * m]
            for i in range(m):
                higher = zj[i] > log_sum_exp[i]
                log_sum_exp[i] = zj[i] if higher else log_sum_exp[i]
                at_peak[i] = aj[i] if higher else at_peak[i]
        for i in range(m):  # log a = log1p(a - 1): a >= 1/n
            log_sum_exp[i] -= vlog1p(at_peak[i] - one)
        target_sum[:] = zero
        for j in range(n):
            tj = t[j * m:(j + 1) * m]
            for i in range(m):
                target_sum[i] += tj[i]
        for j in range(n):
            zj, tj = z[j * m:(j + 1) * m], t[j * m:(j + 1) * m]
            aj, dj = a[j * m:(j + 1) * m], delta[j * m:(j + 1) * m]
            for i in range(m):
                total += w[i] * (tj[i] * (log_sum_exp[i] - zj[i]))
                dj[i] = row_scale[i] * (aj[i] * target_sum[i] - tj[i])
    elif SQUARED_ERROR in COMPILED_LOSSES:  # loss == SQUARED_ERROR
        for j in range(n):
            tj = t[j * m:(j + 1) * m]
            aj, dj = a[j * m:(j + 1) * m], delta[j * m:(j + 1) * m]
            for i in range(m):
                error = aj[i] - tj[i]
                total += w[i] * (half * error * error)
                dj[i] = row_scale[i] * error
        if SOFTMAX in COMPILED_ACTIVATIONS and output == SOFTMAX:
            weighted = scratch[:m]
            weighted[:] = zero
            for j in range(n):
                aj, dj = a[j * m:(j + 1) * m], delta[j * m:(j + 1) * m]
                for i in range(m):
                    weighted[i] += dj[i] * aj[i]
            for j in range(n):
                aj, dj = a[j * m:(j + 1) * m], delta[j * m:(j + 1) * m]
                for i in range(m):
                    dj[i] = aj[i] * (dj[i] - weighted[i])
    return total
