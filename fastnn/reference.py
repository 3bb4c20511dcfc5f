"""fastnn.reference.MLP: the same API as fastnn.MLP in plain NumPy, the yardstick for tests
and benchmarks. Written as plainly as the tutorials: vectorised over a batch, a Python loop
over batches and epochs. It shares fastnn.network (validation, parameters, shuffling) and
computes everything else itself.
"""
import numpy as np
import scipy.special

from ._registry import LEAKY_RELU_SLOPE
from .kernels.codes import BATCH_MEANS, OPT_ADAM, OPT_SGD, OPT_SKLEARN_ADAM, OPT_SKLEARN_SGD
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
    "softplus": lambda z: np.logaddexp(0, z),
    "softmax": softmax,
    "exp": np.exp,
}
# f'(z) in terms of a = f(z) (softmax has no elementwise derivative).
DERIVATIVE = {
    "sigmoid": lambda a: a * (1 - a),
    "tanh": lambda a: 1 - a * a,
    "relu": lambda a: (a > 0).astype(a.dtype),
    "leaky_relu": lambda a: np.where(a > 0, 1, LEAKY_RELU_SLOPE).astype(a.dtype),
    "linear": lambda a: np.ones_like(a),
    "softplus": lambda a: -np.expm1(-a),
    "exp": lambda a: a,
}


def loss_sum(loss, z, a, t, w):
    """Sum over rows of the per-sample loss times the row's weight w (z: output
    pre-activation, a: output)."""
    if loss == "squared_error":
        per_row = np.sum(0.5 * (a - t) ** 2, axis=1, dtype=np.float64)
    elif loss == "binary_cross_entropy":
        per_row = np.sum(np.logaddexp(0, z) - t * z, axis=1, dtype=np.float64)
    elif loss == "poisson":  # half the Poisson deviance: t log(t / a) - t + a
        per_row = np.sum(scipy.special.xlogy(t, t) - t * z - t + a, axis=1, dtype=np.float64)
    else:
        peak = z.max(axis=1, keepdims=True)
        log_sum_exp = peak + np.log(np.exp(z - peak).sum(axis=1, keepdims=True))
        per_row = np.sum(t * (log_sum_exp - z), axis=1, dtype=np.float64)
    return float(w @ per_row)


def output_delta(loss, output, a, t):
    """dL/dz at the output layer for one batch (rows are samples)."""
    if loss in ("binary_cross_entropy", "poisson"):
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
        weights, biases = self.layer_views(flat)
        return weights, biases if biases is not None else [None] * len(weights)

    def _forward_all(self, X):
        """Activations of every layer (input first) and the output pre-activation."""
        weights, biases = self._layers(self._params)
        activations = [X]
        for W, b, name in zip(weights, biases, self._activations):
            z = activations[-1] @ W
            if b is not None:
                z = z + b
            activations.append(ACTIVATE[name](z))
        return activations, z

    def _forward(self, X):
        return self._forward_all(X)[0][-1]

    def _batch_loss_grad(self, X, T, w, loss, scale):
        """(sum of w_i L_i over the rows, scale * its gradient as a flat array)."""
        weights, _ = self._layers(self._params)
        activations, z = self._forward_all(X)
        total = loss_sum(loss, z, activations[-1], T, w)
        row_scale = (scale * w).astype(self._dtype)
        delta = row_scale[:, None] * output_delta(loss, self._output, activations[-1], T)
        grad = np.zeros_like(self._params)
        grad_weights, grad_biases = self._layers(grad)
        for layer in range(len(weights) - 1, -1, -1):
            grad_weights[layer][...] = activations[layer].T @ delta
            if grad_biases[layer] is not None:
                grad_biases[layer][...] = delta.sum(axis=0)
            if layer > 0:
                derivative = DERIVATIVE[self._activations[layer - 1]]
                delta = (delta @ weights[layer].T) * derivative(activations[layer])
        return total, grad

    def _penalize(self, grad, l2, scale):
        """grad_W += scale l2 W (weights only); returns the penalty 1/2 l2 sum ||W||^2."""
        weights, _ = self._layers(self._params)
        grad_weights, _ = self._layers(grad)
        factor = self._dtype.type(scale * float(l2))
        for W, dW in zip(weights, grad_weights):
            dW += factor * W
        squares = sum(np.sum(W.astype(np.float64) ** 2) for W in weights)
        return 0.5 * float(l2) * float(squares)

    @staticmethod
    def _scale(weight, mean):
        """1 / the batch's weight (float64) for the mean reduction, else 1."""
        return 1.0 / weight if mean else 1.0

    def _loss_grad(self, X, T, weights, loss, mean, l2):
        weight = float(weights.sum(dtype=np.float64))
        scale = self._scale(weight, mean)
        total, grad = self._batch_loss_grad(X, T, weights, loss, scale)
        penalty = self._penalize(grad, self._dtype.type(l2), scale) if l2 != 0 else 0.0
        return total, penalty, weight, grad

    def _train_epochs(self, X, T, weights, orders, batch_size, loss, opt, mean, l2):
        code, state, hyper, step = opt
        n = X.shape[0]
        l2 = self._dtype.type(l2)
        losses, penalties = [], []
        for order in orders:
            total = penalty_total = weight_total = 0.0
            for start in range(0, n, batch_size):
                rows = (order[start:start + batch_size] if order.size
                        else slice(start, start + batch_size))
                Xb, Tb, wb = X[rows], T[rows], weights[rows]
                weight = float(wb.sum(dtype=np.float64))
                if weight == 0:  # no update
                    continue
                # scikit-learn's epoch loss: each batch's weighted mean, weighted by its rows
                factor = len(wb) / weight if mean == BATCH_MEANS else 1.0
                weight_total += len(wb) if mean == BATCH_MEANS else weight
                scale = self._scale(weight, mean)
                batch_loss, grad = self._batch_loss_grad(Xb, Tb, wb, loss, scale)
                if l2 != 0:
                    penalty_total += factor * self._penalize(grad, l2, scale)
                total += factor * batch_loss
                step[0] += 1
                UPDATE[code](self._params, grad, state, step[0], *hyper)
            total += penalty_total
            losses.append(total / weight_total)
            penalties.append(penalty_total / weight_total)
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
