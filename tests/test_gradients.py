"""Gradients are the exact derivative of the reported loss: central finite differences, and
PyTorch float64 autograd when torch is installed; with sample weights and the l2 penalty,
for every activation (each hidden layer its own) and loss."""
import numpy as np
import pytest

import fastnn
from fastnn import _registry as reg

from conftest import OUTPUT_LOSS_PAIRS, make_data, make_weights

SIZES = [4, 6, 5, 3]
# the hidden activations of the two hidden layers: each activation, next to another one
HIDDEN = [(name, reg.HIDDEN_ACTIVATIONS[i - 1]) for i, name in enumerate(reg.HIDDEN_ACTIVATIONS)]
# (reduction, l2, weighted)
OBJECTIVES = [("mean", 0.0, False), ("sum", 0.0, False), ("mean", 0.3, True), ("sum", 0.3, True)]


def flat(arrays):
    return np.concatenate([a.ravel() for a in arrays])


def min_abs_hidden_preactivation(net, X):
    weights, biases = net.get_params()
    a, smallest = X, np.inf
    for W, b, name in zip(weights[:-1], biases[:-1], net.layer_activations):
        z = a @ W + b
        smallest = min(smallest, np.abs(z).min())
        a = fastnn.reference.ACTIVATE[name](z)
    return smallest


@pytest.mark.parametrize("hidden", HIDDEN, ids="-".join)
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("reduction,l2,weighted", OBJECTIVES)
def test_gradient_matches_finite_differences(hidden, output, loss, reduction, l2, weighted):
    # Biases are drawn (not zero), so no pre-activation sits on a relu kink.
    net = fastnn.MLP(SIZES, hidden=list(hidden), output=output, init="uniform_signed", seed=1)
    X, Y = make_data(9, SIZES, output, loss, seed=2)
    weights = make_weights(9, 3) if weighted else None
    assert min_abs_hidden_preactivation(net, X) > 1e-4
    value = lambda: net.loss_and_grad(X, Y, loss, reduction, l2=l2, sample_weight=weights)
    _, grad_w, grad_b = value()
    grad = flat(grad_w + grad_b)
    theta = net.params.copy()
    eps = 1e-6
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        values = []
        for sign in (1, -1):
            net.params[...] = theta
            net.params[i] += sign * eps
            values.append(value()[0])
        numeric[i] = (values[0] - values[1]) / (2 * eps)
    net.params[...] = theta
    # the flat parameters are W_0, b_0, W_1, ...: put the numeric gradient in get_params order
    numeric_w, numeric_b = net.layer_views(numeric)
    np.testing.assert_allclose(grad, flat(numeric_w + numeric_b), rtol=1e-6,
                               atol=1e-8 * max(1, np.abs(numeric).max()))


def torch_loss(torch, net, X, Y, loss, reduction, l2, weights):
    """The same network and loss written in PyTorch float64, weighted as PyTorch's weighted
    losses are (the mean divides by the weights' sum); returns (loss, grads)."""
    import torch.nn.functional as F

    weight_params, bias_params = net.get_params()
    params = [torch.tensor(w, requires_grad=True) for w in weight_params]
    biases = [torch.tensor(b, requires_grad=True) for b in (bias_params or [])]
    act = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
           "leaky_relu": lambda z: F.leaky_relu(z, reg.LEAKY_RELU_SLOPE), "linear": lambda z: z,
           "softplus": F.softplus, "softmax": lambda z: torch.softmax(z, dim=1),
           "exp": torch.exp}
    a = torch.tensor(X)
    t = torch.tensor(Y)
    for layer, (W, name) in enumerate(zip(params, net.layer_activations)):
        z = a @ W + (biases[layer] if biases else 0)
        a = act[name](z)
    if loss == "squared_error":
        per_sample = 0.5 * ((a - t) ** 2).sum(dim=1)
    elif loss == "binary_cross_entropy":
        per_sample = F.binary_cross_entropy_with_logits(z, t, reduction="none").sum(dim=1)
    elif loss == "poisson":  # torch's exp(z) - t z, and the constant of the half deviance
        per_sample = (F.poisson_nll_loss(z, t, log_input=True, full=False, reduction="none")
                      + torch.special.xlogy(t, t) - t).sum(dim=1)
    else:
        per_sample = -(t * torch.log_softmax(z, dim=1)).sum(dim=1)
    w = torch.ones(len(X), dtype=torch.float64) if weights is None else torch.tensor(weights)
    value = (w * per_sample).sum() + 0.5 * l2 * sum((W ** 2).sum() for W in params)
    if reduction == "mean":
        value = value / w.sum()
    value.backward()
    return value.item(), [p.grad.numpy() for p in params], [p.grad.numpy() for p in biases]


@pytest.mark.parametrize("hidden", HIDDEN, ids="-".join)
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("reduction,l2,weighted", OBJECTIVES)
@pytest.mark.parametrize("bias", [True, False])
def test_gradient_matches_torch_autograd(hidden, output, loss, reduction, l2, weighted, bias):
    torch = pytest.importorskip("torch", reason="PyTorch is an optional extra (pip install fastnn[test])")
    net = fastnn.MLP(SIZES, hidden=list(hidden), output=output, bias=bias, seed=3)
    X, Y = make_data(11, SIZES, output, loss, seed=4)
    weights = make_weights(11, 5) if weighted else None
    value, gw, gb = net.loss_and_grad(X, Y, loss, reduction, l2=l2, sample_weight=weights)
    t_value, t_gw, t_gb = torch_loss(torch, net, X, Y, loss, reduction, l2, weights)
    np.testing.assert_allclose(value, t_value, rtol=1e-12)
    for mine, theirs in zip(gw + (gb or []), t_gw + t_gb):
        np.testing.assert_allclose(mine, theirs, rtol=1e-11, atol=1e-13 * max(1, np.abs(theirs).max()))


def test_float32_saturated_outputs_stay_finite():
    """BCE, softmax cross-entropy and softplus are taken from the logits: saturated float32
    outputs give a finite loss and gradient where log(sigmoid), log(softmax) or
    log(1 + exp(z)) would give inf/NaN."""
    for output, loss, Y in (("sigmoid", "binary_cross_entropy", [[0.0], [1.0]]),
                            ("softmax", "cross_entropy", [1, 0]),
                            ("softplus", "squared_error", [[0.0], [0.0]])):
        k = 2 if output == "softmax" else 1
        net = fastnn.MLP([1, k], output=output, dtype="float32", seed=0)
        W = np.full((1, k), 200.0) * (np.arange(k) * 2 - 1 if k == 2 else 1)
        net.set_params([W], [np.zeros(k)])
        X = np.array([[1.0], [-1.0]]) if k == 1 else np.array([[1.0], [1.0]])
        value, gw, gb = net.loss_and_grad(X, Y, loss)
        assert np.isfinite(value) and value > 100  # the true loss is about 200 (softplus 1e4)
        assert all(np.isfinite(g).all() for g in gw + gb)
