"""Adam follows torch.optim.Adam exactly (amsgrad=False, L2 weight decay, not AdamW); the
compiled kernel agrees with fastnn.reference; its state carries over between fit calls."""
import gc
import re

import numpy as np
import pytest

import fastnn

from conftest import train_in_torch, assert_matches, make_data, model_pair

SETTINGS = [
    dict(),  # torch's defaults: lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0
    dict(lr=0.01, weight_decay=0.01),
    dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=0.01, betas=(0.5, 0.9), eps=1e-3, weight_decay=0.1),
]


def settings_id(settings):
    return ",".join(f"{k}={v}" for k, v in settings.items()) or "defaults"


def flat_torch_state(torch_opt, params, key):
    """A torch per-tensor state entry laid out as fastnn's flat buffer: W0, b0, W1, b1."""
    tensors = [torch_opt.state[p][key].numpy().ravel() for p in params]
    return np.concatenate([tensors[0], tensors[2], tensors[1], tensors[3]])


@pytest.mark.parametrize("settings", SETTINGS, ids=settings_id)
@pytest.mark.parametrize("batch_size", [1, 5, None])
def test_adam_matches_torch(settings, batch_size):
    torch = pytest.importorskip("torch", reason="PyTorch is an optional extra (pip install fastnn[test])")
    sizes = [3, 5, 2]
    epochs = 6
    net = fastnn.MLP(sizes, hidden="tanh", output="linear", seed=0)
    X, Y = make_data(10, sizes, "linear", "squared_error", seed=1)
    bs = batch_size or len(X)
    params, torch_opt = train_in_torch(
        torch, net, X, Y, lambda params: torch.optim.Adam(params, foreach=False, **settings),
        epochs, batch_size)
    opt = fastnn.Adam(**settings)
    net.fit(X, Y, optimizer=opt, epochs=epochs, batch_size=batch_size, shuffle=False)
    weights, biases = net.get_params()
    for mine, theirs in zip(weights + biases, params):
        assert_matches(mine, theirs.detach().numpy())
    assert_matches(opt.exp_avg, flat_torch_state(torch_opt, params, "exp_avg"))
    assert_matches(opt.exp_avg_sq, flat_torch_state(torch_opt, params, "exp_avg_sq"))
    n_steps = epochs * -(-len(X) // bs)
    assert opt.steps == n_steps
    assert all(int(torch_opt.state[p]["step"]) == n_steps for p in params)


PATHS = {
    "per_sample": dict(batch_size=1, shuffle=False),
    "mini_batch_shuffled": dict(batch_size=8, shuffle=True, seed=7),
    "full_batch": dict(batch_size=None),
}
PROBLEMS = [("sigmoid", "binary_cross_entropy"), ("softmax", "cross_entropy"),
            ("linear", "squared_error")]


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("output,loss", PROBLEMS)
def test_adam_matches_reference(path, dtype, output, loss):
    sizes = [5, 7, 3]
    fast, ref = model_pair(sizes, "tanh", output, True, dtype, seed=5)
    X, Y = make_data(21, sizes, output, loss, seed=6, dtype=dtype)
    settings = dict(lr=0.01, betas=(0.8, 0.99), eps=1e-7, weight_decay=0.01)
    opt_fast, opt_ref = fastnn.Adam(**settings), fastnn.Adam(**settings)
    h_fast = fast.fit(X, Y, loss=loss, optimizer=opt_fast, epochs=5, **PATHS[path])
    h_ref = ref.fit(X, Y, loss=loss, optimizer=opt_ref, epochs=5, **PATHS[path])
    assert fast.params.dtype == dtype and opt_fast.exp_avg.dtype == dtype
    assert_matches(h_fast.loss, h_ref.loss, dtype)
    assert_matches(fast.params, ref.params, dtype)
    assert_matches(opt_fast.exp_avg, opt_ref.exp_avg, dtype)
    assert_matches(opt_fast.exp_avg_sq, opt_ref.exp_avg_sq, dtype)
    assert opt_fast.steps == opt_ref.steps


@pytest.mark.parametrize("cls", [fastnn.MLP, fastnn.reference.MLP], ids=["fast", "reference"])
def test_state_carries_over_between_fit_calls(cls):
    X, Y = make_data(12, [3, 4, 2], "sigmoid", "squared_error", seed=2)
    once = cls([3, 4, 2], output="sigmoid", seed=0)
    opt_once = fastnn.Adam(lr=0.01)
    once.fit(X, Y, optimizer=opt_once, epochs=4, batch_size=3, shuffle=False)
    twice = cls([3, 4, 2], output="sigmoid", seed=0)
    opt = fastnn.Adam(lr=0.01)
    twice.fit(X, Y, optimizer=opt, epochs=2, batch_size=3, shuffle=False)
    twice.fit(X, Y, optimizer=opt, epochs=2, batch_size=3, shuffle=False)
    np.testing.assert_array_equal(once.params, twice.params)
    np.testing.assert_array_equal(opt_once.exp_avg, opt.exp_avg)
    np.testing.assert_array_equal(opt_once.exp_avg_sq, opt.exp_avg_sq)
    assert opt.steps == opt_once.steps == 16
    opt.reset()
    assert opt.exp_avg is None and opt.exp_avg_sq is None and opt.steps == 0


def test_state_is_a_read_only_copy():
    X, Y = make_data(6, [2, 3, 1], "sigmoid", "squared_error", seed=3)
    net = fastnn.MLP([2, 3, 1], seed=0)
    opt = fastnn.Adam()
    assert opt.exp_avg is None and opt.exp_avg_sq is None and opt.steps == 0
    net.fit(X, Y, optimizer=opt, epochs=1, batch_size=2)
    assert opt.exp_avg.shape == opt.exp_avg_sq.shape == (net.n_params,)
    assert (opt.exp_avg_sq > 0).all()
    opt.exp_avg[...] = 0
    opt.exp_avg_sq[...] = 0
    assert np.abs(opt.exp_avg).max() > 0 and (opt.exp_avg_sq > 0).all()
    with pytest.raises(AttributeError):
        opt.exp_avg = np.zeros(net.n_params)


def test_adam_is_exported_and_described():
    assert "Adam" in fastnn.__all__ and fastnn.Adam is fastnn.optimizers.Adam
    opt = fastnn.Adam(betas=[0.8, 0.9])
    assert (opt.lr, opt.betas, opt.eps, opt.weight_decay) == (0.001, (0.8, 0.9), 1e-8, 0.0)
    assert repr(opt) == "Adam(lr=0.001, betas=(0.8, 0.9), eps=1e-08, weight_decay=0.0)"


# --------------------------------------------------------------------------- bad arguments
def named(name):
    """A pytest.raises ``match`` pattern: ``name`` as a whole word of the message."""
    return rf"(?<![\w.]){re.escape(name)}(?!\w)"


ADAM_CASES = [
    # id, keyword arguments, exception, argument named
    ("lr_zero", dict(lr=0.0), ValueError, "lr"),
    ("lr_negative", dict(lr=-0.1), ValueError, "lr"),
    ("lr_nan", dict(lr=float("nan")), ValueError, "lr"),
    ("lr_string", dict(lr="0.1"), TypeError, "lr"),
    ("lr_bool", dict(lr=True), TypeError, "lr"),
    ("betas_scalar", dict(betas=0.9), TypeError, "betas"),
    ("betas_none", dict(betas=None), TypeError, "betas"),
    ("betas_string", dict(betas="ab"), TypeError, "betas"),
    ("betas_three", dict(betas=(0.9, 0.99, 0.999)), ValueError, "betas"),
    ("betas_one", dict(betas=(0.9,)), ValueError, "betas"),
    ("beta1_one", dict(betas=(1.0, 0.999)), ValueError, "betas[0]"),
    ("beta1_negative", dict(betas=(-0.1, 0.999)), ValueError, "betas[0]"),
    ("beta1_string", dict(betas=("0.9", 0.999)), TypeError, "betas[0]"),
    ("beta2_above_one", dict(betas=(0.9, 1.5)), ValueError, "betas[1]"),
    ("beta2_nan", dict(betas=(0.9, float("nan"))), ValueError, "betas[1]"),
    ("beta2_none", dict(betas=(0.9, None)), TypeError, "betas[1]"),
    ("eps_zero", dict(eps=0.0), ValueError, "eps"),
    ("eps_negative", dict(eps=-1e-8), ValueError, "eps"),
    ("eps_string", dict(eps="1e-8"), TypeError, "eps"),
    ("weight_decay_negative", dict(weight_decay=-1e-4), ValueError, "weight_decay"),
    ("weight_decay_inf", dict(weight_decay=float("inf")), ValueError, "weight_decay"),
    ("weight_decay_string", dict(weight_decay="0"), TypeError, "weight_decay"),
]
ADAM_PARAMS = [pytest.param(*c[1:], id=c[0]) for c in ADAM_CASES]
ADAM_DEFAULTS = dict(lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)


@pytest.mark.parametrize("kwargs, error, name", ADAM_PARAMS)
def test_adam_rejects(kwargs, error, name):
    with pytest.raises(error, match=named(name)):
        fastnn.Adam(**kwargs)


def state_of(net, opt):
    return (net.params.tobytes(), opt.exp_avg.tobytes(), opt.exp_avg_sq.tobytes(), opt.steps)


@pytest.mark.parametrize("kwargs, error, name", ADAM_PARAMS)
def test_fit_rejects_an_adam_spoiled_after_construction(kwargs, error, name):
    X, Y = make_data(6, [3, 4, 2], "linear", "squared_error", seed=4)
    net = fastnn.MLP([3, 4, 2], output="linear", seed=0)
    opt = fastnn.Adam(lr=0.01)
    net.fit(X, Y, optimizer=opt, epochs=1, batch_size=2)
    before = state_of(net, opt)
    for attribute, value in dict(ADAM_DEFAULTS, **kwargs).items():
        setattr(opt, attribute, value)
    with pytest.raises(error, match=named(name)):
        net.fit(X, Y, optimizer=opt, epochs=2)
    assert state_of(net, opt) == before


def test_one_adam_per_model():
    X, Y = make_data(6, [3, 4, 2], "linear", "squared_error", seed=4)
    net = fastnn.MLP([3, 4, 2], output="linear", seed=0)
    other = fastnn.MLP([3, 4, 2], output="linear", seed=1)
    opt = fastnn.Adam()
    net.fit(X, Y, optimizer=opt)
    before = state_of(other, opt)
    with pytest.raises(ValueError, match=named("optimizer")):
        other.fit(X, Y, optimizer=opt)
    assert state_of(other, opt) == before


def test_state_does_not_leak_from_a_discarded_model():
    """An Adam whose model was garbage-collected starts afresh on a new model."""
    X, Y = make_data(6, [3, 4, 2], "linear", "squared_error", seed=4)
    opt = fastnn.Adam(lr=0.01)
    old = fastnn.MLP([3, 4, 2], output="linear", seed=0)
    old.fit(X, Y, optimizer=opt, epochs=2, batch_size=2)
    del old
    gc.collect()
    net, twin = (fastnn.MLP([3, 4, 2], output="linear", seed=0) for _ in range(2))
    net.fit(X, Y, optimizer=opt, epochs=1, batch_size=2, seed=0)
    fresh = fastnn.Adam(lr=0.01)
    twin.fit(X, Y, optimizer=fresh, epochs=1, batch_size=2, seed=0)
    assert opt.steps == fresh.steps == 3
    np.testing.assert_array_equal(opt.exp_avg_sq, fresh.exp_avg_sq)
    np.testing.assert_array_equal(net.params, twin.params)
