"""Forward and backward through every layer for a block of rows.

Parameters live in one flat buffer: layer l's weights W_l (sizes[l] x sizes[l+1], row-major)
start at w_off[l], its bias at b_off[l] (-1: no bias). Activations and deltas of layers
1..L for a block of up to ``block_rows`` rows live in flat buffers, layer after layer.
Inputs, targets and blocks are flat C-contiguous slices, reshaped to (rows, width) views.
"""
from .._jit import kernel
from .activations import activate, multiply_derivative
from .dense import dense_backward, dense_forward
from .losses import loss_and_delta


@kernel
def layer_weights(params, sizes, w_off, layer):
    """View of W_layer (sizes[layer] x sizes[layer+1]) in a flat parameter-shaped buffer."""
    k = sizes[layer]
    n = sizes[layer + 1]
    start = w_off[layer]
    return params[start:start + k * n].reshape((k, n))


@kernel
def layer_bias(params, sizes, b_off, layer):
    """View of b_layer, or an empty view when the network has no bias."""
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


@kernel
def add_weight_penalty(l2, scale, params, grad, sizes, w_off, lo, hi):
    """grad_W += scale * l2 * W for the weights of every layer (biases are left alone) among
    parameters lo..hi-1: the gradient of the penalty 1/2 l2 sum ||W||^2. Returns their sum
    of W^2 (float64)."""
    factor = scale * l2
    squares = 0.0
    for layer in range(sizes.size - 1):
        start = max(w_off[layer], lo)
        stop = min(w_off[layer] + sizes[layer] * sizes[layer + 1], hi)
        if stop > start:
            # over views from 0, as fastnn.kernels.updates: 7.6 us -> 1.0 us for W6's 17k
            w = params[start:stop]
            g = grad[start:stop]
            for i in range(stop - start):
                squares += w[i] * w[i]
                g[i] += factor * w[i]
    return squares


@kernel
def forward_block(x, rows, part_rows, params, sizes, w_off, b_off, hidden_code, output_code,
                  block_rows, acts, z_out):
    """Activations of every layer for ``rows`` input rows (flat x), each row as if in a part
    of ``part_rows`` rows (fastnn.kernels.dense.dense_forward); output z kept in z_out."""
    n_layers = sizes.size - 1
    a_in = x.reshape((rows, sizes[0]))
    for layer in range(n_layers):
        width = sizes[layer + 1]
        start = block_start(sizes, block_rows, layer + 1)
        a_flat = acts[start:start + rows * width]
        W = layer_weights(params, sizes, w_off, layer)
        b = layer_bias(params, sizes, b_off, layer)
        if layer < n_layers - 1:
            dense_forward(a_in, W, b, a_flat.reshape((rows, width)), part_rows)
            activate(hidden_code, a_flat, a_flat, width)
            a_in = a_flat.reshape((rows, width))
        else:
            z_flat = z_out[:rows * width]
            dense_forward(a_in, W, b, z_flat.reshape((rows, width)), part_rows)
            activate(output_code, z_flat, a_flat, width)


@kernel
def loss_grad_block(x, t, rows, part_rows, scale, accumulate, total, params, grad, scratch,
                    sizes, w_off, b_off, hidden_code, output_code, loss_code, block_rows, acts,
                    deltas, z_out):
    """Forward, loss and backward for one block; grad (+)= scale * d(loss sum)/d(params).

    The block's rows go in parts of ``part_rows`` (fastnn.kernels.dense.dense_backward): the
    gradient and the loss are summed part by part, as threads that each take one part sum
    them. Returns ``total`` (float64) plus the parts' loss sums, added in order.
    """
    forward_block(x, rows, part_rows, params, sizes, w_off, b_off, hidden_code, output_code,
                  block_rows, acts, z_out)
    n_layers = sizes.size - 1
    width = sizes[n_layers]
    start = block_start(sizes, block_rows, n_layers)
    for first in range(0, rows, part_rows):
        lo = first * width
        hi = min(first + part_rows, rows) * width
        total += loss_and_delta(loss_code, output_code, z_out[lo:hi],
                                acts[start + lo:start + hi], t[lo:hi],
                                deltas[start + lo:start + hi], width, scale)
    for layer in range(n_layers - 1, -1, -1):
        width = sizes[layer + 1]
        start = block_start(sizes, block_rows, layer + 1)
        D = deltas[start:start + rows * width].reshape((rows, width))
        W = layer_weights(params, sizes, w_off, layer)
        dW = layer_weights(grad, sizes, w_off, layer)
        db = layer_bias(grad, sizes, b_off, layer)
        dW_part = layer_weights(scratch, sizes, w_off, layer)
        db_part = layer_bias(scratch, sizes, b_off, layer)
        if layer == 0:
            A = x.reshape((rows, sizes[0]))
            dense_backward(A, D, W, dW, db, D, dW_part, db_part, accumulate, False, part_rows)
        else:
            in_width = sizes[layer]
            in_start = block_start(sizes, block_rows, layer)
            a_flat = acts[in_start:in_start + rows * in_width]
            d_flat = deltas[in_start:in_start + rows * in_width]
            dense_backward(a_flat.reshape((rows, in_width)), D, W, dW, db,
                           d_flat.reshape((rows, in_width)), dW_part, db_part, accumulate, True,
                           part_rows)
            multiply_derivative(hidden_code, a_flat, d_flat)
    return total
