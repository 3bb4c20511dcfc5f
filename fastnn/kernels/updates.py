"""Optimizer updates over the flat parameter buffer."""
from .._jit import kernel
from .._registry import OPT_SGD


@kernel
def sgd_update(params, grad, velocity, lr, momentum, weight_decay, nesterov):
    """torch.optim.SGD with dampening 0, for every parameter p with gradient g:

    g += weight_decay p;  b = momentum b + g (b starts at 0, so b = g on the first step);
    g = g + momentum b if nesterov else b;  p -= lr g   (momentum 0: p -= lr g).
    """
    n = params.size
    if momentum == 0:
        for i in range(n):
            params[i] -= lr * (grad[i] + weight_decay * params[i])
    elif nesterov:
        for i in range(n):
            g = grad[i] + weight_decay * params[i]
            b = momentum * velocity[i] + g
            velocity[i] = b
            params[i] -= lr * (g + momentum * b)
    else:
        for i in range(n):
            b = momentum * velocity[i] + grad[i] + weight_decay * params[i]
            velocity[i] = b
            params[i] -= lr * b


@kernel
def apply_update(opt_code, params, grad, state, hyper, step):
    """One optimizer step; ``state`` rows and ``hyper`` entries are the optimizer's own.

    SGD: state[0] = momentum buffer; hyper = (lr, momentum, weight_decay, nesterov).
    """
    step[0] += 1
    if opt_code == OPT_SGD:
        sgd_update(params, grad, state[0], hyper[0], hyper[1], hyper[2], hyper[3] != 0)
