"""Stacks of K networks of one architecture (fastnn.MLPStack), trained in one compiled call.

Each model trains exactly as it would alone: model k runs its path's training kernel
(fastnn.kernels.per_sample, .narrow, .batched) with its own parameters, optimizer state,
row orders and weights, so it ends on the bits it reaches alone. The models are
independent, so a ``numba.prange`` over them splits them over the threads with no
synchronisation inside the call; its body is one call, so the parallel loop stays small to
compile.

Bundles as fastnn.kernels' with a leading model axis: ``params`` (K, n_params); ``opt =
(code, state, hyper, steps)`` with state (K, n_state, n_params), hyper (K, n_hyper) and
steps (K,); ``batches = (X, T, weights, orders, batch_weights, batch_size, mean, l2)`` with
weights (K, n), orders (K, epochs, n or 0) and batch_weights (K, epochs or 1, batches); each
array of the path's workspace with a leading K axis; ``out = (epoch_losses,
epoch_penalties)``, each (K, epochs); ``done`` (K,) receives the epochs each model ran (fewer
than asked: its loss stopped being finite).
"""
from numba import prange

from ._jit import kernel
from .batched import train_batched
from .narrow import train_narrow
from .per_sample import train_per_sample


@kernel(parallel=True)
def train_models_per_sample(net, params, opt, batches, work, out, done):
    """fastnn.kernels.per_sample.train_per_sample for every model, the models over threads."""
    code, state, hyper, steps = opt
    X, T, weights, orders, batch_weights, batch_size, mean, l2 = batches
    grad, acts, deltas, z_out, t_buf, w_buf = work
    losses, penalties = out
    for k in prange(params.shape[0]):
        done[k] = train_per_sample(
            net, params[k], (code, state[k], hyper[k], steps[k:k + 1]),
            (X, T, weights[k], orders[k], batch_weights[k], batch_size, mean, l2),
            (grad[k], acts[k], deltas[k], z_out[k], t_buf[k], w_buf[k]),
            (losses[k], penalties[k]))


@kernel(parallel=True)
def train_models_narrow(net, params, opt, batches, work, out, done):
    """fastnn.kernels.narrow.train_narrow for every model, the models over threads."""
    code, state, hyper, steps = opt
    X, T, weights, orders, batch_weights, batch_size, mean, l2 = batches
    grad, chunk, acts, deltas, targets, z_out, w_chunk, scratch = work
    losses, penalties = out
    for k in prange(params.shape[0]):
        done[k] = train_narrow(
            net, params[k], (code, state[k], hyper[k], steps[k:k + 1]),
            (X, T, weights[k], orders[k], batch_weights[k], batch_size, mean, l2),
            (grad[k], chunk, acts[k], deltas[k], targets[k], z_out[k], w_chunk[k], scratch[k]),
            (losses[k], penalties[k]))


@kernel(parallel=True)
def train_models_batched(net, params, opt, batches, work, out, done):
    """fastnn.kernels.batched.train_batched for every model (each batch in the parts the
    model alone would split it into, one after another), the models over threads; BLAS must
    run on one thread meanwhile."""
    code, state, hyper, steps = opt
    X, T, weights, orders, batch_weights, batch_size, mean, l2 = batches
    grad, scratch, block_rows, n_parts, acts, deltas, z_out, x_buf, t_buf, w_buf = work
    losses, penalties = out
    for k in prange(params.shape[0]):
        done[k] = train_batched(
            net, params[k], (code, state[k], hyper[k], steps[k:k + 1]),
            (X, T, weights[k], orders[k], batch_weights[k], batch_size, mean, l2),
            (grad[k], scratch[k], block_rows, n_parts, acts[k], deltas[k], z_out[k], x_buf[k],
             t_buf[k], w_buf[k]),
            (losses[k], penalties[k]))
