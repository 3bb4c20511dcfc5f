"""The NumPy a tutorial reader writes for the benchmark workloads (fastnn.tools.workloads):
one straightforward function per kind of network, its formulas written out for that network,
vectorised over a batch, Python loops over epochs, batches and samples, as the tutorials in
shared/seeds/ write them. The benchmark's headline ratios are taken against these.

Each trains what fastnn trains for its workload (the same starting weights, sample order,
loss and update: torch.optim.SGD's momentum, v = momentum v + g, p -= lr v), updates the
weights and biases it is given in place and returns the loss of every epoch (the mean over
the epoch's samples of the loss before each update, as ``History.loss``), so the benchmark
shows both did the same work.
"""
import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def momentum_step(params, velocity, grads, lr, momentum):
    """SGD with momentum in place: v = momentum v + g, p -= lr v, for each array."""
    for p, v, g in zip(params, velocity, grads):
        v *= momentum
        v += g
        p -= lr * v


def sigmoid_full_batch(X, T, weights, biases, epochs, lr):
    """W1, W2, W4: two sigmoid layers without biases, squared error 1/2 sum (a - t)^2,
    full-batch gradient descent on the summed loss."""
    W0, W1 = weights
    losses = np.empty(epochs)
    for epoch in range(epochs):
        hidden = sigmoid(X @ W0)
        out = sigmoid(hidden @ W1)
        error = out - T
        losses[epoch] = 0.5 * np.sum(error * error)
        delta_out = error * out * (1 - out)
        delta_hidden = (delta_out @ W1.T) * hidden * (1 - hidden)
        W1 -= lr * (hidden.T @ delta_out)
        W0 -= lr * (X.T @ delta_hidden)
    return losses / len(X)


def bits_per_sample(X, T, weights, biases, epochs, lr, momentum):
    """W3: tanh hidden layer, sigmoid output, binary cross-entropy summed (from the output's
    pre-activation z: log(1 + e^z) - t z), per-sample SGD with momentum in a fixed order."""
    (V, W), (b_hidden, b_out) = weights, biases
    params = [V, b_hidden, W, b_out]
    velocity = [np.zeros_like(p) for p in params]
    losses = np.empty(epochs)
    for epoch in range(epochs):
        total = 0.0
        for x, t in zip(X, T):
            hidden = np.tanh(x @ V + b_hidden)
            z = hidden @ W + b_out
            total += np.sum(np.logaddexp(0, z) - t * z)
            delta_out = sigmoid(z) - t
            delta_hidden = (W @ delta_out) * (1 - hidden * hidden)
            grads = [np.outer(x, delta_hidden), delta_hidden, np.outer(hidden, delta_out),
                     delta_out]
            momentum_step(params, velocity, grads, lr, momentum)
        losses[epoch] = total
    return losses / len(X)


def captcha_per_sample(X, T, weights, biases, epochs, lr):
    """W5: sigmoid hidden and output layers with biases, squared error summed, per-sample
    SGD in a fixed order."""
    (W0, W1), (b0, b1) = weights, biases
    losses = np.empty(epochs)
    for epoch in range(epochs):
        total = 0.0
        for x, t in zip(X, T):
            hidden = sigmoid(x @ W0 + b0)
            out = sigmoid(hidden @ W1 + b1)
            error = out - t
            total += 0.5 * (error @ error)
            delta_out = error * out * (1 - out)
            delta_hidden = (W1 @ delta_out) * hidden * (1 - hidden)
            W1 -= lr * np.outer(hidden, delta_out)
            b1 -= lr * delta_out
            W0 -= lr * np.outer(x, delta_hidden)
            b0 -= lr * delta_hidden
        losses[epoch] = total
    return losses / len(X)


def tanh_softmax_per_sample(X, labels, weights, biases, epochs, lr, momentum):
    """W8: tanh hidden layer, softmax output, cross-entropy (log sum e^z - z_label), per-sample
    SGD with momentum in a fixed order."""
    (W0, W1), (b0, b1) = weights, biases
    params = [W0, b0, W1, b1]
    velocity = [np.zeros_like(p) for p in params]
    T = np.eye(W1.shape[1], dtype=X.dtype)[labels]
    losses = np.empty(epochs)
    for epoch in range(epochs):
        total = 0.0
        for x, t, label in zip(X, T, labels):
            hidden = np.tanh(x @ W0 + b0)
            z = hidden @ W1 + b1
            z = z - z.max()
            exp = np.exp(z)
            total += np.log(exp.sum()) - z[label]
            delta_out = exp / exp.sum() - t
            delta_hidden = (W1 @ delta_out) * (1 - hidden * hidden)
            grads = [np.outer(x, delta_hidden), delta_hidden, np.outer(hidden, delta_out),
                     delta_out]
            momentum_step(params, velocity, grads, lr, momentum)
        losses[epoch] = total
    return losses / len(X)


def relu_softmax_minibatch(X, labels, weights, biases, epochs, lr, momentum, batch_size, seed):
    """W6, W7: two relu hidden layers, softmax output, cross-entropy averaged over each
    mini-batch, SGD with momentum, the rows shuffled every epoch by
    np.random.default_rng(seed).permutation (as fastnn.MLP.fit shuffles)."""
    (W0, W1, W2), (b0, b1, b2) = weights, biases
    params = [W0, b0, W1, b1, W2, b2]
    velocity = [np.zeros_like(p) for p in params]
    T = np.eye(W2.shape[1], dtype=X.dtype)[labels]
    rng = np.random.default_rng(seed)
    losses = np.empty(epochs)
    for epoch in range(epochs):
        order = rng.permutation(len(X))
        total = 0.0
        for start in range(0, len(X), batch_size):
            rows = order[start:start + batch_size]
            x, t = X[rows], T[rows]
            h1 = np.maximum(x @ W0 + b0, 0)
            h2 = np.maximum(h1 @ W1 + b1, 0)
            z = h2 @ W2 + b2
            z -= z.max(axis=1, keepdims=True)
            exp = np.exp(z)
            sums = exp.sum(axis=1, keepdims=True)
            total += float(np.sum(np.log(sums)) - np.sum(t * z))
            d3 = (exp / sums - t) / len(rows)
            d2 = (d3 @ W2.T) * (h2 > 0)
            d1 = (d2 @ W1.T) * (h1 > 0)
            grads = [x.T @ d1, d1.sum(axis=0), h1.T @ d2, d2.sum(axis=0), h2.T @ d3,
                     d3.sum(axis=0)]
            momentum_step(params, velocity, grads, lr, momentum)
        losses[epoch] = total
    return losses / len(X)
