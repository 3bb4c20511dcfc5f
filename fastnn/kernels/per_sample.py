"""The per-sample path: forward, loss and backward of a batch of a few rows (one for
batch_size=1, or a tiny full batch), fused into one loop nest.

For so few rows a layer is a few dozen multiply-adds, and what costs is the overhead around
it: a compiled call passing arrays costs about 0.1 us (each array goes as 7 words, with
reference counting), as does a slice or view. So here everything is a plain loop over flat
buffers at offsets: no call that takes an array, no slice, view, reshape or allocation per
row or layer; activations and their derivatives run over a whole layer of the batch at
once (vectorised, with fastnn.kernels.elementary's exp and tanh).

Layout for a batch of ``rows`` rows, each part row after row: ``acts`` (at least rows *
(sizes[0] + ... + sizes[L]) long) holds the input rows, then the activations of layers
1..L; ``z_out`` the output layer's pre-activation z; ``deltas`` dL/dz of layers 1..L, at
the offsets of ``acts`` less rows * sizes[0]. Parameters are laid out as in
fastnn.kernels.network (W_l at w_off[l], b_l at b_off[l], -1: no bias); the gradient goes
straight into the flat ``grad`` buffer. Formulas: fastnn._registry.
"""
import numpy as np

from .._jit import kernel
from .._registry import BINARY_CROSS_ENTROPY, CROSS_ENTROPY, SOFTMAX, SQUARED_ERROR
from .activations import activate_range, multiply_derivative_range
from .dense import BLAS_MIN_WORK
from .elementary import vexp
from .losses import binary_cross_entropy
from .updates import penalize_and_step, record_epoch

PER_SAMPLE_MAX_ROWS = 32
"""Batches of at most this many rows train here (see per_sample_fits)."""
NARROW = 16
"""Layers narrower than this compute z four columns at a time with the sums in registers (a
column loop that short does not vectorise, and adding into z row by row goes through memory);
wider layers add each row of W into z with a vectorised loop."""


@kernel(inline=True)
def offset(i):
    """max(i, 0): i itself for an index or offset, in a form LLVM knows to be non-negative.
    numba wraps negative indices around (a[-1] is the last element); that select in an index
    would stop the loop around it vectorising."""
    return max(i, 0)


@kernel
def per_sample_fits(batch_size, block_rows, sizes):
    """Whether batches of ``batch_size`` rows train here: one row always; up to
    PER_SAMPLE_MAX_ROWS rows (and the ``block_rows`` the buffers hold) unless a layer's
    product for the batch is large enough for BLAS (fastnn.kernels.dense), which is faster.
    """
    if batch_size == 1:
        return True
    if batch_size > min(PER_SAMPLE_MAX_ROWS, block_rows):
        return False
    for layer in range(sizes.size - 1):
        if batch_size * sizes[layer] * sizes[layer + 1] >= BLAS_MIN_WORK:
            return False
    return True


@kernel
def train_rows(X, T, orders, shuffled, n_epochs, batch_size, mean_reduction, l2, params,
               grad, sizes, w_off, b_off, hidden_code, output_code, loss_code, opt_code,
               opt_state, hyper, opt_step, acts, deltas, z_out, epoch_losses, epoch_penalties):
    """fastnn.kernels.training.train_epochs for batches that ``per_sample_fits``: the same
    arguments, results, l2 penalty and update (penalize_and_step after each batch).

    Per batch: grad = scale * gradient of the loss summed over its rows. Forward, layer l:
    z_j = b_j + sum_p a_p W[p, j], a = f(z). Backward from the output delta = scale * dL/dz:
    dW[p, j] = sum over rows of a_p delta_j, db_j = sum of delta_j, and the layer below gets
    delta_p = f'(z_p) sum_j delta_j W[p, j] (W before the update).
    """
    zero = params.dtype.type(0.0)
    one = params.dtype.type(1.0)
    half = params.dtype.type(0.5)
    n_layers = sizes.size - 1
    last = n_layers - 1
    n_in = offset(sizes[0])
    n_out = offset(sizes[n_layers])
    n_samples = X.shape[0]
    for epoch in range(n_epochs):
        order = orders[epoch]
        total = 0.0
        penalties = 0.0
        for start in range(0, n_samples, batch_size):
            stop = min(start + batch_size, n_samples)
            scale = one / params.dtype.type(stop - start) if mean_reduction else one
            rows = offset(stop - start)
            for i in range(rows):
                r = order[start + i] if shuffled else start + i
                for p in range(n_in):
                    acts[i * n_in + p] = X[r, p]

            # Forward.
            s = 0
            for layer in range(n_layers):
                k = offset(sizes[layer])
                n = offset(sizes[layer + 1])
                w = offset(w_off[layer])
                b = offset(b_off[layer])
                has_bias = b_off[layer] >= 0
                d = offset(s + rows * k)
                for i in range(rows):
                    si = offset(s + i * k)
                    di = offset(d + i * n)
                    if n >= NARROW:
                        for j in range(n):
                            acts[di + j] = params[b + j] if has_bias else zero
                        for p in range(k):
                            a = acts[si + p]
                            row = w + p * n
                            for j in range(n):
                                acts[di + j] += a * params[row + j]
                    else:
                        j = 0
                        while j + 4 <= n:
                            z0 = params[b + j] if has_bias else zero
                            z1 = params[b + j + 1] if has_bias else zero
                            z2 = params[b + j + 2] if has_bias else zero
                            z3 = params[b + j + 3] if has_bias else zero
                            at = w + j
                            for p in range(k):
                                a = acts[si + p]
                                z0 += a * params[at]
                                z1 += a * params[at + 1]
                                z2 += a * params[at + 2]
                                z3 += a * params[at + 3]
                                at += n
                            acts[di + j] = z0
                            acts[di + j + 1] = z1
                            acts[di + j + 2] = z2
                            acts[di + j + 3] = z3
                            j += 4
                        while j < n:
                            z = params[b + j] if has_bias else zero
                            at = w + j
                            for p in range(k):
                                z += acts[si + p] * params[at]
                                at += n
                            acts[di + j] = z
                            j += 1
                size = rows * n
                if layer == last:
                    for j in range(size):
                        z_out[j] = acts[d + j]
                code = output_code if layer == last else hidden_code
                activate_range(code, acts, d, size)
                if code == SOFTMAX:  # activate_range leaves softmax (and linear, a = z) to us
                    for di in range(d, d + size, n):
                        peak = acts[di]
                        for j in range(di + 1, di + n):
                            peak = max(peak, acts[j])
                        sum_exp = zero
                        for j in range(di, di + n):
                            acts[j] = vexp(acts[j] - peak)
                            sum_exp += acts[j]
                        for j in range(di, di + n):
                            acts[j] = acts[j] / sum_exp
                s = d

            # Loss and output delta (formulas of fastnn.kernels.losses.loss_and_delta).
            top = s
            for i in range(rows):
                r = order[start + i] if shuffled else start + i
                a = offset(top + i * n_out)
                e = offset(a - rows * n_in)
                z = offset(i * n_out)
                if loss_code == BINARY_CROSS_ENTROPY:
                    for j in range(n_out):
                        total += binary_cross_entropy(z_out[z + j], T[r, j], zero)
                        deltas[e + j] = scale * (acts[a + j] - T[r, j])
                elif loss_code == CROSS_ENTROPY:
                    peak = z_out[z]
                    for j in range(1, n_out):
                        peak = max(peak, z_out[z + j])
                    sum_exp = zero
                    for j in range(n_out):
                        sum_exp += vexp(z_out[z + j] - peak)
                    log_sum_exp = peak + np.log(sum_exp)
                    target_sum = zero
                    for j in range(n_out):
                        total += T[r, j] * (log_sum_exp - z_out[z + j])
                        target_sum += T[r, j]
                    for j in range(n_out):
                        deltas[e + j] = scale * (acts[a + j] * target_sum - T[r, j])
                else:  # SQUARED_ERROR; f'(z) of an elementwise output is applied below
                    for j in range(n_out):
                        error = acts[a + j] - T[r, j]
                        total += half * error * error
                        deltas[e + j] = scale * error
                    if output_code == SOFTMAX:
                        weighted = zero
                        for j in range(n_out):
                            weighted += deltas[e + j] * acts[a + j]
                        for j in range(n_out):
                            deltas[e + j] = acts[a + j] * (deltas[e + j] - weighted)

            # Backward.
            d = top
            for layer in range(last, -1, -1):
                k = offset(sizes[layer])
                n = offset(sizes[layer + 1])
                w = offset(w_off[layer])
                b = offset(b_off[layer])
                has_bias = b_off[layer] >= 0
                s = offset(d - rows * k)
                e = offset(d - rows * n_in)
                size = rows * n
                if layer < last or (loss_code == SQUARED_ERROR and output_code != SOFTMAX):
                    code = output_code if layer == last else hidden_code
                    multiply_derivative_range(code, acts, d, deltas, e, size)
                for i in range(rows):
                    si = offset(s + i * k)
                    ei = offset(e + i * n)
                    if i == 0:
                        for p in range(k):
                            a = acts[si + p]
                            row = w + p * n
                            for j in range(n):
                                grad[row + j] = a * deltas[ei + j]
                        if has_bias:
                            for j in range(n):
                                grad[b + j] = deltas[ei + j]
                    else:
                        for p in range(k):
                            a = acts[si + p]
                            row = w + p * n
                            for j in range(n):
                                grad[row + j] += a * deltas[ei + j]
                        if has_bias:
                            for j in range(n):
                                grad[b + j] += deltas[ei + j]
                if layer > 0:
                    below = offset(s - rows * n_in)
                    for i in range(rows):
                        ei = offset(e + i * n)
                        for p in range(k):
                            row = w + p * n
                            back = zero
                            for j in range(n):
                                back += deltas[ei + j] * params[row + j]
                            deltas[below + i * k + p] = back
                d = s

            penalties += penalize_and_step(l2, scale, params, grad, sizes, w_off, opt_code,
                                           opt_state, hyper, opt_step)
        if not record_epoch(epoch, total, penalties, n_samples, epoch_losses, epoch_penalties):
            return epoch + 1
    return n_epochs
