"""fastnn's compiled core: Numba kernels over flat contiguous arrays, importing nothing of
fastnn outside this package.

Every training kernel takes the same leading bundles, plain tuples (numba caches functions
of tuples; its named tuples are compiled again in every process):

    net     = (sizes, w_off, b_off, activations, loss): int64 layer widths, where each
              layer's weights and bias start in the flat parameter buffer (-1: no bias), one
              activation code per layer (the output layer's last), the loss code
              (fastnn.kernels.codes)
    params  the flat parameter buffer
    opt     = (code, state, hyper, step): fastnn.kernels.updates
    batches = (X, T, weights, orders, batch_weights, batch_size, mean, l2): inputs, targets
              and row weights; the row order of each epoch (orders[e], or storage order when
              orders has no columns); the weight of each batch of each epoch (float64; one
              row for all epochs in storage order); rows per batch; the reduction (SUM, MEAN:
              a batch's gradient divided by its weight; BATCH_MEANS: that, and the epoch's
              loss as scikit-learn's: fastnn.kernels.updates.batch_share); the l2 factor
    work    the path's workspace (each path module says what it holds)
    out     = (epoch_losses, epoch_penalties)

as ``train_*(net, params, opt, batches, work, out)``; ``loss_grad_*(net, params, batches,
work)`` and ``forward_*(net, params, X, work, out)`` take the same.

Helpers that take arrays and loop (the formulas of activations.py, losses.py, the end of a
batch) are ordinary kernels: compiled once, called once a block by the narrow and batched
paths (LLVM inlines the small ones). numba's inline="always" (``@kernel(inline=True)``)
types and lowers every inlined copy again, so it is kept for what must be inlined: helpers
that return a view (a kernel without reference counting cannot return an array), leaf
helpers inside one formula (softplus's exp and log1p, which LLVM would not inline into a
vectorised loop), the update loops (updates.apply_update, update_rows), the epoch loop
that the batched, narrow and sparse entry kernels wrap around their batch function
(updates.train_epochs, loss_and_gradient: one copy in each), and the per-sample
path's copies of the formulas (_jit.inlined), which it calls once a row. An optimizer's rule
for one parameter (updates.sgd_step, ...) is an ordinary kernel of a few scalar operations,
which LLVM inlines into those loops. A parallel kernel must not call a numba-inlined
helper that unpacks a tuple and writes through what it unpacked: numba drops those writes.
"""
