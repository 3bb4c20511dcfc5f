"""Losses of the output layer and their gradient with respect to the output pre-activation."""
import numpy as np

from .._jit import kernel
from .._registry import BINARY_CROSS_ENTROPY, CROSS_ENTROPY, SOFTMAX
from .activations import multiply_derivative, subtract_row_peaks
from .elementary import vexp, vlog1p


@kernel(inline=True)
def binary_cross_entropy(z, t, zero):
    """softplus(z) - t z = max(z, 0) + log1p(exp(-|z|)) - t z, one output's binary
    cross-entropy from its logit z (``zero``: 0 in z's type). Inlined into every loop that
    takes it, with exp and log1p that vectorise."""
    return max(z, zero) + vlog1p(vexp(-abs(z))) - t * z


@kernel
def loss_and_delta(loss_code, output_code, z, a, t, delta, n_cols, scale):
    """Sum over the block's rows of the per-sample loss, and delta = scale * dL/dz.

    z: output pre-activations, a: output activations (already f(z)), t: targets; all flat
    blocks of rows of ``n_cols``; delta must not share memory with them (cross-entropy keeps
    exp(z - max z) in it for a while). Returns the loss sum in float64.
    squared_error: dL/dz = (a - t) f'(z) (softmax: a_j ((a_j - t_j) - sum_k (a_k - t_k) a_k))
    binary_cross_entropy (sigmoid): dL/dz = a - t, L = softplus(z) - t z
    cross_entropy (softmax): dL/dz = a sum_k t_k - t, L = sum_j t_j (logsumexp(z) - z_j)
    """
    zero = a.dtype.type(0.0)
    half = a.dtype.type(0.5)
    n = z.size
    total = 0.0
    if loss_code == BINARY_CROSS_ENTROPY:
        for i in range(n):
            total += binary_cross_entropy(z[i], t[i], zero)
            delta[i] = scale * (a[i] - t[i])
    elif loss_code == CROSS_ENTROPY:
        subtract_row_peaks(z, delta, n_cols)  # delta holds exp(z - max z) for a while
        for i in range(n):
            delta[i] = vexp(delta[i])
        for start in range(0, n, n_cols):
            row_z, row_t = z[start:start + n_cols], t[start:start + n_cols]
            row_a, row_delta = a[start:start + n_cols], delta[start:start + n_cols]
            sum_exp = zero
            peak = row_z[0]
            for j in range(n_cols):
                sum_exp += row_delta[j]
                peak = max(peak, row_z[j])
            log_sum_exp = peak + np.log(sum_exp)
            target_sum = zero
            for j in range(n_cols):
                total += row_t[j] * (log_sum_exp - row_z[j])
                target_sum += row_t[j]
            for j in range(n_cols):
                row_delta[j] = scale * (row_a[j] * target_sum - row_t[j])
    else:  # SQUARED_ERROR
        for i in range(n):
            error = a[i] - t[i]
            total += half * error * error
            delta[i] = scale * error
        if output_code == SOFTMAX:
            for start in range(0, n, n_cols):
                stop = start + n_cols
                weighted = zero
                for j in range(start, stop):
                    weighted += delta[j] * a[j]
                for j in range(start, stop):
                    delta[j] = a[j] * (delta[j] - weighted)
        else:
            multiply_derivative(output_code, a, delta)
    return total
