"""The batched path on several threads: each batch's rows split into ``n_parts`` contiguous
parts. Part p runs forward, loss and backward over its rows (fastnn.kernels.training's
batch_loss_grad) into its own gradient buffer; then grad = sum of the parts' gradients, and
the penalty and optimizer update run over ``n_parts`` disjoint ranges of the parameters.

Two parallel loops per batch, no shared writes: ``numba.prange`` hands part p (and
parameter range p) to one thread. fastnn.kernels.training.train_epochs with the same
``n_parts`` does the same arithmetic on one thread, to the bit.
"""
import numpy as np
from numba import prange

from .._jit import kernel
from .network import add_weight_penalty
from .training import batch_loss_grad
from .updates import apply_update, record_epoch


@kernel(parallel=True)
def train_parts(X, T, orders, shuffled, n_epochs, batch_size, mean_reduction, l2, params,
                grad, grad_parts, scratch_parts, sizes, w_off, b_off, hidden_code, output_code,
                loss_code, opt_code, opt_state, hyper, opt_step, block_rows, acts_parts,
                deltas_parts, z_out_parts, x_buf_parts, t_buf_parts, epoch_losses,
                epoch_penalties):
    """fastnn.kernels.training.train_epochs (same arguments, results, l2 penalty and update)
    with each batch split into grad_parts.shape[0] parts; buffer ``name_parts[p]`` is part
    p's ``name`` buffer, for blocks of up to ``block_rows`` rows.
    """
    n = X.shape[0]
    n_parts = grad_parts.shape[0]
    n_params = params.size
    span = (n_params + n_parts - 1) // n_parts
    one = params.dtype.type(1.0)
    half_l2 = 0.5 * l2
    part_losses = np.zeros(n_parts)
    part_squares = np.zeros(n_parts)
    for epoch in range(n_epochs):
        order = orders[epoch]
        total = 0.0
        penalties = 0.0
        for start in range(0, n, batch_size):
            rows = min(batch_size, n - start)
            scale = one / params.dtype.type(rows) if mean_reduction else one
            part_rows = (rows + n_parts - 1) // n_parts
            for part in prange(n_parts):
                first = start + min(part * part_rows, rows)
                stop = start + min((part + 1) * part_rows, rows)
                if stop > first:
                    part_losses[part] = batch_loss_grad(
                        X, T, order, shuffled, first, stop, stop - first, scale, params,
                        grad_parts[part],
                        scratch_parts[part], sizes, w_off, b_off, hidden_code, output_code,
                        loss_code, block_rows, acts_parts[part], deltas_parts[part],
                        z_out_parts[part], x_buf_parts[part], t_buf_parts[part])
                else:
                    part_losses[part] = 0.0
                    grad_parts[part, :] = 0
            step = opt_step[0] + 1
            for part in prange(n_parts):
                lo = min(part * span, n_params)
                hi = min(lo + span, n_params)
                total_range = grad[lo:hi]  # views from 0: these loops vectorise
                first_part = grad_parts[0, lo:hi]
                for i in range(hi - lo):
                    total_range[i] = first_part[i]
                for other in range(1, n_parts):
                    other_part = grad_parts[other, lo:hi]
                    for i in range(hi - lo):
                        total_range[i] += other_part[i]
                part_squares[part] = 0.0
                if l2 != 0:
                    part_squares[part] = add_weight_penalty(l2, scale, params, grad, sizes,
                                                            w_off, lo, hi)
                apply_update(opt_code, params, grad, opt_state, hyper, step, lo, hi)
            opt_step[0] = step
            batch_total = 0.0
            for part in range(n_parts):
                batch_total += part_losses[part]
                penalties += half_l2 * part_squares[part]
            total += batch_total
        if not record_epoch(epoch, total, penalties, n, epoch_losses, epoch_penalties):
            return epoch + 1
    return n_epochs


@kernel(parallel=True)
def thread_probe(out):
    """out[i] = i on numba's threads: a first parallel call, after which
    numba.threading_layer() says which layer runs them."""
    for i in prange(out.size):
        out[i] = i
