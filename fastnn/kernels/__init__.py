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
              row for all epochs in storage order); rows per batch; whether a batch's gradient
              is divided by its weight; the l2 penalty factor
    work    the path's workspace (each path module says what it holds)
    out     = (epoch_losses, epoch_penalties)

as ``train_*(net, params, opt, batches, work, out)``; ``loss_grad_*(net, params, batches,
work)`` and ``forward_*(net, params, X, work, out)`` take the same.

Helpers are ordinary kernels, which LLVM inlines into their callers, not numba's
inline="always" (which types and lowers every inlined copy again, and, in a parallel kernel,
drops writes to an array the inlined helper unpacked from a tuple).
"""
