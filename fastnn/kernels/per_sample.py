"""The per-sample path: rows taken one at a time through forward, loss and backward, fused.

For one row (batch_size=1, or the rows of a tiny batch) a layer is a matrix-vector product of
a few dozen multiply-adds, and what costs is the overhead around it: a compiled call passing
arrays costs about 0.1 us (each array goes as 7 words, with reference counting), as does a
slice or view. So the whole row is one loop nest over flat buffers at offsets: no call that
takes an array, no slice, view, reshape or allocation per row or layer.

One row's layout in ``acts`` (at least sizes[0] + ... + sizes[L] long): the input row, then
the activations of layers 1..L; the output layer's pre-activation z is copied to ``z_out``.
``deltas`` holds dL/dz of layers 1..L, at the offsets of ``acts`` less sizes[0]. Parameters
are laid out as in fastnn.kernels.network (W_l at w_off[l], b_l at b_off[l], -1: no bias);
the gradient goes straight into the flat ``grad`` buffer. Formulas: fastnn._registry.
"""
import numpy as np

from .._jit import kernel
from .elementary import vexp, vtanh
from .._registry import (BINARY_CROSS_ENTROPY, CROSS_ENTROPY, LEAKY_RELU, LEAKY_RELU_SLOPE,
                         LINEAR, RELU, SIGMOID, SOFTMAX, SQUARED_ERROR, TANH)

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


@kernel(inline=True)
def rows_loss_grad(X, T, order, shuffled, start, stop, scale, params, grad, sizes, w_off,
                   b_off, hidden_code, output_code, loss_code, acts, deltas, z_out):
    """grad = scale * gradient of the loss summed over rows start..stop (row order[i] when
    ``shuffled``), taken one at a time; returns that sum (float64).

    Forward, layer l: z_j = b_j + sum_p a_p W[p, j], a = f(z). Backward from the output
    delta = scale * dL/dz: dW[p, j] += a_p delta_j, db_j += delta_j, and the layer below
    gets delta_p = f'(z_p) sum_j delta_j W[p, j] (W before the update).
    """
    zero = params.dtype.type(0.0)
    one = params.dtype.type(1.0)
    half = params.dtype.type(0.5)
    slope = params.dtype.type(LEAKY_RELU_SLOPE)
    n_layers = sizes.size - 1
    last = n_layers - 1
    n_in = offset(sizes[0])
    n_out = offset(sizes[n_layers])
    top = 0  # where the output layer starts in acts
    for layer in range(n_layers):
        top += sizes[layer]
    top = offset(top)
    total = 0.0
    for i in range(start, stop):
        r = order[i] if shuffled else i
        for p in range(n_in):
            acts[p] = X[r, p]

        # Forward.
        s = 0
        for layer in range(n_layers):
            k = offset(sizes[layer])
            n = offset(sizes[layer + 1])
            w = offset(w_off[layer])
            b = offset(b_off[layer])
            has_bias = b_off[layer] >= 0
            d = offset(s + k)
            if n >= NARROW:
                for j in range(n):
                    acts[d + j] = params[b + j] if has_bias else zero
                for p in range(k):
                    a = acts[s + p]
                    row = w + p * n
                    for j in range(n):
                        acts[d + j] += a * params[row + j]
            else:
                j = 0
                while j + 4 <= n:
                    z0 = params[b + j] if has_bias else zero
                    z1 = params[b + j + 1] if has_bias else zero
                    z2 = params[b + j + 2] if has_bias else zero
                    z3 = params[b + j + 3] if has_bias else zero
                    at = w + j
                    for p in range(k):
                        a = acts[s + p]
                        z0 += a * params[at]
                        z1 += a * params[at + 1]
                        z2 += a * params[at + 2]
                        z3 += a * params[at + 3]
                        at += n
                    acts[d + j] = z0
                    acts[d + j + 1] = z1
                    acts[d + j + 2] = z2
                    acts[d + j + 3] = z3
                    j += 4
                while j < n:
                    z = params[b + j] if has_bias else zero
                    at = w + j
                    for p in range(k):
                        z += acts[s + p] * params[at]
                        at += n
                    acts[d + j] = z
                    j += 1
            if layer == last:
                for j in range(n):
                    z_out[j] = acts[d + j]
            code = output_code if layer == last else hidden_code
            if code == SIGMOID:
                for j in range(d, d + n):
                    acts[j] = one / (one + vexp(-acts[j]))
            elif code == TANH:
                for j in range(d, d + n):
                    acts[j] = vtanh(acts[j])
            elif code == RELU:
                for j in range(d, d + n):
                    acts[j] = acts[j] if acts[j] > zero else zero
            elif code == LEAKY_RELU:
                for j in range(d, d + n):
                    acts[j] = acts[j] if acts[j] > zero else slope * acts[j]
            elif code == SOFTMAX:
                peak = acts[d]
                for j in range(d + 1, d + n):
                    peak = max(peak, acts[j])
                sum_exp = zero
                for j in range(d, d + n):
                    acts[j] = vexp(acts[j] - peak)
                    sum_exp += acts[j]
                for j in range(d, d + n):
                    acts[j] = acts[j] / sum_exp
            # LINEAR: a = z.
            s = d

        # Loss and output delta (formulas of fastnn.kernels.losses.loss_and_delta).
        e = offset(top - n_in)
        if loss_code == BINARY_CROSS_ENTROPY:
            for j in range(n_out):
                z = z_out[j]
                total += max(z, zero) + np.log1p(vexp(-abs(z))) - T[r, j] * z
                deltas[e + j] = scale * (acts[top + j] - T[r, j])
        elif loss_code == CROSS_ENTROPY:
            peak = z_out[0]
            for j in range(1, n_out):
                peak = max(peak, z_out[j])
            sum_exp = zero
            for j in range(n_out):
                sum_exp += vexp(z_out[j] - peak)
            log_sum_exp = peak + np.log(sum_exp)
            target_sum = zero
            for j in range(n_out):
                total += T[r, j] * (log_sum_exp - z_out[j])
                target_sum += T[r, j]
            for j in range(n_out):
                deltas[e + j] = scale * (acts[top + j] * target_sum - T[r, j])
        else:  # SQUARED_ERROR; f'(z) of an elementwise output is applied below
            for j in range(n_out):
                error = acts[top + j] - T[r, j]
                total += half * error * error
                deltas[e + j] = scale * error
            if output_code == SOFTMAX:
                weighted = zero
                for j in range(n_out):
                    weighted += deltas[e + j] * acts[top + j]
                for j in range(n_out):
                    deltas[e + j] = acts[top + j] * (deltas[e + j] - weighted)

        # Backward.
        d = top
        for layer in range(last, -1, -1):
            k = offset(sizes[layer])
            n = offset(sizes[layer + 1])
            w = offset(w_off[layer])
            b = offset(b_off[layer])
            has_bias = b_off[layer] >= 0
            s = offset(d - k)
            e = offset(d - n_in)
            if layer < last or (loss_code == SQUARED_ERROR and output_code != SOFTMAX):
                code = output_code if layer == last else hidden_code
                if code == SIGMOID:
                    for j in range(n):
                        deltas[e + j] *= acts[d + j] * (one - acts[d + j])
                elif code == TANH:
                    for j in range(n):
                        deltas[e + j] *= one - acts[d + j] * acts[d + j]
                elif code == RELU:
                    for j in range(n):
                        deltas[e + j] = deltas[e + j] if acts[d + j] > zero else zero
                elif code == LEAKY_RELU:
                    for j in range(n):
                        deltas[e + j] = deltas[e + j] if acts[d + j] > zero else slope * deltas[e + j]
                # LINEAR: f' = 1.
            if i == start:
                for p in range(k):
                    a = acts[s + p]
                    row = w + p * n
                    for j in range(n):
                        grad[row + j] = a * deltas[e + j]
                if has_bias:
                    for j in range(n):
                        grad[b + j] = deltas[e + j]
            else:
                for p in range(k):
                    a = acts[s + p]
                    row = w + p * n
                    for j in range(n):
                        grad[row + j] += a * deltas[e + j]
                if has_bias:
                    for j in range(n):
                        grad[b + j] += deltas[e + j]
            if layer > 0:
                below = offset(s - n_in)
                for p in range(k):
                    row = w + p * n
                    back = zero
                    for j in range(n):
                        back += deltas[e + j] * params[row + j]
                    deltas[below + p] = back
            d = s
    return total
