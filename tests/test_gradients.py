"""Gradients are the exact derivative of the reported loss: central finite differences, and
PyTorch float64 autograd when torch is installed."""
import numpy as np
import pytest

import fastnn
from fastnn import _registry as reg

from conftest import OUTPUT_LOSS_PAIRS, make_data

SIZES = [4, 6, 5, 3]


def flat_grad(net, X, Y, loss, reduction):
    value, gw, gb = net.loss_and_grad(X, Y, loss, reduction)
    return value, np.concatenate([g.ravel() for g in gw] + [g.ravel() for g in (gb or [])])


def flat_params(net):
    weights, biases = net.get_params()
    return np.concatenate([w.ravel() for w in weights] + [b.ravel() for b in (biases or [])])


def set_flat(net, flat):
    weights, biases = net.get_params()
    out, pos = [], 0
    for array in weights + (biases or []):
        out.append(flat[pos:pos + array.size].reshape(array.shape))
        pos += array.size
    net.set_params(out[:len(weights)], out[len(weights):] if biases is not None else None)


def min_abs_hidden_preactivation(net, X):
    weights, biases = net.get_params()
    a, smallest = X, np.inf
    for W, b in zip(weights[:-1], biases[:-1]):
        z = a @ W + b
        smallest = min(smallest, np.abs(z).min())
        a = fastnn.reference.ACTIVATE[net.hidden](z)
    return smallest


@pytest.mark.parametrize("hidden", reg.HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("reduction", reg.REDUCTIONS)
def test_gradient_matches_finite_differences(hidden, output, loss, reduction):
    # Biases are drawn (not zero), so no pre-activation sits on a relu kink.
    net = fastnn.MLP(SIZES, hidden=hidden, output=output, init="uniform_signed", seed=1)
    X, Y = make_data(9, SIZES, output, loss, seed=2)
    assert min_abs_hidden_preactivation(net, X) > 1e-4
    _, grad = flat_grad(net, X, Y, loss, reduction)
    theta = flat_params(net)
    eps = 1e-6
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        values = []
        for sign in (1, -1):
            shifted = theta.copy()
            shifted[i] += sign * eps
            set_flat(net, shifted)
            values.append(net.loss_and_grad(X, Y, loss, reduction)[0])
        numeric[i] = (values[0] - values[1]) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8 * max(1, np.abs(numeric).max()))


torch = None


def torch_loss(net, X, Y, loss, reduction):
    """The same network and loss written in PyTorch float64; returns (loss, grads)."""
    import torch.nn.functional as F

    weights, biases = net.get_params()
    params = [torch.tensor(w, requires_grad=True) for w in weights]
    bias_params = [torch.tensor(b, requires_grad=True) for b in (biases or [])]
    act = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
           "leaky_relu": lambda z: F.leaky_relu(z, reg.LEAKY_RELU_SLOPE), "linear": lambda z: z,
           "softmax": lambda z: torch.softmax(z, dim=1)}
    a = torch.tensor(X)
    t = torch.tensor(Y)
    for layer, W in enumerate(params):
        z = a @ W + (bias_params[layer] if bias_params else 0)
        a = act[net.output if layer == len(params) - 1 else net.hidden](z)
    if loss == "squared_error":
        per_sample = 0.5 * ((a - t) ** 2).sum(dim=1)
    elif loss == "binary_cross_entropy":
        per_sample = F.binary_cross_entropy_with_logits(z, t, reduction="none").sum(dim=1)
    else:
        per_sample = -(t * torch.log_softmax(z, dim=1)).sum(dim=1)
    value = per_sample.mean() if reduction == "mean" else per_sample.sum()
    value.backward()
    return value.item(), [p.grad.numpy() for p in params], [p.grad.numpy() for p in bias_params]


@pytest.mark.parametrize("hidden", reg.HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("reduction", reg.REDUCTIONS)
@pytest.mark.parametrize("bias", [True, False])
def test_gradient_matches_torch_autograd(hidden, output, loss, reduction, bias):
    global torch
    torch = pytest.importorskip("torch", reason="PyTorch is an optional extra (pip install fastnn[test])")
    net = fastnn.MLP(SIZES, hidden=hidden, output=output, bias=bias, seed=3)
    X, Y = make_data(11, SIZES, output, loss, seed=4)
    value, gw, gb = net.loss_and_grad(X, Y, loss, reduction)
    t_value, t_gw, t_gb = torch_loss(net, X, Y, loss, reduction)
    np.testing.assert_allclose(value, t_value, rtol=1e-12)
    for mine, theirs in zip(gw + (gb or []), t_gw + t_gb):
        np.testing.assert_allclose(mine, theirs, rtol=1e-11, atol=1e-13 * max(1, np.abs(theirs).max()))


def test_float32_saturated_outputs_stay_finite():
    """BCE and softmax cross-entropy are taken from the logits: saturated float32 outputs give
    a finite loss and gradient where log(sigmoid) or log(softmax) would give inf/NaN."""
    for output, loss, Y in (("sigmoid", "binary_cross_entropy", [[0.0], [1.0]]),
                            ("softmax", "cross_entropy", [1, 0])):
        k = 1 if output == "sigmoid" else 2
        net = fastnn.MLP([1, k], output=output, dtype="float32", seed=0)
        W = np.full((1, k), 200.0) * (np.arange(k) * 2 - 1 if k == 2 else 1)
        net.set_params([W], [np.zeros(k)])
        X = np.array([[1.0], [-1.0]]) if k == 1 else np.array([[1.0], [1.0]])
        value, gw, gb = net.loss_and_grad(X, Y, loss)
        assert np.isfinite(value) and value > 100  # the true loss is about 200
        assert all(np.isfinite(g).all() for g in gw + gb)
