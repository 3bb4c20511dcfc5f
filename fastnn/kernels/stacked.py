"""Stacks of K networks of one architecture (fastnn.MLPStack) on the per-sample path,
model-minor: ``train_lanes`` trains nl models at once.

With layers a few units wide, one model's per-sample step is a few hundred scalar
operations in loops too short to vectorise (fastnn.kernels.per_sample). Here every buffer
holds value q of every model side by side (q * nl + l for lane l of nl), and each scalar
operation of the per-sample kernel becomes a loop over the lanes, which LLVM vectorises.
Each lane keeps the per-sample kernel's order of operations, so every model ends where it
ends alone, to rounding. (Stacks on the other paths, and small ones, train each model with
its path's own kernel: fastnn.stack.)

The bundles, for one group of nl lanes (fastnn.MLPStack runs one group per thread):
``params`` (n_params * nl);
``opt = (code, state (n_state, n_params * nl), table, steps (nl,))``, ``table`` (TABLE_ROWS
* TILE) holding lane l's hyperparameter h at h * TILE + b * nl + l for b < TILE_PARAMS, and
scratch;
``batches = (X, T, weights, orders, batch_weights, batch_size, mean, l2)`` as
fastnn.kernels' with weights (nl, n), orders (nl, epochs, n or 0) and batch_weights (nl,
epochs or 1, batches); ``work = (grad, acts, deltas, z_out, t_buf, w_buf, wide)``: the
per-sample workspace with nl values for each (w_buf float64), and ``wide`` (WIDE_ROWS *
LANES_MAX) float64 per-lane scratch; ``out`` (nl, epochs) each.
"""
import numpy as np

from ._jit import kernel
from .activations import softplus
from .codes import (BATCH_MEANS, BINARY_CROSS_ENTROPY, COMPILED_ACTIVATIONS, COMPILED_LOSSES,
                    COMPILED_OPTIMIZERS, CROSS_ENTROPY, OPT_ADAM, OPT_SGD, OPT_SKLEARN_ADAM,
                    OPT_SKLEARN_SGD, POISSON, SOFTMAX, SQUARED_ERROR)
from .elementary import vexp, vlog1p
from .losses import delta_needs_derivative, poisson
from .per_sample import activate, multiply_derivative
from .updates import apply_update


LANES_MAX = 64
"""The most lanes a group holds. Per-lane values (hyperparameters, scratch) sit in tables of
rows a distance apart known when compiling: LLVM checks at run time that the arrays a
vectorised loop touches do not overlap and gives up vectorising past a handful of such
checks; accesses to one array at known distances need none among themselves."""
TILE_PARAMS = 8
"""The update runs over TILE_PARAMS parameters of every lane per pass of its inner loop (a
loop of nl iterations is too short: its set-up, the overlap checks, cost as much as its
work), reading each lane's hyperparameters from ``table`` rows that repeat the nl lanes'
values TILE_PARAMS times."""
TILE = TILE_PARAMS * LANES_MAX
"""The length of a row of ``table``."""
# Rows of the per-lane table in the parameters' dtype (``table``, rows TILE apart): the
# optimizer's hyperparameters first (its _hyperparameters order, each lane's value repeated
# TILE_PARAMS times), then scratch (the per-lane values of the first nl entries of a row;
# update_lanes repeats its rows) ...
STEP_SIZE, CORRECTION, ACTIVE, KEEP, L2_FACTOR, PEAK, SUM, ROW_SCALE = range(5, 13)
TABLE_ROWS = 13
# ... and in float64 (``wide``).
WEIGHT, SCALE, FACTOR, BATCH_SUM, TOTAL, PENALTIES, WEIGHT_TOTAL, SQUARES = range(8)
WIDE_ROWS = 8


@kernel(inline=True)
def softmax_lanes(a, start, rows, n, nl, table):
    """fastnn.kernels.activations.softmax_rows on model-minor rows (output j of row i of
    lane l at a[start + (i n + j) nl + l]), each lane's in the same order."""
    start = max(start, 0)
    peak = PEAK * TILE
    total = SUM * TILE
    for row in range(rows):
        first = max(start + row * n * nl, 0)
        for l in range(nl):
            table[peak + l] = a[first + l]
        for j in range(1, n):
            at = max(first + j * nl, 0)
            for l in range(nl):
                table[peak + l] = max(table[peak + l], a[at + l])
        for j in range(n):
            at = max(first + j * nl, 0)
            for l in range(nl):
                a[at + l] = a[at + l] - table[peak + l]
    for i in range(rows * n * nl):
        a[start + i] = vexp(a[start + i])
    zero = a.dtype.type(0.0)
    for row in range(rows):
        first = max(start + row * n * nl, 0)
        for l in range(nl):
            table[total + l] = zero
        for j in range(n):
            at = max(first + j * nl, 0)
            for l in range(nl):
                table[total + l] += a[at + l]
        for j in range(n):
            at = max(first + j * nl, 0)
            for l in range(nl):
                a[at + l] = a[at + l] / table[total + l]


@kernel(inline=True)
def loss_lanes(loss, output, z, a, a_start, t, w, delta, d_start, rows, n, nl, wide, table):
    """fastnn.kernels.losses.loss_rows on model-minor rows: adds lane l's weighted loss sum to
    its BATCH_SUM in ``wide`` and writes delta = scale_l w dL/dz (scale_l: its SCALE); each
    lane's sum in loss_rows' order. Cross-entropy takes log a as log1p(a - 1) (a >= 1/n),
    which vectorises."""
    zero = a.dtype.type(0.0)
    one = a.dtype.type(1.0)
    half = a.dtype.type(0.5)
    a_start = max(a_start, 0)
    d_start = max(d_start, 0)
    sums = BATCH_SUM * LANES_MAX
    scale = SCALE * LANES_MAX
    row_scale = ROW_SCALE * TILE
    peak = PEAK * TILE
    extra = SUM * TILE
    for row in range(rows):
        first = max(row * n * nl, 0)
        weights = w[max(row * nl, 0):max((row + 1) * nl, 0)]
        for l in range(nl):
            table[row_scale + l] = a.dtype.type(wide[scale + l] * weights[l])
        if BINARY_CROSS_ENTROPY in COMPILED_LOSSES and loss == BINARY_CROSS_ENTROPY:
            for j in range(n):
                at = max(first + j * nl, 0)
                for l in range(nl):
                    q = at + l
                    wide[sums + l] += weights[l] * (softplus(z[q], zero) - t[q] * z[q])
                    delta[d_start + q] = table[row_scale + l] * (a[a_start + q] - t[q])
        elif POISSON in COMPILED_LOSSES and loss == POISSON:
            for j in range(n):
                at = max(first + j * nl, 0)
                for l in range(nl):
                    q = at + l
                    wide[sums + l] += weights[l] * poisson(z[q], a[a_start + q], t[q], zero)
                    delta[d_start + q] = table[row_scale + l] * (a[a_start + q] - t[q])
        elif CROSS_ENTROPY in COMPILED_LOSSES and loss == CROSS_ENTROPY:
            for l in range(nl):
                table[peak + l] = z[first + l]
                table[extra + l] = a[a_start + first + l]
            for j in range(1, n):
                at = max(first + j * nl, 0)
                for l in range(nl):
                    higher = z[at + l] > table[peak + l]
                    table[peak + l] = z[at + l] if higher else table[peak + l]
                    table[extra + l] = a[a_start + at + l] if higher else table[extra + l]
            for l in range(nl):  # log_sum_exp, then the targets' sum
                table[peak + l] = table[peak + l] - vlog1p(table[extra + l] - one)
                table[extra + l] = zero
            for j in range(n):
                at = max(first + j * nl, 0)
                for l in range(nl):
                    q = at + l
                    wide[sums + l] += weights[l] * (t[q] * (table[peak + l] - z[q]))
                    table[extra + l] += t[q]
            for j in range(n):
                at = max(first + j * nl, 0)
                for l in range(nl):
                    q = at + l
                    delta[d_start + q] = table[row_scale + l] * (
                        a[a_start + q] * table[extra + l] - t[q])
        elif SQUARED_ERROR in COMPILED_LOSSES:  # loss == SQUARED_ERROR
            for j in range(n):
                at = max(first + j * nl, 0)
                for l in range(nl):
                    q = at + l
                    error = a[a_start + q] - t[q]
                    wide[sums + l] += weights[l] * (half * error * error)
                    delta[d_start + q] = table[row_scale + l] * error
            if SOFTMAX in COMPILED_ACTIVATIONS and output == SOFTMAX:
                for l in range(nl):
                    table[extra + l] = zero
                for j in range(n):
                    at = max(first + j * nl, 0)
                    for l in range(nl):
                        table[extra + l] += delta[d_start + at + l] * a[a_start + at + l]
                for j in range(n):
                    at = max(first + j * nl, 0)
                    for l in range(nl):
                        q = at + l
                        delta[d_start + q] = a[a_start + q] * (delta[d_start + q] -
                                                               table[extra + l])


@kernel(inline=True)
def penalize_lanes(l2, params, grad, net, nl, wide, table):
    """fastnn.kernels.updates.add_weight_penalty for every lane: grad_W += scale_l l2 W; lane
    l's sum of W^2 into its SQUARES in ``wide``."""
    sizes, w_off, _, _, _ = net
    squares = SQUARES * LANES_MAX
    factor = L2_FACTOR * TILE
    for l in range(nl):
        wide[squares + l] = 0.0
        table[factor + l] = params.dtype.type(wide[SCALE * LANES_MAX + l] * l2)
    for layer in range(sizes.size - 1):
        start = max(max(w_off[layer], 0) * nl, 0)
        for q in range(sizes[layer] * sizes[layer + 1]):
            at = max(start + q * nl, 0)
            for l in range(nl):
                v = params[at + l]
                wide[squares + l] += v * v
                grad[at + l] += table[factor + l] * v


@kernel(inline=True)
def uniform_lanes(code, table, steps, nl):
    """Whether every lane takes this update with the same hyperparameters (and, for Adam,
    the same step count), none of them left out (ACTIVE): then the update is one loop over
    all parameters with the constants in registers."""
    zero = table.dtype.type(0.0)
    for l in range(nl):
        if table[ACTIVE * TILE + l] == zero:
            return False
        if (code == OPT_ADAM or code == OPT_SKLEARN_ADAM) and steps[l] != steps[0]:
            return False
        for h in range(5):
            if table[h * TILE + l] != table[h * TILE]:
                return False
    return True


@kernel(inline=True)
def update_lanes(opt, params, grad, nl):
    """fastnn.kernels.updates.apply_update for every lane, each with its own hyperparameters
    (table rows 0.., in the optimizer's order) and step count; lanes whose ACTIVE is 0 keep
    their parameters and state (their batch weighed 0). The rules as updates.py's, per lane;
    SGD's (torch's) in one form for every momentum: b = momentum v + (g + weight_decay p),
    v = b where momentum > 0, p -= lr (g' + momentum b if nesterov else b), which for
    momentum 0 is p -= lr (g + weight_decay p). Parameters TILE_PARAMS at a time (TILE)."""
    code, state, table, steps = opt
    one = params.dtype.type(1.0)
    zero = params.dtype.type(0.0)
    n = params.size // nl
    if uniform_lanes(code, table, steps, nl):  # one flat loop, as a model alone
        # lane 0's hyperparameters (table rows 0.., TILE apart) are every lane's
        apply_update((code, state, table[0:5 * TILE:TILE], steps[0:1]), params, grad, 0,
                     params.size)
        return
    for l in range(nl):
        t = params.dtype.type(steps[l])
        active = table[ACTIVE * TILE + l] != zero
        if code == OPT_SGD:
            table[KEEP * TILE + l] = one if (active and table[TILE + l] != zero) else zero
            table[STEP_SIZE * TILE + l] = table[l] if active else zero
        elif code == OPT_ADAM:
            table[STEP_SIZE * TILE + l] = table[l] / (one - table[TILE + l] ** t)
            table[CORRECTION * TILE + l] = np.sqrt(one - table[2 * TILE + l] ** t)
        elif code == OPT_SKLEARN_ADAM:
            table[STEP_SIZE * TILE + l] = table[l] * np.sqrt(one - table[2 * TILE + l] ** t) / (
                one - table[TILE + l] ** t)
    for row in (STEP_SIZE, CORRECTION, ACTIVE, KEEP):  # each lane's value, TILE_PARAMS times
        lanes = table[row * TILE:row * TILE + nl]
        for b in range(1, TILE_PARAMS):
            repeat = table[max(row * TILE + b * nl, 0):max(row * TILE + (b + 1) * nl, 0)]
            for l in range(nl):
                repeat[l] = lanes[l]
    first = state[0]
    second = state[state.shape[0] - 1]
    for q0 in range(0, n, TILE_PARAMS):
        base = max(q0 * nl, 0)
        count = max(min(TILE_PARAMS, n - q0) * nl, 0)
        if OPT_SGD in COMPILED_OPTIMIZERS and code == OPT_SGD:  # lr, momentum, decay, nesterov
            for c in range(count):
                i = base + c
                g2 = grad[i] + table[2 * TILE + c] * params[i]
                b = table[TILE + c] * first[i] + g2
                first[i] = b if table[KEEP * TILE + c] != zero else first[i]
                params[i] -= table[STEP_SIZE * TILE + c] * (
                    (g2 + table[TILE + c] * b) if table[3 * TILE + c] != zero else b)
        elif OPT_SKLEARN_SGD in COMPILED_OPTIMIZERS and code == OPT_SKLEARN_SGD:
            # lr, momentum, nesterov
            for c in range(count):
                i = base + c
                velocity = table[TILE + c] * first[i] - table[c] * grad[i]
                moved = params[i] + ((table[TILE + c] * velocity - table[c] * grad[i])
                                     if table[2 * TILE + c] != zero else velocity)
                active = table[ACTIVE * TILE + c] != zero
                first[i] = velocity if active else first[i]
                params[i] = moved if active else params[i]
        elif OPT_ADAM in COMPILED_OPTIMIZERS or OPT_SKLEARN_ADAM in COMPILED_OPTIMIZERS:
            # Adam (torch's: lr, beta1, beta2, eps, weight_decay; scikit-learn's: no decay)
            torch = code == OPT_ADAM
            for c in range(count):  # the moments (a loop of their own: fewer arrays a loop)
                i = base + c
                g = grad[i] + table[4 * TILE + c] * params[i] if torch else grad[i]
                m = table[TILE + c] * first[i] + (one - table[TILE + c]) * g
                v = (table[2 * TILE + c] * second[i] + (one - table[2 * TILE + c]) * g * g
                     if torch else
                     table[2 * TILE + c] * second[i] + (one - table[2 * TILE + c]) * (g * g))
                active = table[ACTIVE * TILE + c] != zero
                first[i] = m if active else first[i]
                second[i] = v if active else second[i]
            for c in range(count):  # the step
                i = base + c
                if torch:
                    moved = params[i] - table[STEP_SIZE * TILE + c] * first[i] / (
                        np.sqrt(second[i]) / table[CORRECTION * TILE + c] + table[3 * TILE + c])
                else:
                    moved = params[i] - table[STEP_SIZE * TILE + c] * first[i] / (
                        np.sqrt(second[i]) + table[3 * TILE + c])
                params[i] = moved if table[ACTIVE * TILE + c] != zero else params[i]


@kernel(entry=True)
def train_lanes(net, params, opt, batches, work, out):
    """fastnn.kernels.per_sample.train_per_sample for nl models at once, model-minor (see
    the module's docstring): the same batches, loss, l2 penalty and update for each lane,
    lane l taking rows in its own order orders[l, epoch] with its own weights. A batch
    whose weight is 0 in a lane makes no update there (no step). Returns the epochs run:
    it stops after the first epoch in which a lane's loss is not finite."""
    sizes, w_off, b_off, activations, loss = net
    X, T, weights, orders, batch_weights, batch_size, mean, l2 = batches
    steps = opt[3]
    grad, acts, deltas, z_out, t_buf, w_buf, wide = work
    table = opt[2]
    L = LANES_MAX
    epoch_losses, epoch_penalties = out
    zero = params.dtype.type(0.0)
    one = params.dtype.type(1.0)
    nl = max(steps.size, 0)
    n_layers = sizes.size - 1
    last = n_layers - 1
    output = activations[last]
    n_in = max(sizes[0], 0)
    n_out = max(sizes[n_layers], 0)
    n_samples = X.shape[0]
    n_epochs = orders.shape[1]
    shuffled = orders.shape[2] > 0
    n_batches = batch_weights.shape[2]
    active = ACTIVE * TILE
    for epoch in range(n_epochs):
        for l in range(nl):
            wide[TOTAL * L + l] = 0.0
            wide[PENALTIES * L + l] = 0.0
            wide[WEIGHT_TOTAL * L + l] = 0.0
        for batch in range(n_batches):
            start = batch * batch_size
            stop = min(start + batch_size, n_samples)
            rows = max(stop - start, 0)
            any_active = False
            for l in range(nl):
                weight = batch_weights[l, epoch if shuffled else 0, batch]
                wide[WEIGHT * L + l] = weight
                if weight != 0:
                    any_active = True
                    table[active + l] = one
                    wide[SCALE * L + l] = 1.0 / weight if mean else 1.0
                    if mean == BATCH_MEANS:
                        wide[FACTOR * L + l] = rows / weight
                        wide[WEIGHT_TOTAL * L + l] += float(rows)
                    else:
                        wide[FACTOR * L + l] = 1.0
                        wide[WEIGHT_TOTAL * L + l] += weight
                else:
                    table[active + l] = zero
                    wide[SCALE * L + l] = 0.0
                    wide[FACTOR * L + l] = 0.0
                wide[BATCH_SUM * L + l] = 0.0
            if not any_active:
                continue
            for i in range(rows):
                for l in range(nl):
                    r = orders[l, epoch, start + i] if shuffled else start + i
                    for p in range(n_in):
                        acts[(i * n_in + p) * nl + l] = X[r, p]
                    for j in range(n_out):
                        t_buf[(i * n_out + j) * nl + l] = T[r, j]
                    w_buf[i * nl + l] = weights[l, r]

            # Forward: z_j = b_j + sum_p a_p W[p, j], p in order, for every lane.
            s = 0
            for layer in range(n_layers):
                k = max(sizes[layer], 0)
                n = max(sizes[layer + 1], 0)
                w = max(max(w_off[layer], 0) * nl, 0)
                b = max(max(b_off[layer], 0) * nl, 0)
                has_bias = b_off[layer] >= 0
                d = max(s + rows * k, 0)
                for i in range(rows):
                    si = max((s + i * k) * nl, 0)
                    di = max((d + i * n) * nl, 0)
                    for q in range(n * nl):
                        acts[di + q] = params[b + q] if has_bias else zero
                    for p in range(k):
                        ap = max(si + p * nl, 0)
                        row = max(w + p * n * nl, 0)
                        for j in range(n):
                            zj = max(di + j * nl, 0)
                            wj = max(row + j * nl, 0)
                            for l in range(nl):
                                acts[zj + l] += acts[ap + l] * params[wj + l]
                size = rows * n * nl
                if layer == last:
                    top_at = max(d * nl, 0)
                    for q in range(size):
                        z_out[q] = acts[top_at + q]
                code = activations[layer]
                if SOFTMAX in COMPILED_ACTIVATIONS and code == SOFTMAX:
                    softmax_lanes(acts, d * nl, rows, n, nl, table)
                else:
                    activate(code, acts, d * nl, size)
                s = d

            # Loss and output delta.
            top = s
            loss_lanes(loss, output, z_out, acts, top * nl, t_buf, w_buf, deltas,
                       (top - rows * n_in) * nl, rows, n_out, nl, wide, table)
            for l in range(nl):
                wide[TOTAL * L + l] += wide[FACTOR * L + l] * wide[BATCH_SUM * L + l]

            # Backward.
            d = top
            for layer in range(last, -1, -1):
                k = max(sizes[layer], 0)
                n = max(sizes[layer + 1], 0)
                w = max(max(w_off[layer], 0) * nl, 0)
                b = max(max(b_off[layer], 0) * nl, 0)
                has_bias = b_off[layer] >= 0
                s = max(d - rows * k, 0)
                e = max(d - rows * n_in, 0)
                size = rows * n * nl
                if layer < last or delta_needs_derivative(loss, output):
                    multiply_derivative(activations[layer], acts, d * nl, deltas, e * nl, size)
                for i in range(rows):
                    si = max((s + i * k) * nl, 0)
                    ei = max((e + i * n) * nl, 0)
                    for p in range(k):
                        ap = max(si + p * nl, 0)
                        row = max(w + p * n * nl, 0)
                        for j in range(n):
                            gj = max(row + j * nl, 0)
                            dj = max(ei + j * nl, 0)
                            if i == 0:
                                for l in range(nl):
                                    grad[gj + l] = acts[ap + l] * deltas[dj + l]
                            else:
                                for l in range(nl):
                                    grad[gj + l] += acts[ap + l] * deltas[dj + l]
                    if has_bias:
                        if i == 0:
                            for q in range(n * nl):
                                grad[b + q] = deltas[ei + q]
                        else:
                            for q in range(n * nl):
                                grad[b + q] += deltas[ei + q]
                if layer > 0:
                    below = max(s - rows * n_in, 0)
                    for i in range(rows):
                        ei = max((e + i * n) * nl, 0)
                        bi = max((below + i * k) * nl, 0)
                        for q in range(k * nl):
                            deltas[bi + q] = zero
                        for j in range(n):
                            dj = max(ei + j * nl, 0)
                            for p in range(k):
                                wj = max(w + (p * n + j) * nl, 0)
                                bp = max(bi + p * nl, 0)
                                for l in range(nl):
                                    deltas[bp + l] += deltas[dj + l] * params[wj + l]
                d = s

            for l in range(nl):
                if table[active + l] != zero:
                    steps[l] += 1
            if l2 != 0:
                penalize_lanes(l2, params, grad, net, nl, wide, table)
                for l in range(nl):
                    wide[PENALTIES * L + l] += wide[FACTOR * L + l] * (
                        0.5 * l2 * wide[SQUARES * L + l])
            update_lanes(opt, params, grad, nl)
        finite = True
        for l in range(nl):
            total = wide[TOTAL * L + l] + wide[PENALTIES * L + l]
            epoch_losses[l, epoch] = total / wide[WEIGHT_TOTAL * L + l]
            epoch_penalties[l, epoch] = wide[PENALTIES * L + l] / wide[WEIGHT_TOTAL * L + l]
            finite = finite and abs(total) < np.inf
        if not finite:
            return epoch + 1
    return n_epochs
