"""sample_weight in fit and loss_and_grad: what a weight means (repeated rows, the weighted
mean, batches of weight 0), the same bits for all-ones weights as for none, PyTorch's
weighted losses, and bad weights refused before anything changes."""
import numpy as np
import pytest

import fastnn

from conftest import PATH_CASES, assert_matches, make_data, output_and_loss

CASES = [pytest.param(case, id=case.name) for case in PATH_CASES]
BATCHES = [pytest.param(case, id=case.name) for case in PATH_CASES
           if case.fit["batch_size"] is not None]


def trained(case, X, Y, **fit_args):
    output, loss = output_and_loss(case.sizes)
    net = fastnn.MLP(case.sizes, hidden=list(case.hidden), output=output, seed=0)
    history = net.fit(X, Y, loss=loss, optimizer=fastnn.SGD(lr=0.01, momentum=0.9), epochs=3,
                      seed=1, **fit_args)
    return net, history


@pytest.mark.parametrize("case", CASES)
def test_all_ones_give_the_same_bits_as_no_weights(on_path, case):
    case = on_path(case)
    output, loss = output_and_loss(case.sizes)
    X, Y = make_data(case.n, case.sizes, output, loss)
    plain, history = trained(case, X, Y, **case.fit)
    ones, ones_history = trained(case, X, Y, sample_weight=np.ones(case.n), **case.fit)
    assert plain.params.tobytes() == ones.params.tobytes()
    assert history.loss == ones_history.loss
    results = [net.loss_and_grad(X, Y, loss, sample_weight=w) for net, w in
               ((plain, None), (plain, np.ones(case.n, np.int64)))]
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_integer_weights_equal_repeated_rows(on_path, case, reduction):
    """A full batch, summed or averaged: weight k is the row k times over (to rounding: the
    sums run in another order)."""
    case = on_path(case)
    output, loss = output_and_loss(case.sizes)
    X, Y = make_data(case.n, case.sizes, output, loss, seed=2)
    counts = np.random.default_rng(3).integers(0, 4, case.n)
    counts[0] = 1
    args = dict(batch_size=None, reduction=reduction)
    weighted, h_weighted = trained(case, X, Y, sample_weight=counts, **args)
    repeated, h_repeated = trained(case, np.repeat(X, counts, 0), np.repeat(Y, counts, 0), **args)
    assert_matches(h_weighted.loss, h_repeated.loss)
    assert_matches(weighted.params, repeated.params)


@pytest.mark.parametrize("case", BATCHES)
def test_a_batch_of_weight_zero_makes_no_update(on_path, case):
    """Rows 0..b-1 (the first batch) weigh 0: training equals training on the other rows
    alone (their batches are the same), and the optimizer takes one step fewer an epoch."""
    case = on_path(case)
    output, loss = output_and_loss(case.sizes)
    batch = case.fit["batch_size"]
    X, Y = make_data(case.n, case.sizes, output, loss, seed=4)
    weights = np.ones(case.n)
    weights[:batch] = 0
    args = dict(batch_size=batch, shuffle=False)
    opt_w, opt_rest = (fastnn.SGD(lr=0.01, momentum=0.9) for _ in range(2))
    net_w, net_rest = (fastnn.MLP(case.sizes, hidden=list(case.hidden), output=output, seed=0)
                       for _ in range(2))
    h_w = net_w.fit(X, Y, loss=loss, optimizer=opt_w, epochs=2, sample_weight=weights, **args)
    h_rest = net_rest.fit(X[batch:], Y[batch:], loss=loss, optimizer=opt_rest, epochs=2, **args)
    n_batches = -(-case.n // batch)
    assert opt_w.steps == opt_rest.steps == 2 * (n_batches - 1)
    assert_matches(net_w.params, net_rest.params)
    assert_matches(h_w.loss, h_rest.loss)


def test_history_and_loss_are_weighted_means():
    sizes = [3, 4, 2]
    X, Y = make_data(10, sizes, "sigmoid", "squared_error", seed=5)
    weights = np.linspace(0.5, 2, 10)
    net = fastnn.MLP(sizes, output="sigmoid", seed=0)
    per_row = 0.5 * ((net.forward(X) - Y) ** 2).sum(axis=1)
    value, _, _ = net.loss_and_grad(X, Y, sample_weight=weights)
    assert value == pytest.approx((weights * per_row).sum() / weights.sum(), rel=1e-13)
    history = net.fit(X, Y, optimizer=fastnn.SGD(lr=0.1), batch_size=None, sample_weight=weights)
    assert history.loss[0] == pytest.approx(value, rel=1e-13)


@pytest.mark.parametrize("batch_size", [1, 4, None])
def test_training_matches_torch_weighted_losses(batch_size):
    """Mini-batch SGD with momentum on a weighted loss, as PyTorch writes it:
    (w * loss_per_row).sum() / w.sum() per batch."""
    torch = pytest.importorskip("torch", reason="PyTorch is an optional extra (pip install fastnn[test])")
    sizes = [4, 6, 3]
    net = fastnn.MLP(sizes, hidden="softplus", output="linear", seed=6)
    X, Y = make_data(12, sizes, "linear", "squared_error", seed=7)
    weights = np.random.default_rng(8).uniform(0.1, 2, 12)
    weight_arrays, bias_arrays = net.get_params()
    params = [torch.tensor(p, requires_grad=True) for p in weight_arrays + bias_arrays]
    optimizer = torch.optim.SGD(params, lr=0.05, momentum=0.9)
    rows = batch_size or 12
    for _ in range(3):
        for start in range(0, 12, rows):
            a = torch.tensor(X[start:start + rows])
            a = torch.nn.functional.softplus(a @ params[0] + params[2]) @ params[1] + params[3]
            w = torch.tensor(weights[start:start + rows])
            per_row = 0.5 * ((a - torch.tensor(Y[start:start + rows])) ** 2).sum(dim=1)
            loss = (w * per_row).sum() / w.sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    net.fit(X, Y, optimizer=fastnn.SGD(lr=0.05, momentum=0.9), epochs=3, batch_size=batch_size,
            shuffle=False, sample_weight=weights)
    new_weights, new_biases = net.get_params()
    for mine, theirs in zip(new_weights + new_biases, params):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("factor", [3e38, 1e-39])
def test_the_mean_does_not_depend_on_the_weights_scale(on_path, case, factor):
    """float32 weights whose sum overflows float32 (3e38), or subnormal ones, train as the
    same weights times 1: each row's factor w_i / (the batch's weight), and the weighted loss,
    are formed in float64."""
    case = on_path(case)
    output, loss = output_and_loss(case.sizes)
    X, Y = make_data(case.n, case.sizes, output, loss, seed=10, dtype=np.float32)
    weights = np.random.default_rng(11).uniform(0.5, 1, case.n).astype(np.float32)
    results = []
    for scaled in (weights, (weights.astype(np.float64) * factor).astype(np.float32)):
        net = fastnn.MLP(case.sizes, hidden=list(case.hidden), output=output, seed=0,
                         dtype="float32")
        value, _, _ = net.loss_and_grad(X, Y, loss, sample_weight=scaled)
        history = net.fit(X, Y, loss=loss, optimizer=fastnn.SGD(lr=0.01, momentum=0.9),
                          epochs=2, seed=1, sample_weight=scaled, **case.fit)
        results.append((value, history.loss, net.params.copy()))
    for mine, theirs in zip(*results):
        assert_matches(mine, theirs, np.float32, rtol=1e-4)


@pytest.mark.parametrize("case", CASES)
def test_the_tiniest_weights_stay_finite(on_path, case):
    """Weights of 1e-44, a few steps of float32's subnormals: no NaN or inf anywhere."""
    case = on_path(case)
    output, loss = output_and_loss(case.sizes)
    X, Y = make_data(case.n, case.sizes, output, loss, seed=12, dtype=np.float32)
    net = fastnn.MLP(case.sizes, hidden=list(case.hidden), output=output, seed=0, dtype="float32")
    weights = np.full(case.n, 1e-44, np.float32)
    value, grad_w, grad_b = net.loss_and_grad(X, Y, loss, sample_weight=weights)
    plain, plain_w, _ = net.loss_and_grad(X, Y, loss)
    assert_matches(value, plain, np.float32)
    assert_matches(grad_w[0], plain_w[0], np.float32)
    history = net.fit(X, Y, loss=loss, epochs=2, seed=1, sample_weight=weights, **case.fit)
    assert np.isfinite(history.loss).all() and np.isfinite(net.params).all()


def test_an_overflowing_sum_is_not_silent():
    """Summed (not averaged) weights of 1e300 overflow a float32 model's gradient: fit and
    loss_and_grad raise FloatingPointError, and fit restores the parameters."""
    net = fastnn.MLP([3, 4, 1], dtype="float32", seed=0)
    X, Y = make_data(6, [3, 4, 1], "sigmoid", "squared_error", seed=13)
    before = net.params.copy()
    with pytest.raises(FloatingPointError):
        net.loss_and_grad(X, Y, reduction="sum", sample_weight=np.full(6, 1e300))
    with pytest.raises(FloatingPointError):
        net.fit(X, Y, reduction="sum", batch_size=None, sample_weight=np.full(6, 1e300))
    assert net.params.tobytes() == before.tobytes()


BAD_WEIGHTS = {
    "negative": (lambda n: -np.ones(n), ValueError),
    "nan": (lambda n: np.where(np.arange(n) == 1, np.nan, 1.0), ValueError),
    "inf": (lambda n: np.where(np.arange(n) == 1, np.inf, 1.0), ValueError),
    "all_zero": (lambda n: np.zeros(n), ValueError),
    "too_short": (lambda n: np.ones(n - 1), ValueError),
    "two_dimensional": (lambda n: np.ones((n, 1)), ValueError),
    "scalar": (lambda n: 1.0, ValueError),
    "strings": (lambda n: ["a"] * n, TypeError),
    "sum_overflows_float64": (lambda n: np.full(n, 1.7e308), ValueError),
}


@pytest.mark.parametrize("bad", sorted(BAD_WEIGHTS))
@pytest.mark.parametrize("method", ["fit", "loss_and_grad"])
def test_bad_weights_are_refused_before_anything_changes(bad, method):
    make, error = BAD_WEIGHTS[bad]
    net = fastnn.MLP([3, 4, 1], dtype="float32", seed=0)
    X, Y = make_data(6, [3, 4, 1], "sigmoid", "squared_error", seed=9)
    optimizer = fastnn.SGD(lr=0.1, momentum=0.9)
    before = net.params.copy()
    call = (lambda: net.fit(X, Y, optimizer=optimizer, sample_weight=make(6))) if method == "fit" \
        else (lambda: net.loss_and_grad(X, Y, sample_weight=make(6)))
    with pytest.raises(error, match="sample_weight"):
        call()
    assert net.params.tobytes() == before.tobytes() and optimizer.steps == 0
