"""Optimizer updates and the end of a batch and of an epoch, shared by every training path,
and the epoch loop of the paths that run each batch on one thread (train_epochs).

The optimizer reaches a kernel as one bundle, ``opt = (code, state, hyper, step)``: its code
(fastnn.kernels.codes), its state rows (one flat parameter-shaped vector each), its
hyperparameters and its step counter (int64[1]). Each rule is written once, for one
parameter (sgd_step, adam_step, sklearn_sgd_step, sklearn_adam_step), and runs in two loops:
apply_update's over a range lo..hi of a flat gradient buffer (a batch's update runs over the
ranges of its parts, ``parameter_range``, so one thread and several give the same bits),
and update_rows' over rows of a layer whose gradient is an outer product (the per-sample
path's, never stored). The loops index views from 0 or from offsets written max(i, 0), not
range(lo, hi), whose indices LLVM cannot prove non-negative (numba wraps negative ones), so
that loop would not vectorise.
"""
import numpy as np

from ._jit import kernel
from .codes import (BATCH_MEANS, COMPILED_OPTIMIZERS, OPT_ADAM, OPT_SGD, OPT_SKLEARN_ADAM,
                    OPT_SKLEARN_SGD)


@kernel
def sgd_step(p, g, b, lr, momentum, decay, nesterov):
    """torch.optim.SGD with dampening 0, for one parameter p with gradient g and momentum
    buffer b (0 before the first step, so b = g on it): (p, b) after the step,

    g += decay p;  b = momentum b + g;  p -= lr (g + momentum b if nesterov else b)
    (momentum 0: p -= lr g, b left as it is). decay: the weight decay (on the per-sample
    path plus the l2 penalty's factor for weights: update_rows)."""
    g = g + decay * p
    if momentum == 0:
        return p - lr * g, b
    b = momentum * b + g
    return p - lr * (g + momentum * b if nesterov else b), b


@kernel
def adam_step(p, g, m, v, step_size, bias_correction2_sqrt, beta1, beta2, w1, w2, eps, decay):
    """torch.optim.Adam (amsgrad=False, maximize=False) for one parameter: (p, m, v) after
    step t, with step_size = lr / (1 - beta1^t), bias_correction2_sqrt = sqrt(1 - beta2^t),
    w1 = 1 - beta1, w2 = 1 - beta2 (m and v start at 0):

    g += decay p;  m = beta1 m + w1 g;  v = beta2 v + w2 g^2;
    p -= step_size m / (sqrt(v) / bias_correction2_sqrt + eps)

    formed as in torch's ``_single_tensor_adam``."""
    g = g + decay * p
    m = beta1 * m + w1 * g
    v = beta2 * v + w2 * g * g
    return p - step_size * m / (np.sqrt(v) / bias_correction2_sqrt + eps), m, v


@kernel
def sklearn_sgd_step(p, g, u, lr, momentum, nesterov, decay):
    """scikit-learn's SGDOptimizer for one parameter with velocity u (it holds lr-scaled
    steps, so a changing lr acts differently from torch's): (p, u) after the step,

    g += decay p (the per-sample path's l2 penalty: update_rows);  u = momentum u - lr g;
    p += momentum u - lr g if nesterov else u."""
    g = g + decay * p
    u = momentum * u - lr * g
    return p + (momentum * u - lr * g if nesterov else u), u


@kernel
def sklearn_adam_step(p, g, m, v, step_size, beta1, beta2, w1, w2, eps, decay):
    """scikit-learn's AdamOptimizer for one parameter: (p, m, v) after step t, with
    step_size = lr sqrt(1 - beta2^t) / (1 - beta1^t), w1 = 1 - beta1, w2 = 1 - beta2 (m and
    v start at 0):

    g += decay p (as sklearn_sgd_step);  m = beta1 m + w1 g;  v = beta2 v + w2 g^2;
    p -= step_size m / (sqrt(v) + eps)
    (eps is added to sqrt(v) before the bias correction, unlike torch.optim.Adam)."""
    g = g + decay * p
    m = beta1 * m + w1 * g
    v = beta2 * v + w2 * (g * g)
    return p - step_size * m / (np.sqrt(v) + eps), m, v


@kernel
def gradient_row(r, cols, coefs, c_lo, c_step, g_lo, g_step):
    """(c, at, g_at) of row r in update_rows: its coefficient, its first parameter (from
    lo) and where its gradient row starts in grad."""
    return coefs[max(c_lo + r * c_step, 0)], max(r * cols, 0), max(g_lo + r * g_step, 0)


@kernel(inline=True)
def update_rows(opt, params, lo, rows, cols, coefs, c_lo, c_step, grad, g_lo, g_step, l2f):
    """Optimizer step number opt's step[0] (1 first) for parameters lo.. in ``rows`` rows of
    ``cols``: parameter lo + r cols + i has gradient c grad[g_lo + r g_step + i], c =
    coefs[c_lo + r c_step], plus l2f times itself (the l2 penalty's gradient; 0 for biases).
    So a layer's weight gradient from one row of data, the outer product a x delta, goes
    into the update without being stored (c_step 1, g_step 0), as does a gradient buffer
    (coefs [1], c_step 0, g_step cols). The rules and the bundle as apply_update's.
    """
    code, state, hyper, step = opt
    size = max(rows * cols, 0)
    p = params[lo:lo + size]
    first = state[0][lo:lo + size]
    one = params.dtype.type(1.0)
    lr = hyper[0]
    if OPT_SGD in COMPILED_OPTIMIZERS and code == OPT_SGD:
        momentum = hyper[1]
        decay = hyper[2] + l2f
        nesterov = hyper[3] != 0
        if momentum == 0:  # the rule's branch, taken once for all rows
            for r in range(rows):
                c, at, g_at = gradient_row(r, cols, coefs, c_lo, c_step, g_lo, g_step)
                for i in range(cols):
                    p[at + i] = sgd_step(p[at + i], c * grad[g_at + i], one, lr, momentum,
                                         decay, nesterov)[0]
        else:
            for r in range(rows):
                c, at, g_at = gradient_row(r, cols, coefs, c_lo, c_step, g_lo, g_step)
                for i in range(cols):
                    p[at + i], first[at + i] = sgd_step(p[at + i], c * grad[g_at + i],
                                                        first[at + i], lr, momentum, decay,
                                                        nesterov)
    elif OPT_ADAM in COMPILED_OPTIMIZERS and code == OPT_ADAM:
        last = state[1][lo:lo + size]
        t = params.dtype.type(step[0])
        step_size = lr / (one - hyper[1] ** t)
        correction = np.sqrt(one - hyper[2] ** t)
        w1 = one - hyper[1]
        w2 = one - hyper[2]
        decay = hyper[4] + l2f
        for r in range(rows):
            c, at, g_at = gradient_row(r, cols, coefs, c_lo, c_step, g_lo, g_step)
            for i in range(cols):
                j = at + i
                p[j], first[j], last[j] = adam_step(p[j], c * grad[g_at + i], first[j],
                                                    last[j], step_size, correction, hyper[1],
                                                    hyper[2], w1, w2, hyper[3], decay)
    elif OPT_SKLEARN_SGD in COMPILED_OPTIMIZERS and code == OPT_SKLEARN_SGD:
        momentum = hyper[1]
        nesterov = hyper[2] != 0
        for r in range(rows):
            c, at, g_at = gradient_row(r, cols, coefs, c_lo, c_step, g_lo, g_step)
            for i in range(cols):
                p[at + i], first[at + i] = sklearn_sgd_step(
                    p[at + i], c * grad[g_at + i], first[at + i], lr, momentum, nesterov, l2f)
    elif OPT_SKLEARN_ADAM in COMPILED_OPTIMIZERS and code == OPT_SKLEARN_ADAM:
        last = state[1][lo:lo + size]
        t = params.dtype.type(step[0])
        step_size = lr * np.sqrt(one - hyper[2] ** t) / (one - hyper[1] ** t)
        w1 = one - hyper[1]
        w2 = one - hyper[2]
        for r in range(rows):
            c, at, g_at = gradient_row(r, cols, coefs, c_lo, c_step, g_lo, g_step)
            for i in range(cols):
                j = at + i
                p[j], first[j], last[j] = sklearn_adam_step(p[j], c * grad[g_at + i],
                                                            first[j], last[j], step_size,
                                                            hyper[1], hyper[2], w1, w2,
                                                            hyper[3], l2f)


@kernel(inline=True)
def apply_update(opt, params, grad, lo, hi):
    """Optimizer step number opt's step[0] (1 first) for parameters lo..hi-1, whose gradient
    is grad[lo..hi-1], by the rules sgd_step, adam_step, sklearn_sgd_step and
    sklearn_adam_step (SGD's branch on momentum taken once for the loop).

    SGD: state[0] = momentum buffer; hyper = (lr, momentum, weight_decay, nesterov).
    Adam: state[0] = exp_avg, state[1] = exp_avg_sq; hyper = (lr, beta1, beta2, eps,
    weight_decay); the bias corrections use ``step``.
    scikit-learn's SGD: state[0] = velocity; hyper = (lr, momentum, nesterov).
    scikit-learn's Adam: state[0] = m, state[1] = v; hyper = (lr, beta1, beta2, eps).
    """
    code, state, hyper, step = opt
    p = params[lo:hi]
    g = grad[lo:hi]
    first = state[0][lo:hi]
    one = params.dtype.type(1.0)
    zero = params.dtype.type(0.0)
    lr = hyper[0]
    if OPT_SGD in COMPILED_OPTIMIZERS and code == OPT_SGD:
        momentum = hyper[1]
        nesterov = hyper[3] != 0
        if momentum == 0:
            for i in range(p.size):
                p[i] = sgd_step(p[i], g[i], zero, lr, momentum, hyper[2], nesterov)[0]
        else:
            for i in range(p.size):
                p[i], first[i] = sgd_step(p[i], g[i], first[i], lr, momentum, hyper[2],
                                          nesterov)
    elif OPT_ADAM in COMPILED_OPTIMIZERS and code == OPT_ADAM:
        last = state[1][lo:hi]
        t = params.dtype.type(step[0])
        step_size = lr / (one - hyper[1] ** t)
        correction = np.sqrt(one - hyper[2] ** t)
        w1 = one - hyper[1]
        w2 = one - hyper[2]
        for i in range(p.size):
            p[i], first[i], last[i] = adam_step(p[i], g[i], first[i], last[i], step_size,
                                                correction, hyper[1], hyper[2], w1, w2,
                                                hyper[3], hyper[4])
    elif OPT_SKLEARN_SGD in COMPILED_OPTIMIZERS and code == OPT_SKLEARN_SGD:
        nesterov = hyper[2] != 0
        for i in range(p.size):
            p[i], first[i] = sklearn_sgd_step(p[i], g[i], first[i], lr, hyper[1], nesterov,
                                              zero)
    elif OPT_SKLEARN_ADAM in COMPILED_OPTIMIZERS and code == OPT_SKLEARN_ADAM:
        last = state[1][lo:hi]
        t = params.dtype.type(step[0])
        step_size = lr * np.sqrt(one - hyper[2] ** t) / (one - hyper[1] ** t)
        w1 = one - hyper[1]
        w2 = one - hyper[2]
        for i in range(p.size):
            p[i], first[i], last[i] = sklearn_adam_step(p[i], g[i], first[i], last[i],
                                                        step_size, hyper[1], hyper[2], w1,
                                                        w2, hyper[3], zero)


@kernel(inline=True)
def parameter_range(part, n_parts, n_params):
    """(lo, hi): part ``part`` of ``n_parts`` about equal ranges of the parameters."""
    span = (n_params + n_parts - 1) // n_parts
    lo = min(part * span, n_params)
    return lo, min(lo + span, n_params)


@kernel(inline=True)
def add_weight_penalty(l2, scale, params, grad, net, lo, hi):
    """grad_W += scale * l2 * W for the weights of every layer (biases are left alone) among
    parameters lo..hi-1: the gradient of the penalty 1/2 l2 sum ||W||^2. Returns their sum
    of W^2 (float64)."""
    sizes, w_off, _, _, _ = net
    factor = params.dtype.type(scale * l2)
    squares = 0.0
    for layer in range(sizes.size - 1):
        start = max(w_off[layer], lo)
        stop = min(w_off[layer] + sizes[layer] * sizes[layer + 1], hi)
        if stop > start:
            w = params[start:stop]  # views from 0: this loop vectorises
            g = grad[start:stop]
            for i in range(stop - start):
                squares += w[i] * w[i]
                g[i] += factor * w[i]
    return squares


@kernel(inline=True)
def batch_scale(mean, weight):
    """The factor of a batch's gradient: 1 / its weight (the mean reduction), else 1, in
    float64: each row's factor, scale * w_i, is formed in float64 and then rounded to the
    parameters' dtype, so a float32 batch weight that overflows or rows of subnormal weights
    still give w_i / (sum of the batch's weights)."""
    return 1.0 / weight if mean else 1.0


@kernel(inline=True)
def batch_share(mean, rows, weight):
    """(factor, counted): the batch's loss and penalty count ``factor`` times in its epoch's,
    and the batch counts ``counted`` toward the epoch's weight: 1 and its weight; for
    BATCH_MEANS (scikit-learn's epoch loss, the batches' weighted means weighted by their
    rows), rows / weight and rows, which are the same for unit weights."""
    if mean == BATCH_MEANS:
        return rows / weight, float(rows)
    return 1.0, weight


@kernel
def penalize_and_update(l2, scale, params, grad, net, opt, lo, hi):
    """The end of a batch for parameters lo..hi-1: grad += the gradient of the l2 penalty
    (scaled as the batch's gradient), then the optimizer's step number opt[3][0] (the caller
    counts it, once a batch). A batch's update runs range by range over its parts' ranges
    (parameter_range), on threads or not. Returns the range's share of the penalty,
    1/2 l2 sum ||W||^2 (0 without l2)."""
    penalty = 0.0
    if l2 != 0:
        penalty = 0.5 * l2 * add_weight_penalty(l2, scale, params, grad, net, lo, hi)
    apply_update(opt, params, grad, lo, hi)
    return penalty


@kernel(inline=True)
def train_epochs(batch_loss_grad, net, params, opt, batches, work, out):
    """Train len(orders) epochs on a path that runs each batch on one thread (batched,
    narrow, sparse: its entry kernel inlines this loop around its own batch_loss_grad(net,
    params, X, T, weights, order, start, stop, scale, work), which leaves scale times the
    gradient of the weighted loss of rows order[start:stop] in work[0] and returns that
    loss); epoch e takes rows in orders[e] (storage order when orders has no columns).
    Returns the number of epochs run.

    batches = (X, T, weights, orders, batch_weights, batch_size, mean, l2). A batch's loss is
    the weighted sum of its per-sample losses plus 1/2 l2 sum ||W||^2 (weights only), taken
    before its update; the gradient is scale (1/the batch's weight for the mean reduction,
    else 1) times its derivative. A batch of weight 0 makes no update. out = (epoch_losses,
    epoch_penalties): epoch e's loss over its weight, and the penalty part of it. Stops after
    the first epoch whose loss is not finite.
    """
    X, T, weights, orders, batch_weights, batch_size, mean, l2 = batches
    step = opt[3]
    grad = work[0]
    n = weights.size
    n_epochs = orders.shape[0]
    shuffled = orders.shape[1] > 0
    for epoch in range(n_epochs):
        order = orders[epoch]
        epoch_weights = batch_weights[epoch if shuffled else 0]
        total = 0.0
        penalties = 0.0
        weight_total = 0.0
        for batch in range(epoch_weights.size):
            start = batch * batch_size
            stop = min(start + batch_size, n)
            weight = epoch_weights[batch]
            if weight == 0:
                continue
            factor, counted = batch_share(mean, stop - start, weight)
            weight_total += counted
            scale = batch_scale(mean, weight)
            total += factor * batch_loss_grad(net, params, X, T, weights, order, start, stop,
                                              scale, work)
            step[0] += 1
            penalties += factor * penalize_and_update(l2, scale, params, grad, net, opt,
                                                      np.int64(0), params.size)
        if not record_epoch(epoch, total, penalties, weight_total, out):
            return epoch + 1
    return n_epochs


@kernel(inline=True)
def loss_and_gradient(batch_loss_grad, net, params, batches, work):
    """One batch of every row in storage order, through a path's batch_loss_grad (as
    train_epochs'; batches as there, with orders of shape (1, 0) and batch_weights [[the
    sum of the weights]]): work[0] = scale * the gradient of its weighted loss sum plus the
    l2 penalty. Returns (weighted loss sum, penalty, weight)."""
    X, T, weights, orders, batch_weights, _, mean, l2 = batches
    grad = work[0]
    weight = batch_weights[0, 0]
    scale = batch_scale(mean, weight)
    total = batch_loss_grad(net, params, X, T, weights, orders[0], np.int64(0), weights.size,
                            scale, work)
    penalty = 0.0
    if l2 != 0:
        penalty = 0.5 * l2 * add_weight_penalty(l2, scale, params, grad, net, 0, params.size)
    return total, penalty, weight


@kernel
def record_epoch(epoch, loss_sum, penalty_sum, weight_sum, out):
    """The end of an epoch: its loss (loss_sum + penalty_sum) / weight_sum and the penalty
    part of it, into out = (epoch_losses, epoch_penalties). Returns whether that loss is
    finite (as abs(x) < inf: fast-math (nsz, reassoc) folds np.isfinite away); the training
    loops stop after the first epoch whose loss is not."""
    epoch_losses, epoch_penalties = out
    total = loss_sum + penalty_sum
    epoch_losses[epoch] = total / weight_sum
    epoch_penalties[epoch] = penalty_sum / weight_sum
    return abs(total) < np.inf
