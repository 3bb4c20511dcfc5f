"""Optimizer updates over the flat parameter buffer, or a range lo..hi of it (threads update
disjoint ranges; fastnn.kernels.parallel). Each update loops over the arrays it is given from
0: over a view of the range, not over range(lo, hi), whose indices LLVM cannot prove
non-negative (numba wraps negative ones), so that loop would not vectorise. Also the end of a
batch (penalize_and_step) and of an epoch (record_epoch) that every training loop shares."""
import numpy as np

from .._jit import kernel
from .._registry import OPT_ADAM, OPT_SGD, OPT_SKLEARN_ADAM, OPT_SKLEARN_SGD
from .network import add_weight_penalty


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
def apply_update(opt_code, params, grad, state, hyper, step, lo, hi):
    """Optimizer step number ``step`` (1 first) for parameters lo..hi-1; ``state`` rows and
    ``hyper`` entries are the optimizer's own.

    SGD: state[0] = momentum buffer; hyper = (lr, momentum, weight_decay, nesterov).
    Adam: state[0] = exp_avg, state[1] = exp_avg_sq; hyper = (lr, beta1, beta2, eps,
    weight_decay); the bias corrections use ``step``.
    scikit-learn's SGD: state[0] = velocity; hyper = (lr, momentum, nesterov).
    scikit-learn's Adam: state[0] = m, state[1] = v; hyper = (lr, beta1, beta2, eps).
    """
    p = params[lo:hi]
    g = grad[lo:hi]
    first = state[0][lo:hi]
    if opt_code == OPT_SGD:
        sgd_update(p, g, first, hyper[0], hyper[1], hyper[2], hyper[3] != 0)
    elif opt_code == OPT_ADAM:
        adam_update(p, g, first, state[1][lo:hi], hyper[0], hyper[1], hyper[2], hyper[3],
                    hyper[4], step)
    elif opt_code == OPT_SKLEARN_SGD:
        sklearn_sgd_update(p, g, first, hyper[0], hyper[1], hyper[2] != 0)
    elif opt_code == OPT_SKLEARN_ADAM:
        sklearn_adam_update(p, g, first, state[1][lo:hi], hyper[0], hyper[1], hyper[2],
                            hyper[3], step)


@kernel(inline=True)
def penalize_and_step(l2, scale, params, grad, sizes, w_off, opt_code, state, hyper, step):
    """The end of a batch: grad += the gradient of the l2 penalty (scaled as the batch's
    gradient), then the next optimizer step (step[0] counts them). Returns the penalty,
    1/2 l2 sum ||W||^2 (0 without l2)."""
    penalty = 0.0
    if l2 != 0:
        penalty = 0.5 * l2 * add_weight_penalty(l2, scale, params, grad, sizes, w_off, 0,
                                                params.size)
    step[0] += 1
    apply_update(opt_code, params, grad, state, hyper, step[0], 0, params.size)
    return penalty


@kernel(inline=True)
def record_epoch(epoch, loss_sum, penalty_sum, n_samples, epoch_losses, epoch_penalties):
    """The end of an epoch: epoch_losses[epoch] = (loss_sum + penalty_sum) / n_samples,
    epoch_penalties[epoch] = penalty_sum / n_samples. Returns whether that loss is finite
    (as abs(x) < inf: fast-math (nsz, reassoc) folds np.isfinite away); the training loops
    stop after the first epoch whose loss is not."""
    total = loss_sum + penalty_sum
    epoch_losses[epoch] = total / n_samples
    epoch_penalties[epoch] = penalty_sum / n_samples
    return abs(total) < np.inf
