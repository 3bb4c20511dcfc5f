"""Optimizer updates and the end of a batch and of an epoch, shared by every training path.

The optimizer reaches a kernel as one bundle, ``opt = (code, state, hyper, step)``: its code
(fastnn.kernels.codes), its state rows (one flat parameter-shaped vector each), its
hyperparameters and its step counter (int64[1]). An update runs over the whole flat
parameter buffer or a range lo..hi of it: a batch's update runs over the ranges of its parts
(``parameter_range``), so one thread and several give the same bits. Each update loops over
views of its range from 0, not over range(lo, hi), whose indices LLVM cannot prove
non-negative (numba wraps negative ones), so that loop would not vectorise.
"""
import numpy as np

from ._jit import kernel
from .codes import (BATCH_MEANS, COMPILED_OPTIMIZERS, OPT_ADAM, OPT_SGD, OPT_SKLEARN_ADAM,
                    OPT_SKLEARN_SGD)


@kernel(inline=True)
def sgd_update(params, grad, velocity, lr, momentum, weight_decay, nesterov):
    """torch.optim.SGD with dampening 0, for every parameter p with gradient g:

    g += weight_decay p;  b = momentum b + g (b starts at 0, so b = g on the first step);
    g = g + momentum b if nesterov else b;  p -= lr g   (momentum 0: p -= lr g).
    """
    if momentum == 0:
        for i in range(params.size):
            params[i] -= lr * (grad[i] + weight_decay * params[i])
    elif nesterov:
        for i in range(params.size):
            g = grad[i] + weight_decay * params[i]
            b = momentum * velocity[i] + g
            velocity[i] = b
            params[i] -= lr * (g + momentum * b)
    else:
        for i in range(params.size):
            b = momentum * velocity[i] + grad[i] + weight_decay * params[i]
            velocity[i] = b
            params[i] -= lr * b


@kernel(inline=True)
def adam_update(params, grad, m, v, lr, beta1, beta2, eps, weight_decay, step):
    """torch.optim.Adam (amsgrad=False, maximize=False) at step t = ``step`` (1 first), for
    every parameter p with gradient g (m and v start at 0):

    g += weight_decay p;  m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;
    p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    with the step size and denominator formed as in torch's ``_single_tensor_adam``.
    """
    one = params.dtype.type(1.0)
    t = params.dtype.type(step)
    step_size = lr / (one - beta1 ** t)
    bias_correction2_sqrt = np.sqrt(one - beta2 ** t)
    w1 = one - beta1
    w2 = one - beta2
    for i in range(params.size):
        g = grad[i] + weight_decay * params[i]
        m[i] = beta1 * m[i] + w1 * g
        v[i] = beta2 * v[i] + w2 * g * g
        params[i] -= step_size * m[i] / (np.sqrt(v[i]) / bias_correction2_sqrt + eps)


@kernel(inline=True)
def sklearn_sgd_update(params, grad, velocity, lr, momentum, nesterov):
    """scikit-learn's SGDOptimizer (the velocity holds lr-scaled steps, so a changing lr
    acts differently from torch's):

    v = momentum v - lr g;  p += momentum v - lr g if nesterov else v.
    """
    if nesterov:
        for i in range(params.size):
            v = momentum * velocity[i] - lr * grad[i]
            velocity[i] = v
            params[i] += momentum * v - lr * grad[i]
    else:
        for i in range(params.size):
            v = momentum * velocity[i] - lr * grad[i]
            velocity[i] = v
            params[i] += v


@kernel(inline=True)
def sklearn_adam_update(params, grad, m, v, lr, beta1, beta2, eps, step):
    """scikit-learn's AdamOptimizer at step t = ``step`` (1 first; m and v start at 0):

    m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;
    p -= lr sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)
    (eps is added to sqrt(v) before the bias correction, unlike torch.optim.Adam).
    """
    one = params.dtype.type(1.0)
    t = params.dtype.type(step)
    step_size = lr * np.sqrt(one - beta2 ** t) / (one - beta1 ** t)
    w1 = one - beta1
    w2 = one - beta2
    for i in range(params.size):
        g = grad[i]
        m[i] = beta1 * m[i] + w1 * g
        v[i] = beta2 * v[i] + w2 * (g * g)
        params[i] -= step_size * m[i] / (np.sqrt(v[i]) + eps)


@kernel(inline=True)
def apply_update(opt, params, grad, lo, hi):
    """Optimizer step number opt's step[0] (1 first) for parameters lo..hi-1.

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
    if OPT_SGD in COMPILED_OPTIMIZERS and code == OPT_SGD:
        sgd_update(p, g, first, hyper[0], hyper[1], hyper[2], hyper[3] != 0)
    elif OPT_ADAM in COMPILED_OPTIMIZERS and code == OPT_ADAM:
        adam_update(p, g, first, state[1][lo:hi], hyper[0], hyper[1], hyper[2], hyper[3],
                    hyper[4], step[0])
    elif OPT_SKLEARN_SGD in COMPILED_OPTIMIZERS and code == OPT_SKLEARN_SGD:
        sklearn_sgd_update(p, g, first, hyper[0], hyper[1], hyper[2] != 0)
    elif OPT_SKLEARN_ADAM in COMPILED_OPTIMIZERS and code == OPT_SKLEARN_ADAM:
        sklearn_adam_update(p, g, first, state[1][lo:hi], hyper[0], hyper[1], hyper[2],
                            hyper[3], step[0])


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
