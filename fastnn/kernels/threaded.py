"""The batched path on several threads: each batch's rows, or the rows to predict, split into
``n_parts`` contiguous parts. Part p runs forward, loss and backward over its rows (fastnn.kernels.batched's
batch_loss_grad) into its own gradient buffer; then grad = sum of the parts' gradients, and
the penalty and optimizer update run over ``n_parts`` disjoint ranges of the parameters.

Two parallel loops per batch, no shared writes: ``numba.prange`` hands part p (and
parameter range p) to one thread. With numba's threads set to one, the same kernel runs the
parts one after another: the same arithmetic, to the bit, so a fit that switches between
threads and one thread compiles one kernel. Its serial twin (fastnn.kernels._jit.serial_twin, compiled
without the parallel loops, in less time) computes the same bits again.

The workspace: ``work = (grad, block_rows, grad_parts, scratch_parts, acts_parts,
deltas_parts, z_out_parts, x_buf_parts, t_buf_parts, w_buf_parts, part_sums)``: row p of
each ``*_parts`` array is part p's buffer of fastnn.kernels.batched's workspace, for blocks
of up to ``block_rows`` rows (n_parts = grad_parts.shape[0]); part_sums (2, n_parts) takes
the parts' loss and penalty sums.
"""
from numba import prange

from ._jit import kernel
from .batched import batch_loss_grad, forward_rows
from .updates import (batch_scale, batch_share, parameter_range, penalize_and_update,
                      record_epoch)


@kernel(parallel=True)
def train_threaded(net, params, opt, batches, work, out):
    """fastnn.kernels.batched.train_batched (same bundles, results, l2 penalty and update)
    with each batch's parts on threads."""
    X, T, weights, orders, batch_weights, batch_size, mean, l2 = batches
    (grad, block_rows, grad_parts, scratch_parts, acts_parts, deltas_parts, z_out_parts,
     x_buf_parts, t_buf_parts, w_buf_parts, part_sums) = work
    step = opt[3]
    n = X.shape[0]
    n_epochs = orders.shape[0]
    n_parts = grad_parts.shape[0]
    n_params = params.size
    shuffled = orders.shape[1] > 0
    part_losses = part_sums[0]
    part_penalties = part_sums[1]
    for epoch in range(n_epochs):
        order = orders[epoch]
        epoch_weights = batch_weights[epoch if shuffled else 0]
        total = 0.0
        penalties = 0.0
        weight_total = 0.0
        for batch in range(epoch_weights.size):
            start = batch * batch_size
            rows = min(batch_size, n - start)
            weight = epoch_weights[batch]
            if weight == 0:
                continue
            factor, counted = batch_share(mean, rows, weight)
            weight_total += counted
            scale = batch_scale(mean, weight)
            part_rows = (rows + n_parts - 1) // n_parts
            for part in prange(n_parts):
                first = start + min(part * part_rows, rows)
                stop = start + min((part + 1) * part_rows, rows)
                if stop > first:
                    part_work = (grad_parts[part], scratch_parts[part], block_rows,
                                 acts_parts[part], deltas_parts[part], z_out_parts[part],
                                 x_buf_parts[part], t_buf_parts[part], w_buf_parts[part])
                    part_losses[part] = batch_loss_grad(net, params, X, T, weights, order,
                                                        first, stop, stop - first, scale,
                                                        part_work)
                else:
                    part_losses[part] = 0.0
                    grad_parts[part, :] = 0
            step[0] += 1
            for part in prange(n_parts):
                lo, hi = parameter_range(part, n_parts, n_params)
                total_range = grad[lo:hi]  # views from 0: these loops vectorise
                first_part = grad_parts[0, lo:hi]
                for i in range(hi - lo):
                    total_range[i] = first_part[i]
                for other in range(1, n_parts):
                    other_part = grad_parts[other, lo:hi]
                    for i in range(hi - lo):
                        total_range[i] += other_part[i]
                part_penalties[part] = penalize_and_update(l2, scale, params, grad, net, opt,
                                                           lo, hi)
            batch_total = 0.0
            batch_penalty = 0.0  # the parts' sums, added in part order
            for part in range(n_parts):
                batch_total += part_losses[part]
                batch_penalty += part_penalties[part]
            total += factor * batch_total
            penalties += factor * batch_penalty
        if not record_epoch(epoch, total, penalties, weight_total, out):
            return epoch + 1
    return n_epochs


@kernel(parallel=True)
def forward_threaded(net, params, X, work, out):
    """fastnn.kernels.batched.forward_batched with the rows in ``n_parts`` contiguous parts,
    one per thread: ``work = (block_rows, acts_parts, z_out_parts)``, row p of each
    ``*_parts`` array part p's buffer for blocks of ``block_rows`` rows."""
    block_rows, acts_parts, z_out_parts = work
    n, n_in = X.shape
    width = out.shape[1]
    n_parts = acts_parts.shape[0]
    x = X.reshape(X.size)
    o = out.reshape(out.size)
    part_rows = (n + n_parts - 1) // n_parts
    for part in prange(n_parts):
        first = min(part * part_rows, n)
        stop = min(first + part_rows, n)
        forward_rows(net, params, x[first * n_in:stop * n_in], o[first * width:stop * width],
                     stop - first, block_rows, acts_parts[part], z_out_parts[part])


@kernel(parallel=True)
def thread_probe(out):
    """out[i] = i on numba's threads: a first parallel call, after which
    numba.threading_layer() says which layer runs them."""
    for i in prange(out.size):
        out[i] = i
