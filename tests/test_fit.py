"""fit's contract: what History holds, callbacks, verbose output, seeds; predict's kinds."""
import sys

import numpy as np
import pytest

import fastnn
from fastnn import progress

from conftest import make_data


def test_history_loss_is_the_loss_before_each_update():
    X, Y = make_data(10, [3, 4, 2], "sigmoid", "squared_error", seed=0)
    net = fastnn.MLP([3, 4, 2], output="sigmoid", seed=0)
    before = net.loss_and_grad(X, Y)[0]
    history = net.fit(X, Y, optimizer=fastnn.SGD(lr=0.5), epochs=3, batch_size=None)
    assert len(history.loss) == 3 and history.seconds > 0
    assert history.loss[0] == pytest.approx(before, rel=1e-12)
    assert history.loss[2] < history.loss[0]


def test_history_loss_is_the_per_sample_mean_whatever_the_reduction():
    X, Y = make_data(10, [3, 4, 2], "sigmoid", "squared_error", seed=1)
    losses = []
    for reduction in ("mean", "sum"):
        net = fastnn.MLP([3, 4, 2], output="sigmoid", seed=0)
        losses.append(net.fit(X, Y, epochs=1, batch_size=None, reduction=reduction).loss[0])
    assert losses[0] == pytest.approx(losses[1], rel=1e-12)


def test_zero_epochs_changes_nothing():
    X, Y = make_data(6, [2, 3, 1], "sigmoid", "squared_error", seed=2)
    net = fastnn.MLP([2, 3, 1], seed=0)
    before = net.params.copy()
    assert net.fit(X, Y, epochs=0).loss == []
    np.testing.assert_array_equal(net.params, before)


def test_callback_sees_every_epoch_and_can_stop_training():
    X, Y = make_data(6, [2, 3, 1], "sigmoid", "squared_error", seed=3)
    seen = []

    def callback(epoch, loss):
        seen.append((epoch, loss))
        return epoch < 4

    net = fastnn.MLP([2, 3, 1], seed=0)
    history = net.fit(X, Y, epochs=100, callback=callback)
    assert [e for e, _ in seen] == [0, 1, 2, 3, 4]
    assert [l for _, l in seen] == history.loss


def test_callback_sees_the_model_after_that_epoch():
    X, Y = make_data(6, [2, 3, 1], "sigmoid", "squared_error", seed=4)
    snapshots = []
    net = fastnn.MLP([2, 3, 1], seed=0)
    net.fit(X, Y, epochs=3, batch_size=None, callback=lambda e, l: snapshots.append(net.params.copy()))
    other = fastnn.MLP([2, 3, 1], seed=0)
    for snapshot in snapshots:
        other.fit(X, Y, epochs=1, batch_size=None)
        np.testing.assert_array_equal(other.params, snapshot)


def test_verbose_prints_one_line_per_epoch(capsys):
    X, Y = make_data(6, [2, 3, 1], "sigmoid", "squared_error", seed=5)
    history = fastnn.MLP([2, 3, 1], seed=0).fit(X, Y, epochs=3, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[1].startswith(" Epoch: 1, loss: ") and f"{history.loss[1]:.8f}" in lines[1]
    assert lines[1].endswith("s") and "Time: " in lines[1]


def block_tqdm(monkeypatch):
    """Make ``from tqdm import tqdm`` fail, as without tqdm installed."""
    monkeypatch.setitem(sys.modules, "tqdm", None)


@pytest.mark.parametrize("with_tqdm", [False, True])
def test_verbose_long_training_shows_one_progress_bar(monkeypatch, capsys, with_tqdm):
    """Beyond MAX_EPOCH_LINES epochs: one bar updated per compiled chunk (not per epoch),
    ending with the epoch count, the last loss and samples/s."""
    if with_tqdm:
        pytest.importorskip("tqdm", reason="tqdm is optional")
    else:
        block_tqdm(monkeypatch)
    X, Y = make_data(4, [2, 3, 1], "sigmoid", "squared_error", seed=5)
    epochs = progress.MAX_EPOCH_LINES * 50
    history = fastnn.MLP([2, 3, 1], seed=0).fit(X, Y, epochs=epochs, batch_size=None,
                                                verbose=True)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.endswith("\n")
    last = out.rstrip("\n").split("\r")[-1]
    assert f"{epochs}/{epochs}" in last and "samples" in last
    assert f"{history.loss[-1]:.6g}" in last
    assert out.count("\r") < epochs // 10


def test_progress_bar_closes_its_line_when_training_diverges(monkeypatch, capsys):
    block_tqdm(monkeypatch)
    X, Y = make_data(4, [2, 3, 1], "linear", "squared_error", seed=5)
    net = fastnn.MLP([2, 3, 1], output="linear", seed=0)
    with pytest.raises(FloatingPointError):
        net.fit(X * 1e3, Y, optimizer=fastnn.SGD(lr=10.0), epochs=1000, verbose=True)
    assert capsys.readouterr().out.endswith("\n")


def test_shuffling_follows_the_seed():
    X, Y = make_data(20, [2, 3, 1], "sigmoid", "squared_error", seed=6)
    results = []
    for seed in (1, 1, 2):
        net = fastnn.MLP([2, 3, 1], seed=0)
        net.fit(X, Y, epochs=2, batch_size=4, seed=seed)
        results.append(net.params.copy())
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.array_equal(results[0], results[2])
    generator = np.random.default_rng(1)
    net = fastnn.MLP([2, 3, 1], seed=0)
    net.fit(X, Y, epochs=2, batch_size=4, seed=generator)
    np.testing.assert_array_equal(net.params, results[0])


def test_initial_weights_follow_the_seed_and_the_rule():
    a, b = fastnn.MLP([4, 5, 3], seed=7), fastnn.MLP([4, 5, 3], seed=7)
    np.testing.assert_array_equal(a.params, b.params)
    weights, biases = fastnn.MLP([400, 300, 3], init="xavier", seed=0).get_params()
    limit = np.sqrt(6 / 700)
    assert np.abs(weights[0]).max() <= limit and np.abs(weights[0]).max() > 0.99 * limit
    assert all((b == 0).all() for b in biases)
    weights, _ = fastnn.MLP([400, 300, 3], init="he", seed=0).get_params()
    assert weights[0].std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    weights, _ = fastnn.MLP([400, 300, 3], init="normal", seed=0).get_params()
    assert weights[0].std() == pytest.approx(0.1, rel=0.02)
    weights, biases = fastnn.MLP([40, 30, 3], init="uniform", seed=0).get_params()
    assert 0 <= weights[0].min() and weights[0].max() < 1 and 0 <= biases[0].min() and biases[0].max() < 1
    weights, biases = fastnn.MLP([40, 30, 3], init="uniform_signed", seed=0).get_params()
    assert weights[0].min() < -0.9 and biases[0].min() < 0 and biases[0].max() < 1


@pytest.mark.parametrize("hidden, factor", [("tanh", 6.0), ("relu", 6.0), ("sigmoid", 2.0)])
def test_sklearn_init_draws_scikit_learns_weights(hidden, factor):
    """init="sklearn": per layer W then b ~ U(+-sqrt(factor / (fan_in + fan_out))) from one
    RandomState, the order of scikit-learn's MLP._init_coef."""
    sizes = [6, 5, 4, 2]
    weights, biases = fastnn.MLP(sizes, hidden=hidden, init="sklearn", seed=3).get_params()
    rs = np.random.RandomState(3)
    for fan_in, fan_out, W, b in zip(sizes[:-1], sizes[1:], weights, biases):
        bound = np.sqrt(factor / (fan_in + fan_out))
        np.testing.assert_array_equal(W, rs.uniform(-bound, bound, (fan_in, fan_out)))
        np.testing.assert_array_equal(b, rs.uniform(-bound, bound, fan_out))


def test_predict_kinds():
    X = np.random.default_rng(0).normal(size=(7, 3))
    softmax = fastnn.MLP([3, 4, 3], output="softmax", seed=0)
    np.testing.assert_array_equal(softmax.predict(X), softmax.forward(X).argmax(axis=1))
    several = fastnn.MLP([3, 4, 3], output="sigmoid", seed=0)
    np.testing.assert_array_equal(several.predict(X), several.forward(X).argmax(axis=1))
    one = fastnn.MLP([3, 4, 1], output="sigmoid", seed=0)
    np.testing.assert_array_equal(one.predict(X), (one.forward(X)[:, 0] > 0.5).astype(int))
    linear = fastnn.MLP([3, 4, 1], output="linear", seed=0)
    np.testing.assert_array_equal(linear.predict(X), linear.forward(X))


def test_float32_model_computes_in_float32():
    X, Y = make_data(8, [3, 4, 2], "sigmoid", "squared_error", seed=8)
    net = fastnn.MLP([3, 4, 2], output="sigmoid", dtype="float32", seed=0)
    assert net.forward(X).dtype == np.float32
    assert all(g.dtype == np.float32 for g in net.loss_and_grad(X, Y)[1])
    net.fit(X, Y, optimizer=fastnn.SGD(lr=0.1, momentum=0.9), epochs=2)
    assert net.params.dtype == np.float32 and np.isfinite(net.params).all()


def test_results_do_not_depend_on_chunking(monkeypatch):
    """Epochs run in compiled chunks sized by time; the result is the same for any size."""
    from fastnn import network

    X, Y = make_data(12, [3, 4, 2], "sigmoid", "squared_error", seed=14)
    results = []
    for seconds in (1e-12, 10.0):
        monkeypatch.setattr(network, "CHUNK_SECONDS", seconds)
        net = fastnn.MLP([3, 4, 2], output="sigmoid", seed=0)
        h = net.fit(X, Y, optimizer=fastnn.SGD(lr=0.1, momentum=0.9), epochs=25, batch_size=5, seed=3)
        results.append((h.loss, net.params.copy()))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_l2_penalty_is_the_stated_loss():
    """One full-batch step with l2: the reported loss is the data loss plus 1/2 l2 ||W||^2
    / n, and the step is lr times its gradient; biases are not penalised."""
    sizes = [4, 5, 2]
    net = fastnn.MLP(sizes, hidden="tanh", output="linear", seed=17)
    X, Y = make_data(9, sizes, "linear", "squared_error", seed=18)
    weights, biases = net.get_params()
    loss, grad_w, grad_b = net.loss_and_grad(X, Y)
    squares = sum(float((W ** 2).sum()) for W in weights)
    history = net.fit(X, Y, optimizer=fastnn.SGD(lr=0.1), l2=0.5, batch_size=None)
    assert history.loss[0] == pytest.approx(loss + 0.25 * squares / 9, rel=1e-13)
    new_weights, new_biases = net.get_params()
    for W, dW, new in zip(weights, grad_w, new_weights):
        np.testing.assert_allclose(new, W - 0.1 * (dW + 0.5 * W / 9), rtol=1e-13, atol=1e-15)
    for b, db, new in zip(biases, grad_b, new_biases):
        np.testing.assert_allclose(new, b - 0.1 * db, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("batch_size", [1, 8, None])
def test_an_interrupt_leaves_the_last_completed_epoch(batch_size):
    """Ctrl-C (KeyboardInterrupt) between the compiled calls: the parameters and optimizer
    state are those after the epochs that completed, exactly, and training can go on."""
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))

    def interrupt(epoch, loss):
        if epoch == 3:
            raise KeyboardInterrupt
    net, opt = fastnn.MLP([3, 6, 2], output="linear", seed=0), fastnn.SGD(lr=0.05, momentum=0.9)
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, Y, optimizer=opt, epochs=10, batch_size=batch_size, seed=3,
                callback=interrupt)
    alone, alone_opt = (fastnn.MLP([3, 6, 2], output="linear", seed=0),
                        fastnn.SGD(lr=0.05, momentum=0.9))
    alone.fit(X, Y, optimizer=alone_opt, epochs=4, batch_size=batch_size, seed=3)
    np.testing.assert_array_equal(net.params, alone.params)
    np.testing.assert_array_equal(opt.velocity, alone_opt.velocity)
    net.fit(X, Y, optimizer=opt, epochs=1, batch_size=batch_size)  # not stuck: trains on
