"""SGD follows torch.optim.SGD exactly; its state carries over between fit calls."""
import numpy as np
import pytest

import fastnn

from conftest import train_in_torch, assert_matches, make_data

SETTINGS = [
    dict(lr=0.1),
    dict(lr=0.1, weight_decay=0.01),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, weight_decay=0.01),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.05, momentum=0.5, nesterov=True, weight_decay=0.001),
]


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()))
@pytest.mark.parametrize("batch_size", [1, 5, None])
def test_sgd_matches_torch(settings, batch_size):
    torch = pytest.importorskip("torch", reason="PyTorch is an optional extra (pip install fastnn[test])")
    sizes = [3, 5, 2]
    net = fastnn.MLP(sizes, hidden="tanh", output="linear", seed=0)
    X, Y = make_data(10, sizes, "linear", "squared_error", seed=1)
    bs = batch_size or len(X)
    params, torch_opt = train_in_torch(
        torch, net, X, Y, lambda params: torch.optim.SGD(params, **settings),
        3, batch_size)
    opt = fastnn.SGD(**settings)
    net.fit(X, Y, optimizer=opt, epochs=3, batch_size=batch_size, shuffle=False)
    weights, biases = net.get_params()
    for mine, theirs in zip(weights + biases, params):
        assert_matches(mine, theirs.detach().numpy())
    if settings.get("momentum"):
        buffers = [torch_opt.state[p]["momentum_buffer"].numpy().ravel() for p in params]
        theirs = np.concatenate([buffers[0], buffers[2], buffers[1], buffers[3]])  # fastnn layout
        assert_matches(opt.velocity, theirs)
    assert opt.steps == 3 * -(-len(X) // bs)


def test_state_carries_over_between_fit_calls():
    X, Y = make_data(12, [3, 4, 2], "sigmoid", "squared_error", seed=2)
    once = fastnn.MLP([3, 4, 2], output="sigmoid", seed=0)
    once.fit(X, Y, optimizer=fastnn.SGD(lr=0.1, momentum=0.9), epochs=4, batch_size=3, shuffle=False)
    twice = fastnn.MLP([3, 4, 2], output="sigmoid", seed=0)
    opt = fastnn.SGD(lr=0.1, momentum=0.9)
    twice.fit(X, Y, optimizer=opt, epochs=2, batch_size=3, shuffle=False)
    twice.fit(X, Y, optimizer=opt, epochs=2, batch_size=3, shuffle=False)
    np.testing.assert_array_equal(once.params, twice.params)
    opt.reset()
    assert opt.velocity is None and opt.steps == 0


def test_default_optimizer_is_fresh_sgd_each_call():
    X, Y = make_data(8, [2, 3, 1], "sigmoid", "squared_error", seed=3)
    a = fastnn.MLP([2, 3, 1], seed=0)
    a.fit(X, Y, epochs=2, shuffle=False)
    b = fastnn.MLP([2, 3, 1], seed=0)
    b.fit(X, Y, optimizer=fastnn.SGD(lr=0.01), epochs=1, shuffle=False)
    b.fit(X, Y, optimizer=fastnn.SGD(lr=0.01), epochs=1, shuffle=False)
    np.testing.assert_array_equal(a.params, b.params)


@pytest.mark.parametrize("stacked", [False, True], ids=["MLP", "MLPStack"])
def test_move_to_keeps_the_state_for_the_same_parameters_in_another_dtype(stacked):
    make = (lambda dtype: fastnn.MLPStack([3, 4, 1], 2, seed=0, dtype=dtype)) if stacked else \
        (lambda dtype: fastnn.MLP([3, 4, 1], seed=0, dtype=dtype))
    X = np.random.default_rng(0).random((8, 3))
    model = make("float64")
    optimizer = fastnn.SGD(lr=0.1, momentum=0.9)
    model.fit(X, X[:, :1], optimizer=optimizer, epochs=2)
    before, steps = optimizer.velocity.copy(), optimizer.steps
    rebuilt = make("float32")
    optimizer.move_to(rebuilt)
    assert optimizer.velocity.dtype == np.float32
    np.testing.assert_array_equal(optimizer.velocity, before.astype(np.float32))
    np.testing.assert_array_equal(optimizer.steps, steps)
    rebuilt.fit(X.astype(np.float32), X[:, :1], optimizer=optimizer, epochs=1)  # serves it


@pytest.mark.parametrize("other", [
    lambda: fastnn.MLP([3, 5, 1], seed=0),                 # other parameters
    lambda: fastnn.MLPStack([3, 4, 1], 2, seed=0),          # a stack, the state a model's
])
def test_move_to_refuses_a_model_of_another_shape(other):
    X = np.random.default_rng(0).random((8, 3))
    optimizer = fastnn.SGD(lr=0.1, momentum=0.9)
    fastnn.MLP([3, 4, 1], seed=0).fit(X, X[:, :1], optimizer=optimizer, epochs=1)
    velocity = optimizer.velocity.copy()
    with pytest.raises(ValueError, match="state would have shape"):
        optimizer.move_to(other())
    np.testing.assert_array_equal(optimizer.velocity, velocity)
