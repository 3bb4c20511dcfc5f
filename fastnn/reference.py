"""fastnn.reference.MLP: the same API as fastnn.MLP in plain NumPy, the yardstick for tests
and benchmarks. Written as plainly as the tutorials: vectorised over a batch, a Python loop
over batches and epochs. It shares fastnn.network (validation, parameters, shuffling) and
computes everything else itself.
"""
import numpy as np

from ._registry import LEAKY_RELU_SLOPE, OPT_ADAM, OPT_SGD, OPT_SKLEARN_ADAM, OPT_SKLEARN_SGD
from .network import Network
from .optimizers import SGD


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


ACTIVATE = {
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "relu": lambda z: np.where(z > 0, z, 0 * z),
    "leaky_relu": lambda z: np.where(z > 0, z, LEAKY_RELU_SLOPE * z),
    "linear": lambda z: z,
    "softmax": softmax,
}
# f'(z) in terms of a = f(z) (softmax has no elementwise derivative).
DERIVATIVE = {
    "sigmoid": lambda a: a * (1 - a),
    "tanh": lambda a: 1 - a * a,
    "relu": lambda a: (a > 0).astype(a.dtype),
    "leaky_relu": lambda a: np.where(a > 0, 1, LEAKY_RELU_SLOPE).astype(a.dtype),
    "linear": lambda a: np.ones_like(a),
}


def loss_sum(loss, z, a, t):
    """Sum over rows of the per-sample loss (z: output pre-activation, a: output)."""
    if loss == "squared_error":
        return float(np.sum(0.5 * (a - t) ** 2, dtype=np.float64))
    if loss == "binary_cross_entropy":
        return float(np.sum(np.logaddexp(0, z) - t * z, dtype=np.float64))
    peak = z.max(axis=1, keepdims=True)
    log_sum_exp = peak + np.log(np.exp(z - peak).sum(axis=1, keepdims=True))
    return float(np.sum(t * (log_sum_exp - z), dtype=np.float64))


def output_delta(loss, output, a, t):
    """dL/dz at the output layer for one batch (rows are samples)."""
    if loss == "binary_cross_entropy":
        return a - t
    if loss == "cross_entropy":
        return a * t.sum(axis=1, keepdims=True) - t
    error = a - t
    if output == "softmax":
        return a * (error - (error * a).sum(axis=1, keepdims=True))
    return error * DERIVATIVE[output](a)


class MLP(Network):
    """Plain-NumPy multilayer perceptron with the API of fastnn.MLP."""

    def _layers(self, flat):
        """Per-layer views of ``flat``; the bias of each layer is None when there is none."""
        weights, biases = self._layer_views(flat)
        return weights, biases if biases is not None else [None] * len(weights)

    def _forward_all(self, X):
        """Activations of every layer (input first) and the output pre-activation."""
        weights, biases = self._layers(self._params)
        activations = [X]
        for layer, (W, b) in enumerate(zip(weights, biases)):
            z = activations[-1] @ W
            if b is not None:
                z = z + b
            last = layer == len(weights) - 1
            activations.append(ACTIVATE[self._output if last else self._hidden](z))
        return activations, z

    def _forward(self, X):
        return self._forward_all(X)[0][-1]

    def _loss_grad(self, X, T, loss, scale):
        weights, _ = self._layers(self._params)
        activations, z = self._forward_all(X)
        total = loss_sum(loss, z, activations[-1], T)
        delta = scale * output_delta(loss, self._output, activations[-1], T)
        grad = np.zeros_like(self._params)
        grad_weights, grad_biases = self._layers(grad)
        for layer in range(len(weights) - 1, -1, -1):
            grad_weights[layer][...] = activations[layer].T @ delta
            if grad_biases[layer] is not None:
                grad_biases[layer][...] = delta.sum(axis=0)
            if layer > 0:
                delta = (delta @ weights[layer].T) * DERIVATIVE[self._hidden](activations[layer])
        return total, grad

    def _train_epochs(self, X, T, orders, shuffled, batch_size, mean, l2, loss, opt_code,
                      state, hyper, step):
        n = X.shape[0]
        one = self._dtype.type(1)
        l2 = self._dtype.type(l2)
        weights, _ = self._layers(self._params)
        losses, penalties = [], []
        for order in orders:
            total = penalty_total = 0.0
            for start in range(0, n, batch_size):
                rows = order[start:start + batch_size] if shuffled else slice(start, start + batch_size)
                Xb, Tb = X[rows], T[rows]
                scale = one / self._dtype.type(Xb.shape[0]) if mean else one
                batch_loss, grad = self._loss_grad(Xb, Tb, loss, scale)
                if l2 != 0:
                    grad_weights, _ = self._layers(grad)
                    for W, dW in zip(weights, grad_weights):
                        dW += scale * l2 * W
                    squares = sum(np.sum(W.astype(np.float64) ** 2) for W in weights)
                    penalty_total += 0.5 * float(l2) * float(squares)
                total += batch_loss
                step[0] += 1
                UPDATE[opt_code](self._params, grad, state, step[0], *hyper)
            total += penalty_total
            losses.append(total / n)
            penalties.append(penalty_total / n)
            if not np.isfinite(total):
                break
        return np.array(losses), np.array(penalties)


def sgd_step(p, g, b, lr, momentum, weight_decay, nesterov):
    """torch.optim.SGD (dampening 0) on flat arrays: see fastnn.optimizers.SGD."""
    g = g + weight_decay * p
    if momentum != 0:
        b[...] = momentum * b + g
        g = g + momentum * b if nesterov else b
    p -= lr * g


def adam_step(p, g, m, v, t, lr, beta1, beta2, eps, weight_decay):
    """torch.optim.Adam (amsgrad=False) step number t (1 first) on flat arrays: see
    fastnn.optimizers.Adam. Scalars are taken in the parameters' dtype."""
    one, t = p.dtype.type(1), p.dtype.type(t)
    g = g + weight_decay * p
    m[...] = beta1 * m + (one - beta1) * g
    v[...] = beta2 * v + (one - beta2) * g * g
    m_hat = m / (one - beta1 ** t)
    v_hat = v / (one - beta2 ** t)
    p -= lr * m_hat / (np.sqrt(v_hat) + eps)


def sklearn_sgd_step(p, g, velocity, lr, momentum, nesterov):
    """scikit-learn's SGDOptimizer on flat arrays: v = momentum v - lr g;
    p += momentum v - lr g if nesterov else v."""
    velocity[...] = momentum * velocity - lr * g
    p += momentum * velocity - lr * g if nesterov else velocity


def sklearn_adam_step(p, g, m, v, t, lr, beta1, beta2, eps):
    """scikit-learn's AdamOptimizer step number t (1 first) on flat arrays:
    p -= lr sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)."""
    one, t = p.dtype.type(1), p.dtype.type(t)
    m[...] = beta1 * m + (one - beta1) * g
    v[...] = beta2 * v + (one - beta2) * g ** 2
    p -= lr * np.sqrt(one - beta2 ** t) / (one - beta1 ** t) * m / (np.sqrt(v) + eps)


# opt_code -> update(p, g, state, step, *hyper)
UPDATE = {
    OPT_SGD: lambda p, g, state, t, *hyper: sgd_step(p, g, state[0], *hyper),
    OPT_ADAM: lambda p, g, state, t, *hyper: adam_step(p, g, state[0], state[1], t, *hyper),
    OPT_SKLEARN_SGD: lambda p, g, state, t, *hyper: sklearn_sgd_step(p, g, state[0], *hyper),
    OPT_SKLEARN_ADAM: lambda p, g, state, t, *hyper: sklearn_adam_step(p, g, state[0], state[1],
                                                                       t, *hyper),
}

__all__ = ["MLP", "SGD"]
