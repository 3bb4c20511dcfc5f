"""The per-sample path: forward, loss and backward of a batch of a few rows (one for
batch_size=1, or a tiny full batch), fused into one loop nest.

For so few rows a layer is a few dozen multiply-adds, and what costs is the overhead around
it: a compiled call passing arrays (each array goes as 7 words) costs as much as the work.
So here everything is a plain loop over flat buffers at offsets: no slice, view, reshape or
allocation per row or layer, and the shared formulas (fastnn.kernels.activations, .losses,
.updates) inlined by numba rather than called (but softmax); activations, their derivatives
and the loss
run over a whole layer of the batch at once (vectorised, with fastnn.kernels.elementary's exp
and tanh).

Each layer is updated as soon as its backward has passed the deltas down (computed with W
before its update), so a batch of one row never stores its weight gradient: dW = a x delta
goes into the optimizer's rule as the outer product it is (fastnn.kernels.updates.
update_rows), and the parameters, the gradient and the optimizer's state are not read and
written in two passes over all of them.

The workspace: ``work = (grad, acts, deltas, z_out, t_buf, w_buf, unit)``, for a batch of
``rows`` rows, each part row after row: ``acts`` (at least rows * (sizes[0] + ... +
sizes[L]) long) holds the input rows, then the activations of layers 1..L; ``z_out`` the
output layer's pre-activation z; ``deltas`` dL/dz of layers 1..L, at the offsets of
``acts`` less rows * sizes[0]; ``t_buf`` and ``w_buf`` the batch's target rows and row
weights; ``unit`` = [1], the coefficient of gradient rows that are not an outer product
(biases, and the sums over a batch of several rows, which go into the flat ``grad``
buffer). Parameters are laid out as in fastnn.kernels.batched (W_l at w_off[l], b_l at
b_off[l], -1: no bias).
"""
from . import activations, losses, updates
from ._jit import inlined, kernel
from .codes import COMPILED_ACTIVATIONS, SOFTMAX
from .losses import delta_needs_derivative
from .updates import batch_scale, batch_share, record_epoch

activate = inlined(activations.activate)
multiply_derivative = inlined(activations.multiply_derivative)
loss_rows = inlined(losses.loss_rows)
update_rows = updates.update_rows
softmax_rows = activations.softmax_rows
"""The formulas every batch runs, inlined (update_rows is inlined wherever it is called);
softmax, which only a softmax output runs, called (an inlined copy in this large kernel took
longer to compile than a kernel of its own)."""

NARROW = 16
"""Layers narrower than this compute z four columns at a time with the sums in registers (a
column loop that short does not vectorise, and adding into z row by row goes through memory);
wider layers add each row of W into z with a vectorised loop."""


@kernel(entry=True)
def train_per_sample(net, params, opt, batches, work, out):
    """fastnn.kernels.batched.train_batched for batches of a few rows: the same bundles,
    results, l2 penalty and update, layer by layer (update_rows, with the l2 penalty's
    gradient l2 * scale * W in its rule).

    Per batch: grad = scale * gradient of the weighted loss summed over its rows. Forward,
    layer l: z_j = b_j + sum_p a_p W[p, j], a = f(z). Backward from the output delta = scale
    w dL/dz: dW[p, j] = sum over rows of a_p delta_j, db_j = sum of delta_j, and the layer
    below gets delta_p = f'(z_p) sum_j delta_j W[p, j] (W before the update).
    """
    sizes, w_off, b_off, activations, loss = net
    X, T, weights, orders, batch_weights, batch_size, mean, l2 = batches
    step = opt[3]
    grad, acts, deltas, z_out, t_buf, w_buf, unit = work
    zero = params.dtype.type(0.0)
    n_layers = sizes.size - 1
    last = n_layers - 1
    output = activations[last]
    n_in = max(sizes[0], 0)
    n_out = max(sizes[n_layers], 0)
    n_samples = X.shape[0]
    n_epochs = orders.shape[0]
    shuffled = orders.shape[1] > 0
    for epoch in range(n_epochs):
        order = orders[epoch]
        epoch_weights = batch_weights[epoch if shuffled else 0]
        total = 0.0
        penalties = 0.0
        weight_total = 0.0
        for batch in range(epoch_weights.size):
            start = batch * batch_size
            stop = min(start + batch_size, n_samples)
            weight = epoch_weights[batch]
            if weight == 0:
                continue
            rows = max(stop - start, 0)
            factor, counted = batch_share(mean, rows, weight)
            weight_total += counted
            scale = batch_scale(mean, weight)
            l2_factor = params.dtype.type(scale * l2)
            step[0] += 1  # the optimizer's step number, which the updates below take
            for i in range(rows):
                r = order[start + i] if shuffled else start + i
                for p in range(n_in):
                    acts[i * n_in + p] = X[r, p]
                for j in range(n_out):
                    t_buf[i * n_out + j] = T[r, j]
                w_buf[i] = weights[r]

            # Forward.
            s = 0
            for layer in range(n_layers):
                k = max(sizes[layer], 0)
                n = max(sizes[layer + 1], 0)
                w = max(w_off[layer], 0)
                b = max(b_off[layer], 0)
                has_bias = b_off[layer] >= 0
                d = max(s + rows * k, 0)
                for i in range(rows):
                    si = max(s + i * k, 0)
                    di = max(d + i * n, 0)
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
                code = activations[layer]
                if SOFTMAX in COMPILED_ACTIVATIONS and code == SOFTMAX:
                    softmax_rows(acts, d, rows, n)
                else:
                    activate(code, acts, d, size)
                s = d

            # Loss and output delta (fastnn.kernels.losses).
            top = s
            total += factor * loss_rows(loss, output, z_out, acts, top, t_buf, w_buf, deltas,
                                        top - rows * n_in, rows, n_out, scale)

            # Backward.
            d = top
            for layer in range(last, -1, -1):
                k = max(sizes[layer], 0)
                n = max(sizes[layer + 1], 0)
                w = max(w_off[layer], 0)
                b = max(b_off[layer], 0)
                has_bias = b_off[layer] >= 0
                s = max(d - rows * k, 0)
                e = max(d - rows * n_in, 0)
                size = rows * n
                if layer < last or delta_needs_derivative(loss, output):
                    multiply_derivative(activations[layer], acts, d, deltas, e, size)
                if layer > 0:  # the layer below's deltas, from W before its update
                    below = max(s - rows * n_in, 0)
                    for i in range(rows):
                        ei = max(e + i * n, 0)
                        for p in range(k):
                            row = w + p * n
                            back = zero
                            for j in range(n):
                                back += deltas[ei + j] * params[row + j]
                            deltas[below + i * k + p] = back
                for i in range(rows if rows > 1 else 0):  # dW and db summed over the rows
                    si = max(s + i * k, 0)
                    ei = max(e + i * n, 0)
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
                if l2 != 0:  # 1/2 l2 ||W||^2, W before its update
                    squares = 0.0
                    for q in range(k * n):
                        squares += params[w + q] * params[w + q]
                    penalties += factor * 0.5 * l2 * squares
                for part in range(2 if has_bias else 1):  # W, then the bias
                    of_w = part == 0
                    outer = rows == 1 and of_w  # dW = a x delta, never stored
                    update_rows(opt, params, w if of_w else b, k if of_w else 1, n,
                                acts if outer else unit, s if outer else 0, 1 if outer else 0,
                                deltas if rows == 1 else grad,
                                e if rows == 1 else (w if of_w else b),
                                n if rows > 1 and of_w else 0,
                                l2_factor if of_w else zero)
                d = s

        if not record_epoch(epoch, total, penalties, weight_total, out):
            return epoch + 1
    return n_epochs
