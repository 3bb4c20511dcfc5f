"""Shared helpers: paired compiled/reference models and the tolerances they must meet."""
import itertools

import numpy as np
import pytest

import fastnn
from fastnn import _registry as reg

# Relative tolerance of one step against the reference, per dtype.
RTOL = {np.float64: 1e-12, np.float32: 3e-5}

# Every legal (output activation, loss) pair.
OUTPUT_LOSS_PAIRS = [(out, loss) for out, loss in itertools.product(reg.OUTPUT_ACTIVATIONS, reg.LOSSES)
                     if reg.LOSS_REQUIRES_OUTPUT[loss] in (None, out)]


def assert_matches(actual, expected, dtype=np.float64, rtol=None):
    """Elementwise agreement to rtol, with entries near zero judged against the largest entry."""
    rtol = RTOL[np.dtype(dtype).type] if rtol is None else rtol
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    scale = max(1.0, float(np.abs(expected).max())) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def model_pair(sizes, hidden="tanh", output="sigmoid", bias=True, dtype="float64", seed=0,
               init="xavier"):
    """(fastnn.MLP, fastnn.reference.MLP) with identical parameters."""
    fast = fastnn.MLP(sizes, hidden=hidden, output=output, bias=bias, init=init, seed=seed, dtype=dtype)
    ref = fastnn.reference.MLP(sizes, hidden=hidden, output=output, bias=bias, init=init, seed=seed,
                               dtype=dtype)
    return fast, ref


def make_data(n, sizes, output, loss, seed=0, dtype=np.float64):
    """Inputs and targets that suit the loss: one-hot for cross_entropy, [0, 1] for BCE."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    k = sizes[-1]
    if loss == "cross_entropy":
        Y = np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    elif loss == "binary_cross_entropy" or output in ("sigmoid", "softmax"):
        Y = rng.uniform(size=(n, k)).astype(dtype)
    else:
        Y = rng.normal(size=(n, k)).astype(dtype)
    return X, Y


def train_in_torch(torch, net, X, Y, make_optimizer, epochs, batch_size):
    """Train a copy of ``net`` (one tanh hidden layer, linear output, biases) in PyTorch
    float64 as fastnn's fit does with shuffle=False: squared error, mean reduction, rows in
    order. Returns (params as [W0, W1, b0, b1], the torch optimizer)."""
    weights, biases = net.get_params()
    params = [torch.tensor(p, requires_grad=True) for p in weights + biases]
    optimizer = make_optimizer(params)
    bs = batch_size or len(X)
    for _ in range(epochs):
        for start in range(0, len(X), bs):
            a = torch.tensor(X[start:start + bs])
            a = torch.tanh(a @ params[0] + params[2]) @ params[1] + params[3]
            loss = (0.5 * ((a - torch.tensor(Y[start:start + bs])) ** 2).sum(dim=1)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return params, optimizer


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def assert_same_training(fast, ref, X, Y, make_optimizer, dtype=np.float64, **fit_args):
    """Train both models, each with a fresh ``make_optimizer()``: the epoch losses,
    parameters, optimizer state and step counts agree."""
    optimizers = make_optimizer(), make_optimizer()
    losses = [net.fit(X, Y, optimizer=opt, **fit_args).loss
              for net, opt in zip((fast, ref), optimizers)]
    assert_matches(losses[0], losses[1], dtype)
    assert_matches(fast._params, ref._params, dtype)
    assert_matches(optimizers[0]._state, optimizers[1]._state, dtype)
    assert optimizers[0].steps == optimizers[1].steps
