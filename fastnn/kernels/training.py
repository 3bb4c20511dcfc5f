"""Whole passes over the data in one compiled call: forward, loss_and_grad and training epochs.

X (n x sizes[0]) and T (n x sizes[-1]) are C-contiguous in the model's dtype. Rows are taken
in ``order`` when ``shuffled``, else in storage order. Training batches of a few rows, and
of many rows through narrow layers, have kernels of their own (fastnn.kernels.per_sample,
fastnn.kernels.narrow; fastnn.model chooses); here, blocks of one row take plain loops (no
BLAS call), larger blocks the batched path.
"""
from .._jit import kernel
from .narrow import forward_narrow, narrow_fits
from .network import add_weight_penalty, block_start, forward_block, loss_grad_block
from .updates import apply_update, record_epoch


@kernel
def forward_rows(X, params, sizes, w_off, b_off, hidden_code, output_code,
                 block_rows, acts, z_out, out):
    """out = output activations of the network for every row of X."""
    if narrow_fits(X.shape[0], sizes):
        forward_narrow(X, params, sizes, w_off, b_off, hidden_code, output_code, out)
        return
    n, n_in = X.shape
    n_layers = sizes.size - 1
    width = sizes[n_layers]
    x = X.reshape(X.size)
    o = out.reshape(out.size)
    last = block_start(sizes, block_rows, n_layers)
    for start in range(0, n, block_rows):
        rows = min(block_rows, n - start)
        forward_block(x[start * n_in:(start + rows) * n_in], rows, block_rows, params, sizes,
                      w_off, b_off, hidden_code, output_code, block_rows, acts, z_out)
        o[start * width:(start + rows) * width] = acts[last:last + rows * width]


@kernel
def batch_loss_grad(X, T, order, shuffled, start, stop, part_rows, scale, params, grad, scratch,
                    sizes, w_off, b_off, hidden_code, output_code, loss_code, block_rows, acts,
                    deltas, z_out, x_buf, t_buf):
    """grad = scale * gradient of the loss summed over rows start..stop; returns that sum.

    The rows go in parts of ``part_rows`` whose gradients and losses are summed in order
    (fastnn.kernels.network.loss_grad_block), in blocks of whole parts of at most
    ``block_rows`` rows (the buffers' size), or blocks of ``block_rows`` when a part is longer.
    """
    n_in = X.shape[1]
    n_out = T.shape[1]
    x = X.reshape(X.size)
    t = T.reshape(T.size)
    part_rows = min(part_rows, block_rows)
    step = part_rows * (block_rows // part_rows)
    total = 0.0
    for block in range(start, stop, step):
        rows = min(step, stop - block)
        if not shuffled:
            xb = x[block * n_in:(block + rows) * n_in]
            tb = t[block * n_out:(block + rows) * n_out]
        elif rows == 1:
            r = order[block]
            xb = x[r * n_in:(r + 1) * n_in]
            tb = t[r * n_out:(r + 1) * n_out]
        else:
            for i in range(rows):
                r = order[block + i]
                x_buf[i * n_in:(i + 1) * n_in] = x[r * n_in:(r + 1) * n_in]
                t_buf[i * n_out:(i + 1) * n_out] = t[r * n_out:(r + 1) * n_out]
            xb = x_buf[:rows * n_in]
            tb = t_buf[:rows * n_out]
        total = loss_grad_block(xb, tb, rows, part_rows, scale, block != start, total, params,
                                grad, scratch, sizes, w_off, b_off, hidden_code, output_code,
                                loss_code, block_rows, acts, deltas, z_out)
    return total


@kernel
def train_epochs(X, T, orders, shuffled, n_epochs, batch_size, mean_reduction, l2, params,
                 grad, scratch, sizes, w_off, b_off, hidden_code, output_code, loss_code,
                 opt_code, opt_state, hyper, opt_step, block_rows, acts, deltas, z_out, x_buf,
                 t_buf, epoch_losses, epoch_penalties, n_parts):
    """Train ``n_epochs`` epochs on the batched path; epoch e takes rows in orders[e] when
    shuffled. (fastnn.model sends batches of many rows through narrow layers to
    fastnn.kernels.narrow and batches of a few rows to fastnn.kernels.per_sample instead,
    which take the same arguments and give the same results; choosing there, in Python,
    compiles each path only when a model needs it.)

    A batch's loss is the sum of its per-sample losses plus 1/2 l2 sum ||W||^2 (weights
    only), taken before its update; the gradient is scale (1/batch size for the mean
    reduction, else 1) times its derivative. epoch_losses[e] = sum of epoch e's batch losses
    / n, epoch_penalties[e] = the penalty part of it. Stops after the first epoch whose loss
    is not finite and returns the number of epochs run.

    Each batch is summed in ``n_parts`` parts of its rows (and its penalty over as many
    ranges of the parameters): one thread's share each in fastnn.kernels.parallel, whose
    results this reproduces bit for bit on one thread.
    """
    n = X.shape[0]
    n_params = params.size
    span = (n_params + n_parts - 1) // n_parts
    one = params.dtype.type(1.0)
    half_l2 = 0.5 * l2
    for epoch in range(n_epochs):
        order = orders[epoch]
        total = 0.0
        penalties = 0.0
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            scale = one / params.dtype.type(stop - start) if mean_reduction else one
            part_rows = (stop - start + n_parts - 1) // n_parts
            total += batch_loss_grad(X, T, order, shuffled, start, stop, part_rows, scale,
                                     params, grad, scratch, sizes, w_off, b_off, hidden_code,
                                     output_code, loss_code, block_rows, acts, deltas, z_out,
                                     x_buf, t_buf)
            if l2 != 0:
                for part in range(n_parts):
                    lo = min(part * span, n_params)
                    penalties += half_l2 * add_weight_penalty(l2, scale, params, grad, sizes,
                                                              w_off, lo, min(lo + span, n_params))
            opt_step[0] += 1
            apply_update(opt_code, params, grad, opt_state, hyper, opt_step[0], 0, n_params)
        if not record_epoch(epoch, total, penalties, n, epoch_losses, epoch_penalties):
            return epoch + 1
    return n_epochs
