"""The sparse path: the batched path (fastnn.kernels.batched) for inputs given as CSR rows.

X reaches these kernels as its CSR arrays, ``X = (data, indices, indptr)``: row r's nonzeros
are data[indptr[r]:indptr[r + 1]], in the columns indices[indptr[r]:indptr[r + 1]] (int64;
unsorted or repeated columns add up, as in scipy). Only the first layer sees X, and it works
on the rows' nonzeros, never on dense rows, so its work and memory follow the nonzeros, not
the dense size (nothing is densified, whatever the block):

- forward, z_0 = x W_0 + b_0: for each nonzero q of the row, data[q] times the row
  indices[q] of W_0 (row-major, so one contiguous row per nonzero);
- backward, dW_0 (+)= x^T delta_0: data[q] times the row's delta_0 added into the row
  indices[q] of the gradient (set to 0 first: the whole of dW_0, as the update after the
  batch runs over every parameter anyway); the delta into the input is never formed.

Layers from 1 on are the batched path's own (forward_block and loss_grad_block with first=1),
and so are the loss, the l2 penalty and the update, over all parameters. Each epoch's rows
are taken through its order inside the kernels. A batch runs on one thread
(fastnn.paths.choose).

The workspace: ``work = (grad, scratch, block_rows, acts, deltas, z_out, t_buf, w_buf)``, as
the batched path's without the buffer of gathered input rows; for predictions ``(block_rows,
acts, z_out, no_order)`` with an empty int64 order. The block and batch kernels, sparse_forward
and sparse_weight_gradient are inlined into the kernels that call them, as the batched path's
block kernels are (fastnn.kernels._jit).
"""
from ._jit import kernel
from .batched import block_start, forward_block, layer_bias, layer_weights, loss_grad_block
from .buffers import copy
from .dense import column_sums
from .updates import loss_and_gradient, train_epochs


@kernel
def row_at(order, position):
    """The row at ``position`` of an epoch: order[position], or position itself when the
    order is empty (storage order)."""
    return order[position] if order.size > 0 else position


@kernel(inline=True)
def sparse_forward(X, order, first, rows, W, b, Z):
    """Z[i] = b + x W for i < rows, x the CSR row at position first + i of ``order``
    (W: k x n, b: n or empty, Z: rows x n), four nonzeros a pass: each load and store of
    Z[i] serves four rows of W."""
    data, indices, indptr = X
    n = W.shape[1]
    zero = Z.dtype.type(0.0)
    for i in range(rows):
        r = row_at(order, first + i)
        z = Z[i]
        if b.size > 0:
            for j in range(n):
                z[j] = b[j]
        else:
            for j in range(n):
                z[j] = zero
        lo = indptr[r]
        hi = indptr[r + 1]
        fours = lo + (hi - lo) // 4 * 4
        for q in range(lo, fours, 4):
            s0, s1, s2, s3 = data[q], data[q + 1], data[q + 2], data[q + 3]
            w0, w1 = W[indices[q]], W[indices[q + 1]]
            w2, w3 = W[indices[q + 2]], W[indices[q + 3]]
            for j in range(n):
                z[j] += s0 * w0[j] + s1 * w1[j] + s2 * w2[j] + s3 * w3[j]
        for q in range(fours, hi):
            s0 = data[q]
            w0 = W[indices[q]]
            for j in range(n):
                z[j] += s0 * w0[j]


@kernel(inline=True)
def sparse_weight_gradient(X, order, first, rows, D, dW, accumulate):
    """dW (+)= x^T D over the same rows as sparse_forward's: data[q] D[i] added into the row
    indices[q] of dW for each nonzero q of row i (dW set to 0 first unless ``accumulate``)."""
    data, indices, indptr = X
    k, n = dW.shape
    if not accumulate:
        zero = dW.dtype.type(0.0)
        for p in range(k):
            g = dW[p]
            for j in range(n):
                g[j] = zero
    for i in range(rows):
        r = row_at(order, first + i)
        d = D[i]
        for q in range(indptr[r], indptr[r + 1]):
            s = data[q]
            g = dW[indices[q]]
            for j in range(n):
                g[j] += s * d[j]


@kernel(inline=True)
def sparse_loss_grad_block(net, params, grad, scratch, X, order, first, rows, t, w, scale,
                           accumulate, total, block_rows, acts, deltas, z_out):
    """fastnn.kernels.batched.loss_grad_block for the CSR rows at positions first..first +
    rows - 1 of ``order`` (t, w: their targets and weights, flat): layer 0 by sparse_forward
    and sparse_weight_gradient, the rest by loss_grad_block (the block one part). Returns
    ``total`` plus the block's weighted loss sum."""
    sizes = net[0]
    width = sizes[1]
    z0 = z_out[:rows * width] if sizes.size == 2 else acts[:rows * width]  # layer 0's z
    sparse_forward(X, order, first, rows, layer_weights(params, net, 0),
                   layer_bias(params, net, 0), z0.reshape((rows, width)))
    total = loss_grad_block(net, params, grad, scratch, params[0:0], t, w, rows, rows, scale,
                            accumulate, total, block_rows, acts, deltas, z_out, 1)
    D = deltas[:rows * width].reshape((rows, width))  # dL/dz_0
    sparse_weight_gradient(X, order, first, rows, D, layer_weights(grad, net, 0), accumulate)
    db = layer_bias(grad, net, 0)
    if db.size > 0:
        if accumulate:
            db_part = layer_bias(scratch, net, 0)
            column_sums(D, db_part)
            for j in range(width):
                db[j] += db_part[j]
        else:
            column_sums(D, db)
    return total


@kernel(inline=True)
def sparse_batch_loss_grad(net, params, X, T, weights, order, start, stop, scale, work):
    """fastnn.kernels.batched.batch_loss_grad for CSR rows: grad = scale * the gradient of
    the weighted loss summed over rows start..stop of the epoch (taken in ``order`` when it
    is not empty), in blocks of up to ``block_rows`` rows; returns that sum. The targets and
    weights of shuffled rows are gathered; the input rows are read where they are."""
    grad, scratch, block_rows, acts, deltas, z_out, t_buf, w_buf = work
    n_out = T.shape[1]
    t = T.reshape(T.size)
    shuffled = order.size > 0
    total = 0.0
    for block in range(start, stop, block_rows):
        rows = min(block_rows, stop - block)
        if not shuffled:
            tb = t[block * n_out:(block + rows) * n_out]
            wb = weights[block:block + rows]
        elif rows == 1:
            r = order[block]
            tb = t[r * n_out:(r + 1) * n_out]
            wb = weights[r:r + 1]
        else:
            for i in range(rows):
                r = order[block + i]
                copy(t[r * n_out:(r + 1) * n_out], t_buf[i * n_out:])
                w_buf[i] = weights[r]
            tb = t_buf[:rows * n_out]
            wb = w_buf[:rows]
        total = sparse_loss_grad_block(net, params, grad, scratch, X, order, block, rows, tb, wb,
                                       scale, block != start, total, block_rows, acts, deltas,
                                       z_out)
    return total


@kernel(entry=True)
def train_sparse(net, params, opt, batches, work, out):
    """fastnn.kernels.batched.train_batched for X given as CSR arrays, each batch on one
    thread: fastnn.kernels.updates.train_epochs around sparse_batch_loss_grad."""
    return train_epochs(sparse_batch_loss_grad, net, params, opt, batches, work, out)


@kernel(entry=True)
def loss_grad_sparse(net, params, batches, work):
    """fastnn.kernels.batched.loss_grad_batched for X given as CSR arrays: one batch of every
    row in storage order (fastnn.kernels.updates.loss_and_gradient). Returns (weighted loss
    sum, penalty, weight)."""
    return loss_and_gradient(sparse_batch_loss_grad, net, params, batches, work)


@kernel(entry=True)
def forward_sparse(net, params, X, work, out):
    """out = output activations of the network for every CSR row of X, block by block;
    ``work = (block_rows, acts, z_out, no_order)``."""
    sizes = net[0]
    block_rows, acts, z_out, no_order = work
    n_samples = X[2].size - 1
    n_layers = sizes.size - 1
    width = sizes[1]
    n_out = sizes[n_layers]
    o = out.reshape(out.size)
    last = block_start(sizes, block_rows, n_layers)
    for start in range(0, n_samples, block_rows):
        rows = min(block_rows, n_samples - start)
        z0 = z_out[:rows * width] if n_layers == 1 else acts[:rows * width]
        sparse_forward(X, no_order, start, rows, layer_weights(params, net, 0),
                       layer_bias(params, net, 0), z0.reshape((rows, width)))
        forward_block(net, params, params[0:0], rows, block_rows, block_rows, acts, z_out, 1)
        copy(acts[last:last + rows * n_out], o[start * n_out:])
