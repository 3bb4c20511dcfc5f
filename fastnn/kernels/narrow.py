"""The narrow path: batches of many rows through networks whose layers are all narrow, stored
feature-major.

With layers a few units wide, a row-major block (rows x width) gives loops over 1 to 16
columns, too short to vectorise. Here a chunk of m rows is stored transposed: each feature's
values for the m rows lie contiguous, so every inner loop runs over the rows with unit stride
and vectorises, the sigmoid's and tanh's exp and the loss included (fastnn.kernels.elementary).

A batch is taken in chunks of rows (so that a chunk's activations and deltas stay in cache:
CHUNK_BYTES); the gradient adds up over the chunks. Layout of a chunk of m rows, feature
after feature, each m long: ``acts`` holds the input features (gathered from X), then the
activations of layers 1..L; ``deltas`` dL/dz of layers 1..L at the offsets of ``acts`` less
m * sizes[0]; ``targets`` and ``z_out`` the output layer's targets and pre-activations.
Parameters as in fastnn.kernels.network. Formulas: fastnn._registry.
"""
import numpy as np

from .._jit import kernel
from .._registry import BINARY_CROSS_ENTROPY, CROSS_ENTROPY, SOFTMAX, SQUARED_ERROR
from .activations import activate_range, multiply_derivative_range
from .elementary import vexp, vlog1p
from .losses import binary_cross_entropy
from .per_sample import offset
from .updates import penalize_and_step, record_epoch

NARROW_MAX_WIDTH = 32
"""Networks train here only if every layer (input and output included) is at most this wide.
Measured against the batched path (fastnn.kernels.network, as of this module's first
version; float64, full epochs of 1000 rows, batches of 64 to 1000): this path is 8-9x faster
at 4-16-1, 2.6x at 16-16-16, 1.5-1.8x at 32-32-32 (float32 2-4x); it was still 1.3-1.5x
faster at 64-64-64, but there a layer's product is large enough for a blocked or BLAS
product, and here each output row of a layer is its own pass over the rows."""
NARROW_MIN_ROWS = 24
"""... and batches have at least this many rows. Measured against the per-sample path
(fastnn.kernels.per_sample, which takes batches of up to 32 rows otherwise): from 24 rows
this path was faster in every shape tried (1-1 to 16-16-16-16, float32 and float64; 2-10-1:
1.8x at 24 rows, 2.2x at 32); at 16 rows it was faster for most (2-10-1 1.5x) but not all
(1-1: 0.8x, float32 16-16-16-16: 0.85x); at 8 rows about even; at 4 rows half as fast."""
CHUNK_BYTES = 1 << 17
"""A batch goes through the network in chunks of about this many bytes of activations and
deltas (a multiple of 8 rows, 64 to 1024 rows: see chunk_rows). Measured against a fixed 256
rows: 2-10-1 float64 +2% (680-row chunks), 8-16-4 +10%, 16-16-16-16 +20%, 32-32-32 +20%
(96 rows); float32 2-10-1 +10%, 8-16-4 +20%, 32-32-32 -12%. 64 KB was up to 40% slower,
192 KB about as fast as 256 rows."""
@kernel
def narrow_fits(batch_size, sizes):
    """Whether batches of ``batch_size`` rows of a network of layer widths ``sizes`` train
    here (NARROW_MAX_WIDTH, NARROW_MIN_ROWS): then faster than the per-sample path and the
    batched path."""
    if batch_size < NARROW_MIN_ROWS:
        return False
    for layer in range(sizes.size):
        if sizes[layer] > NARROW_MAX_WIDTH:
            return False
    return True


@kernel
def chunk_rows(batch_size, sizes, itemsize):
    """Rows in a chunk of batches of ``batch_size`` rows (at most the batch): CHUNK_BYTES of
    activations and deltas, rounded down to a multiple of 8 rows, 64 to 1024 rows."""
    row_bytes = 0
    for layer in range(sizes.size):
        row_bytes += (1 if layer == 0 else 2) * sizes[layer] * itemsize
    rows = min(max(CHUNK_BYTES // row_bytes // 8 * 8, 64), 1024)
    return min(rows, batch_size)


@kernel(inline=True)
def gather_chunk(X, order, shuffled, first, m, buf):
    """buf[p m + i] = X[r_i, p] for the chunk's rows r_i (order[first + i] when shuffled, else
    first + i): the chunk's rows of X (inputs or targets), transposed."""
    if shuffled:
        rows = order[first:first + m]
        for p in range(X.shape[1]):
            column = buf[p * m:(p + 1) * m]
            for i in range(m):
                column[i] = X[offset(rows[i]), p]
    else:
        x = X[first:first + m]
        for p in range(X.shape[1]):
            column = buf[p * m:(p + 1) * m]
            for i in range(m):
                column[i] = x[i, p]


@kernel(inline=True)
def forward_chunk(m, params, sizes, w_off, b_off, hidden_code, output_code, keep_z, acts,
                  z_out, scratch):
    """Activations of every layer for the chunk's m rows (input already in acts); the output
    pre-activations go to z_out too when ``keep_z``. Returns the output layer's offset."""
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
        code = hidden_code if layer < last else output_code
        if layer == last and keep_z:
            z_out[:size] = acts[d:d + size]
        activate_range(code, acts[d:d + size], 0, size)
        if code == SOFTMAX:  # over the outputs of each row, m apart
            peak = scratch[:m]
            sum_exp = scratch[m:2 * m]
            peak[:] = acts[d:d + m]
            for j in range(1, n):
                a = acts[d + j * m:d + (j + 1) * m]
                for i in range(m):
                    peak[i] = max(peak[i], a[i])
            sum_exp[:] = zero
            for j in range(n):
                a = acts[d + j * m:d + (j + 1) * m]
                for i in range(m):
                    a[i] = vexp(a[i] - peak[i])
                    sum_exp[i] += a[i]
            for j in range(n):
                a = acts[d + j * m:d + (j + 1) * m]
                for i in range(m):
                    a[i] = a[i] / sum_exp[i]
        s = d
    return s


@kernel(inline=True)
def loss_chunk(loss_code, output_code, m, n_out, scale, acts, top, z_out, targets, deltas, e,
               scratch):
    """The chunk's loss sum (float64) and output delta = scale * dL/dz, the formulas of
    fastnn.kernels.losses.loss_and_delta (for an elementwise output activation under squared
    error, the caller multiplies by f'). Outputs at acts[top:], deltas at deltas[e:]."""
    zero = acts.dtype.type(0.0)
    one = acts.dtype.type(1.0)
    half = acts.dtype.type(0.5)
    size = n_out * m
    a = acts[top:top + size]
    t = targets[:size]
    z = z_out[:size]
    delta = deltas[e:e + size]
    total = 0.0
    if loss_code == BINARY_CROSS_ENTROPY:
        for i in range(size):
            total += binary_cross_entropy(z[i], t[i], zero)
            delta[i] = scale * (a[i] - t[i])
    elif loss_code == CROSS_ENTROPY:
        log_sum_exp = scratch[:m]
        target_sum = scratch[m:2 * m]
        sum_exp = scratch[2 * m:3 * m]
        log_sum_exp[:] = z[:m]  # the peak, first
        for j in range(1, n_out):
            zj = z[j * m:(j + 1) * m]
            for i in range(m):
                log_sum_exp[i] = max(log_sum_exp[i], zj[i])
        sum_exp[:] = zero
        target_sum[:] = zero
        for j in range(n_out):
            zj = z[j * m:(j + 1) * m]
            tj = t[j * m:(j + 1) * m]
            for i in range(m):
                sum_exp[i] += vexp(zj[i] - log_sum_exp[i])
                target_sum[i] += tj[i]
        for i in range(m):  # log s = log1p(s - 1) to the last bit: s >= 1, s - 1 exact to s/2^53
            log_sum_exp[i] += vlog1p(sum_exp[i] - one)
        for j in range(n_out):
            zj = z[j * m:(j + 1) * m]
            tj = t[j * m:(j + 1) * m]
            aj = a[j * m:(j + 1) * m]
            dj = delta[j * m:(j + 1) * m]
            for i in range(m):
                total += tj[i] * (log_sum_exp[i] - zj[i])
                dj[i] = scale * (aj[i] * target_sum[i] - tj[i])
    else:  # SQUARED_ERROR
        for i in range(size):
            error = a[i] - t[i]
            total += half * error * error
            delta[i] = scale * error
        if output_code == SOFTMAX:
            weighted = scratch[:m]
            weighted[:] = zero
            for j in range(n_out):
                aj = a[j * m:(j + 1) * m]
                dj = delta[j * m:(j + 1) * m]
                for i in range(m):
                    weighted[i] += dj[i] * aj[i]
            for j in range(n_out):
                aj = a[j * m:(j + 1) * m]
                dj = delta[j * m:(j + 1) * m]
                for i in range(m):
                    dj[i] = aj[i] * (dj[i] - weighted[i])
    return total


@kernel(inline=True)
def backward_chunk(m, top, params, grad, sizes, w_off, b_off, hidden_code, output_code,
                   loss_code, acts, deltas):
    """grad += the chunk's gradient, from the output delta at ``deltas`` (offset of the output
    layer in acts: ``top``) back through every layer; the deltas of lower layers are
    overwritten."""
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
        if layer < last or (loss_code == SQUARED_ERROR and output_code != SOFTMAX):
            code = hidden_code if layer < last else output_code
            size = n * m
            multiply_derivative_range(code, acts[d:d + size], 0, deltas[e:e + size], 0, size)
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
def narrow_buffers(batch_size, sizes, params):
    """(chunk rows, acts, deltas, targets, z_out, scratch): the chunk size and buffers, in
    params' dtype, for batches of ``batch_size`` rows (allocated once per call)."""
    dtype = params.dtype
    n_layers = sizes.size - 1
    n_out = offset(sizes[n_layers])
    chunk = chunk_rows(batch_size, sizes, params.itemsize)
    width = 0
    for layer in range(n_layers + 1):
        width += sizes[layer]
    return (chunk, np.empty(chunk * width, dtype), np.empty(chunk * (width - sizes[0]), dtype),
            np.empty(chunk * n_out, dtype), np.empty(chunk * n_out, dtype),
            np.empty(3 * chunk, dtype))


@kernel(inline=True)
def narrow_batch_loss_grad(X, T, order, shuffled, start, stop, scale, params, grad, sizes,
                           w_off, b_off, hidden_code, output_code, loss_code, chunk, acts,
                           deltas, targets, z_out, scratch):
    """grad = scale * gradient of the loss summed over rows start..stop (as
    fastnn.kernels.training.batch_loss_grad), chunk by chunk; returns that loss sum.

    Forward, layer l: z[j, :] = b_j + sum_p W[p, j] a[p, :], a = f(z). Backward from the
    output delta = scale * dL/dz: dW[p, j] = sum over rows of a[p, :] delta[j, :], db_j = sum
    of delta[j, :], and the layer below gets delta[p, :] = f'(z[p, :]) sum_j W[p, j] delta[j, :].
    """
    n_out = offset(sizes[sizes.size - 1])
    keep_z = loss_code != SQUARED_ERROR
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
        gather_chunk(X, order, shuffled, first, m, acts)
        gather_chunk(T, order, shuffled, first, m, targets)
        top = forward_chunk(m, params, sizes, w_off, b_off, hidden_code, output_code, keep_z,
                            acts, z_out, scratch)
        e = top - sizes[0] * m
        total += loss_chunk(loss_code, output_code, m, n_out, scale, acts, top, z_out, targets,
                            deltas, e, scratch)
        backward_chunk(m, top, params, grad, sizes, w_off, b_off, hidden_code, output_code,
                       loss_code, acts, deltas)
    return total


@kernel
def train_narrow(X, T, orders, shuffled, n_epochs, batch_size, mean_reduction, l2, params,
                 grad, sizes, w_off, b_off, hidden_code, output_code, loss_code, opt_code,
                 opt_state, hyper, opt_step, epoch_losses, epoch_penalties):
    """fastnn.kernels.training.train_epochs for batches that are ``narrow_fits``: the same
    arguments (less the row-major buffers: this allocates its own, once per call), results,
    l2 penalty and update (penalize_and_step after each batch, with W before the update in
    the batch's gradient: narrow_batch_loss_grad).
    """
    one = params.dtype.type(1.0)
    n_samples = X.shape[0]
    chunk, acts, deltas, targets, z_out, scratch = narrow_buffers(batch_size, sizes,
                                                                  params)
    for epoch in range(n_epochs):
        order = orders[epoch]
        total = 0.0
        penalties = 0.0
        for start in range(0, n_samples, batch_size):
            stop = min(start + batch_size, n_samples)
            scale = one / params.dtype.type(stop - start) if mean_reduction else one
            total += narrow_batch_loss_grad(X, T, order, shuffled, start, stop, scale, params,
                                            grad, sizes, w_off, b_off, hidden_code,
                                            output_code, loss_code, chunk, acts, deltas,
                                            targets, z_out, scratch)
            penalties += penalize_and_step(l2, scale, params, grad, sizes, w_off, opt_code,
                                           opt_state, hyper, opt_step)
        if not record_epoch(epoch, total, penalties, n_samples, epoch_losses, epoch_penalties):
            return epoch + 1
    return n_epochs


@kernel
def loss_grad_narrow(X, T, scale, params, grad, sizes, w_off, b_off, hidden_code, output_code,
                     loss_code):
    """fastnn.kernels.training.batch_loss_grad over every row of X in order, for a network
    and a number of rows that are ``narrow_fits``: grad = scale * gradient of the summed loss;
    returns the loss sum."""
    chunk, acts, deltas, targets, z_out, scratch = narrow_buffers(X.shape[0], sizes,
                                                                  params)
    no_order = np.empty(0, np.int64)
    return narrow_batch_loss_grad(X, T, no_order, False, 0, X.shape[0], scale, params, grad,
                                  sizes, w_off, b_off, hidden_code, output_code, loss_code,
                                  chunk, acts, deltas, targets, z_out, scratch)


@kernel
def forward_narrow(X, params, sizes, w_off, b_off, hidden_code, output_code, out):
    """out = output activations of the network for every row of X, for a network and a number
    of rows that are ``narrow_fits``: fastnn.kernels.training.forward_rows in chunks, feature
    major (allocates its buffers)."""
    n_samples = X.shape[0]
    n_layers = sizes.size - 1
    n_out = sizes[n_layers]
    chunk = chunk_rows(n_samples, sizes, params.itemsize)
    width = 0
    for layer in range(n_layers + 1):
        width += sizes[layer]
    acts = np.empty(chunk * width, params.dtype)
    scratch = np.empty(2 * chunk, params.dtype)
    no_order = np.empty(0, np.int64)
    for first in range(0, n_samples, chunk):
        m = min(chunk, n_samples - first)
        gather_chunk(X, no_order, False, first, m, acts)
        top = forward_chunk(m, params, sizes, w_off, b_off, hidden_code, output_code, False,
                            acts, scratch, scratch)
        o = out[first:first + m]
        for j in range(n_out):
            a = acts[top + j * m:top + (j + 1) * m]
            for i in range(m):
                o[i, j] = a[i]
