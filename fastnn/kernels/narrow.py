"""The narrow path: batches of many rows through networks whose layers are all narrow, stored
feature-major.

With layers a few units wide, a row-major block (rows x width) gives loops over 1 to 16
columns, too short to vectorise. Here a chunk of m rows is stored transposed: each feature's
values for the m rows lie contiguous, so every inner loop runs over the rows with unit stride
and vectorises, the sigmoid's and tanh's exp and the loss included (fastnn.kernels.elementary).

A batch is taken in chunks of rows (so that a chunk's activations and deltas stay in cache;
fastnn.paths sizes them); the gradient adds up over the chunks. The workspace: ``work =
(grad, chunk, acts, deltas, targets, z_out, w_chunk, scratch)``, for chunks of up to
``chunk`` rows, feature after feature, each m long: ``acts`` holds the input features
(gathered from X), then the activations of layers 1..L; ``deltas`` dL/dz of layers 1..L at
the offsets of ``acts`` less m * sizes[0]; ``targets`` and ``z_out`` the output layer's
targets and pre-activations; ``w_chunk`` the rows' weights; ``scratch`` 4 chunk values.
Parameters as in fastnn.kernels.batched; forward_chunk, backward_chunk and
narrow_batch_loss_grad are inlined into the kernels that call them, as the batched path's
orchestrating kernels are (fastnn.kernels._jit).
"""
from . import losses
from ._jit import inlined, kernel
from .activations import activate, multiply_derivative, softmax_columns
from .buffers import copy
from .codes import COMPILED_ACTIVATIONS, SOFTMAX, SQUARED_ERROR
from .losses import delta_needs_derivative
from .updates import loss_and_gradient, train_epochs

loss_columns = inlined(losses.loss_columns)
"""Inlined, so that its sum over the rows reassociates and vectorises as the entry kernels'
own loops do (fastnn.kernels._jit)."""


@kernel
def gather_chunk(X, order, first, m, buf):
    """buf[p m + i] = X[r_i, p] for the chunk's rows r_i (order[first + i] when ``order`` is
    not empty, else first + i): the chunk's rows of X (inputs or targets), transposed."""
    if order.size > 0:
        rows = order[first:first + m]
        for p in range(X.shape[1]):
            column = buf[p * m:(p + 1) * m]
            for i in range(m):
                column[i] = X[max(rows[i], 0), p]
    else:
        x = X[first:first + m]
        for p in range(X.shape[1]):
            column = buf[p * m:(p + 1) * m]
            for i in range(m):
                column[i] = x[i, p]


@kernel
def gather_weights(weights, order, first, m, buf):
    """buf[i] = the weight of the chunk's row r_i (as gather_chunk)."""
    if order.size > 0:
        rows = order[first:first + m]
        for i in range(m):
            buf[i] = weights[max(rows[i], 0)]
    else:
        copy(weights[first:first + m], buf)


@kernel(inline=True)
def forward_chunk(net, params, m, keep_z, acts, z_out, scratch):
    """Activations of every layer for the chunk's m rows (input already in acts); the output
    pre-activations go to z_out too when ``keep_z``. Returns the output layer's offset."""
    sizes, w_off, b_off, activations, _ = net
    zero = params.dtype.type(0.0)
    n_layers = sizes.size - 1
    last = n_layers - 1
    s = 0
    for layer in range(n_layers):
        k = sizes[layer]
        n = sizes[layer + 1]
        w = w_off[layer]
        b = b_off[layer]
        d = s + k * m
        for j in range(n):  # z[j, :] = b_j + sum_p W[p, j] a[p, :], four inputs a pass
            z = acts[d + j * m:d + (j + 1) * m]
            bias = params[b + j] if b >= 0 else zero
            weight = params[w + j]
            a = acts[s:s + m]
            for i in range(m):
                z[i] = bias + weight * a[i]
            p = 1
            while p + 4 <= k:
                w0 = params[w + p * n + j]
                w1 = params[w + (p + 1) * n + j]
                w2 = params[w + (p + 2) * n + j]
                w3 = params[w + (p + 3) * n + j]
                a0 = acts[s + p * m:s + (p + 1) * m]
                a1 = acts[s + (p + 1) * m:s + (p + 2) * m]
                a2 = acts[s + (p + 2) * m:s + (p + 3) * m]
                a3 = acts[s + (p + 3) * m:s + (p + 4) * m]
                for i in range(m):
                    z[i] += w0 * a0[i] + w1 * a1[i] + w2 * a2[i] + w3 * a3[i]
                p += 4
            while p < k:
                weight = params[w + p * n + j]
                a = acts[s + p * m:s + (p + 1) * m]
                for i in range(m):
                    z[i] += weight * a[i]
                p += 1
        size = n * m
        if layer == last and keep_z:
            copy(acts[d:d + size], z_out)
        code = activations[layer]
        if SOFTMAX in COMPILED_ACTIVATIONS and code == SOFTMAX:
            softmax_columns(acts[d:d + size], m, n, scratch)
        else:
            activate(code, acts[d:d + size], 0, size)
        s = d
    return s


@kernel(inline=True)
def backward_chunk(net, params, grad, m, top, acts, deltas):
    """grad += the chunk's gradient, from the output delta at ``deltas`` (offset of the output
    layer in acts: ``top``) back through every layer; the deltas of lower layers are
    overwritten."""
    sizes, w_off, b_off, activations, loss = net
    zero = params.dtype.type(0.0)
    n_layers = sizes.size - 1
    last = n_layers - 1
    n_in = sizes[0]
    d = top
    for layer in range(last, -1, -1):
        k = sizes[layer]
        n = sizes[layer + 1]
        w = w_off[layer]
        b = b_off[layer]
        s = d - k * m
        e = d - n_in * m
        if layer < last or delta_needs_derivative(loss, activations[last]):
            size = n * m
            multiply_derivative(activations[layer], acts[d:d + size], 0, deltas[e:e + size], 0,
                                size)
        if b >= 0:
            for j in range(n):
                delta = deltas[e + j * m:e + (j + 1) * m]
                total = zero
                for i in range(m):
                    total += delta[i]
                grad[b + j] += total
        below = s - n_in * m
        for p in range(k):
            a = acts[s + p * m:s + (p + 1) * m]
            row = w + p * n
            if layer > 0:  # dW[p, j] and delta[p, :] = sum_j W[p, j] delta[j, :] in one pass
                back = deltas[below + p * m:below + (p + 1) * m]
                delta = deltas[e:e + m]
                weight = params[row]
                total = zero
                for i in range(m):
                    total += a[i] * delta[i]
                    back[i] = weight * delta[i]
                grad[row] += total
                for j in range(1, n):
                    delta = deltas[e + j * m:e + (j + 1) * m]
                    weight = params[row + j]
                    total = zero
                    for i in range(m):
                        total += a[i] * delta[i]
                        back[i] += weight * delta[i]
                    grad[row + j] += total
            else:  # dW[p, j] for four outputs a pass
                j = 0
                while j + 4 <= n:
                    d0 = deltas[e + j * m:e + (j + 1) * m]
                    d1 = deltas[e + (j + 1) * m:e + (j + 2) * m]
                    d2 = deltas[e + (j + 2) * m:e + (j + 3) * m]
                    d3 = deltas[e + (j + 3) * m:e + (j + 4) * m]
                    t0 = zero
                    t1 = zero
                    t2 = zero
                    t3 = zero
                    for i in range(m):
                        t0 += a[i] * d0[i]
                        t1 += a[i] * d1[i]
                        t2 += a[i] * d2[i]
                        t3 += a[i] * d3[i]
                    grad[row + j] += t0
                    grad[row + j + 1] += t1
                    grad[row + j + 2] += t2
                    grad[row + j + 3] += t3
                    j += 4
                while j < n:
                    delta = deltas[e + j * m:e + (j + 1) * m]
                    total = zero
                    for i in range(m):
                        total += a[i] * delta[i]
                    grad[row + j] += total
                    j += 1
        d = s



@kernel(inline=True)
def narrow_batch_loss_grad(net, params, X, T, weights, order, start, stop, scale, work):
    """grad = scale * gradient of the weighted loss summed over rows start..stop of the epoch
    (as fastnn.kernels.batched.batch_loss_grad), chunk by chunk; returns that loss sum.

    Forward, layer l: z[j, :] = b_j + sum_p W[p, j] a[p, :], a = f(z). Backward from the
    output delta = scale w dL/dz: dW[p, j] = sum over rows of a[p, :] delta[j, :], db_j = sum
    of delta[j, :], and the layer below gets delta[p, :] = f'(z[p, :]) sum_j W[p, j]
    delta[j, :].
    """
    sizes, _, _, activations, loss = net
    grad, chunk, acts, deltas, targets, z_out, w_chunk, scratch = work
    n_out = max(sizes[sizes.size - 1], 0)
    output = activations[sizes.size - 2]
    keep_z = loss != SQUARED_ERROR
    zero = params.dtype.type(0.0)
    for q in range(grad.size):
        grad[q] = zero
    # about equal chunks (no tiny last one), of a multiple of 8 rows where they can be
    rows = stop - start
    n_chunks = (rows + chunk - 1) // chunk
    m_max = min(chunk, ((rows + n_chunks - 1) // n_chunks + 7) // 8 * 8)
    total = 0.0
    for first in range(start, stop, m_max):
        m = min(m_max, stop - first)
        gather_chunk(X, order, first, m, acts)
        gather_chunk(T, order, first, m, targets)
        gather_weights(weights, order, first, m, w_chunk)
        top = forward_chunk(net, params, m, keep_z, acts, z_out, scratch)
        e = top - sizes[0] * m
        size = n_out * m
        total += loss_columns(loss, output, z_out[:size], acts[top:top + size],
                              targets[:size], w_chunk, deltas[e:e + size], m, n_out, scale,
                              scratch)
        backward_chunk(net, params, grad, m, top, acts, deltas)
    return total


@kernel(entry=True)
def train_narrow(net, params, opt, batches, work, out):
    """fastnn.kernels.batched.train_batched for narrow networks: fastnn.kernels.updates.
    train_epochs around narrow_batch_loss_grad (W before the update in the batch's
    gradient)."""
    return train_epochs(narrow_batch_loss_grad, net, params, opt, batches, work, out)


@kernel(entry=True)
def loss_grad_narrow(net, params, batches, work):
    """fastnn.kernels.batched.loss_grad_batched for narrow networks: one batch of every row
    of X in storage order (fastnn.kernels.updates.loss_and_gradient). Returns (weighted
    loss sum, penalty, weight)."""
    return loss_and_gradient(narrow_batch_loss_grad, net, params, batches, work)


@kernel(entry=True)
def forward_narrow(net, params, X, work, out):
    """out = output activations of the network for every row of X, chunk by chunk, feature
    major; ``work = (chunk, acts, scratch, no_order)``: as the training workspace's, and an
    empty int64 order."""
    chunk, acts, scratch, no_order = work
    sizes = net[0]
    n_samples = X.shape[0]
    n_out = sizes[sizes.size - 1]
    for first in range(0, n_samples, chunk):
        m = min(chunk, n_samples - first)
        gather_chunk(X, no_order, first, m, acts)
        top = forward_chunk(net, params, m, False, acts, scratch, scratch)
        o = out[first:first + m]
        for j in range(n_out):
            a = acts[top + j * m:top + (j + 1) * m]
            for i in range(m):
                o[i, j] = a[i]
