"""The batched path: blocks of rows, row-major, each layer's products by BLAS or register-
blocked loops (fastnn.kernels.dense).

Parameters live in one flat buffer: layer l's weights W_l (sizes[l] x sizes[l+1], row-major)
start at w_off[l], its bias at b_off[l] (-1: no bias). Activations and deltas of layers
1..L for a block of up to ``block_rows`` rows live in flat buffers, layer after layer.
Inputs, targets and blocks are flat C-contiguous slices, reshaped to (rows, width) views.

The workspace: ``work = (grad, scratch, block_rows, acts, deltas, z_out, x_buf, t_buf,
w_buf)``: the gradient, a parameter-shaped scratch buffer, the block size, the activation,
delta and output-z buffers of a block, and buffers that gather a block's shuffled input,
target and weight rows.

The kernels that orchestrate a block (forward_block, loss_grad_block, forward_rows) are
inlined into their callers (fastnn.kernels._jit says why); batch_loss_grad is not, as the
threaded path calls it inside a parallel loop, which numba cannot inline into. The leaves
(fastnn.kernels.dense, .activations, .losses, .updates) stay calls.
"""
import numpy as np

from ._jit import kernel
from .activations import activate, multiply_derivative, softmax_rows
from .buffers import copy
from .codes import COMPILED_ACTIVATIONS, SOFTMAX
from .dense import dense_backward, dense_forward
from .losses import delta_needs_derivative, loss_rows
from .updates import loss_and_gradient, train_epochs


@kernel(inline=True)
def layer_weights(params, net, layer):
    """View of W_layer (sizes[layer] x sizes[layer+1]) in a flat parameter-shaped buffer."""
    sizes, w_off, _, _, _ = net
    k = sizes[layer]
    n = sizes[layer + 1]
    start = w_off[layer]
    return params[start:start + k * n].reshape((k, n))


@kernel(inline=True)
def layer_bias(params, net, layer):
    """View of b_layer, or an empty view when the network has no bias."""
    sizes, _, b_off, _, _ = net
    if b_off[layer] < 0:
        return params[0:0]
    start = b_off[layer]
    return params[start:start + sizes[layer + 1]]


@kernel
def block_start(sizes, block_rows, layer):
    """Where layer ``layer`` (1..L) starts in an activation or delta buffer."""
    start = 0
    for j in range(1, layer):
        start += block_rows * sizes[j]
    return start


@kernel(inline=True)
def forward_block(net, params, x, rows, part_rows, block_rows, acts, z_out, first_layer):
    """Activations of every layer for ``rows`` input rows (flat x), each row as if in a part
    of ``part_rows`` rows (fastnn.kernels.dense.dense_forward); output z kept in z_out.

    ``first_layer``: the first layer whose product this computes (0; 1 when the caller wrote
    layer 0's z = x W_0 + b_0 into its place, acts or z_out, itself: fastnn.kernels.sparse,
    whose x is not dense; x is then not read)."""
    sizes, _, _, activations, _ = net
    n_layers = sizes.size - 1
    for layer in range(n_layers):
        width = sizes[layer + 1]
        start = block_start(sizes, block_rows, layer + 1)
        a_flat = acts[start:start + rows * width]
        last = layer == n_layers - 1
        z_flat = z_out[:rows * width] if last else a_flat
        if layer >= first_layer:
            if layer == 0:
                a_in = x.reshape((rows, sizes[0]))
            else:
                in_width = sizes[layer]
                in_start = block_start(sizes, block_rows, layer)
                a_in = acts[in_start:in_start + rows * in_width].reshape((rows, in_width))
            dense_forward(a_in, layer_weights(params, net, layer),
                          layer_bias(params, net, layer), z_flat.reshape((rows, width)),
                          part_rows)
        if last:
            copy(z_flat, a_flat)
        code = activations[layer]
        if SOFTMAX in COMPILED_ACTIVATIONS and code == SOFTMAX:
            softmax_rows(a_flat, np.int64(0), rows, width)
        else:
            activate(code, a_flat, 0, rows * width)


@kernel(inline=True)
def loss_grad_block(net, params, grad, scratch, x, t, w, rows, part_rows, scale, accumulate,
                    total, block_rows, acts, deltas, z_out, first_layer):
    """Forward, loss and backward for one block; grad (+)= scale * d(weighted loss sum)/
    d(params).

    The block's rows go in parts of ``part_rows`` (fastnn.kernels.dense.dense_backward): the
    gradient and the loss are summed part by part, as threads that each take one part sum
    them. Returns ``total`` (float64) plus the parts' weighted loss sums, added in order.
    ``first_layer`` as forward_block's: with 1, layer 0's z is the caller's, and so is its
    gradient, from layer 0's delta (dL/dz_0, left in the deltas buffer at 0).
    """
    sizes, _, _, activations, loss = net
    forward_block(net, params, x, rows, part_rows, block_rows, acts, z_out, first_layer)
    n_layers = sizes.size - 1
    output = activations[n_layers - 1]
    width = sizes[n_layers]
    start = block_start(sizes, block_rows, n_layers)
    for first in range(0, rows, part_rows):
        stop = min(first + part_rows, rows)
        lo = first * width
        hi = stop * width
        total += loss_rows(loss, output, z_out[lo:hi], acts[start + lo:start + hi], 0, t[lo:hi],
                           w[first:stop], deltas[start + lo:start + hi], 0, stop - first,
                           width, scale)
    if delta_needs_derivative(loss, output):
        multiply_derivative(output, acts[start:start + rows * width], 0,
                            deltas[start:start + rows * width], 0, rows * width)
    for layer in range(n_layers - 1, first_layer - 1, -1):
        width = sizes[layer + 1]
        start = block_start(sizes, block_rows, layer + 1)
        D = deltas[start:start + rows * width].reshape((rows, width))
        W = layer_weights(params, net, layer)
        dW = layer_weights(grad, net, layer)
        db = layer_bias(grad, net, layer)
        dW_part = layer_weights(scratch, net, layer)
        db_part = layer_bias(scratch, net, layer)
        if layer == 0:  # no delta into the input: D_in is not written
            A = x.reshape((rows, sizes[0]))
            D_in = D
        else:
            in_width = sizes[layer]
            in_start = block_start(sizes, block_rows, layer)
            a_flat = acts[in_start:in_start + rows * in_width]
            d_flat = deltas[in_start:in_start + rows * in_width]
            A = a_flat.reshape((rows, in_width))
            D_in = d_flat.reshape((rows, in_width))
        # one compiled dense_backward for every layer: a literal flag would compile two
        dense_backward(A, D, W, dW, db, D_in, dW_part, db_part, accumulate, layer > 0, part_rows)
        if layer > 0:
            multiply_derivative(activations[layer - 1], a_flat, 0, d_flat, 0, a_flat.size)
    return total


@kernel
def batch_loss_grad(net, params, X, T, weights, order, start, stop, part_rows, scale, work):
    """grad = scale * gradient of the weighted loss summed over rows start..stop of the epoch
    (taken in ``order`` when it is not empty); returns that sum.

    The rows go in parts of ``part_rows`` whose gradients and losses are summed in order
    (loss_grad_block), in blocks of whole parts of at most ``block_rows`` rows (the buffers'
    size), or blocks of ``block_rows`` when a part is longer.
    """
    grad, scratch, block_rows, acts, deltas, z_out, x_buf, t_buf, w_buf = work
    n_in = X.shape[1]
    n_out = T.shape[1]
    x = X.reshape(X.size)
    t = T.reshape(T.size)
    shuffled = order.size > 0
    part_rows = min(part_rows, block_rows)
    step = part_rows * (block_rows // part_rows)
    total = 0.0
    for block in range(start, stop, step):
        rows = min(step, stop - block)
        if not shuffled:
            xb = x[block * n_in:(block + rows) * n_in]
            tb = t[block * n_out:(block + rows) * n_out]
            wb = weights[block:block + rows]
        elif rows == 1:
            r = order[block]
            xb = x[r * n_in:(r + 1) * n_in]
            tb = t[r * n_out:(r + 1) * n_out]
            wb = weights[r:r + 1]
        else:
            for i in range(rows):
                r = order[block + i]
                copy(x[r * n_in:(r + 1) * n_in], x_buf[i * n_in:])
                copy(t[r * n_out:(r + 1) * n_out], t_buf[i * n_out:])
                w_buf[i] = weights[r]
            xb = x_buf[:rows * n_in]
            tb = t_buf[:rows * n_out]
            wb = w_buf[:rows]
        total = loss_grad_block(net, params, grad, scratch, xb, tb, wb, rows, part_rows, scale,
                                block != start, total, block_rows, acts, deltas, z_out, 0)
    return total


@kernel(inline=True)
def whole_batch_loss_grad(net, params, X, T, weights, order, start, stop, scale, work):
    """batch_loss_grad of rows order[start:stop] as one part: the batch function of
    fastnn.kernels.updates.train_epochs and loss_and_gradient."""
    return batch_loss_grad(net, params, X, T, weights, order, start, stop, stop - start, scale,
                           work)


@kernel(entry=True)
def train_batched(net, params, opt, batches, work, out):
    """Train len(orders) epochs on the batched path (fastnn.kernels.updates.train_epochs:
    the bundles, results, l2 penalty and update every path shares). Returns the number of
    epochs run."""
    return train_epochs(whole_batch_loss_grad, net, params, opt, batches, work, out)


@kernel(entry=True)
def loss_grad_batched(net, params, batches, work):
    """One batch of every row of X in storage order (fastnn.kernels.updates.
    loss_and_gradient): grad = scale * the gradient of its weighted loss sum plus the l2
    penalty. Returns (weighted loss sum, penalty, weight)."""
    return loss_and_gradient(whole_batch_loss_grad, net, params, batches, work)


@kernel(entry=True)
def forward_batched(net, params, X, work, out):
    """out = output activations of the network for every row of X, block by block;
    ``work = (block_rows, acts, z_out)``, as the training workspace's."""
    block_rows, acts, z_out = work
    forward_rows(net, params, X.reshape(X.size), out.reshape(out.size), X.shape[0],
                 block_rows, acts, z_out)


@kernel(inline=True)
def forward_rows(net, params, x, o, n, block_rows, acts, z_out):
    """o = output activations of the ``n`` rows stored flat in x (sizes[0] values each), in
    blocks of ``block_rows`` rows."""
    sizes = net[0]
    n_in = sizes[0]
    n_layers = sizes.size - 1
    width = sizes[n_layers]
    last = block_start(sizes, block_rows, n_layers)
    for start in range(0, n, block_rows):
        rows = min(block_rows, n - start)
        forward_block(net, params, x[start * n_in:(start + rows) * n_in], rows, block_rows,
                      block_rows, acts, z_out, 0)
        copy(acts[last:last + rows * width], o[start * width:])
