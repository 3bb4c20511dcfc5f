"""The narrow path (fastnn.kernels.narrow: batches of many rows through narrow layers, stored
feature-major) against the reference and the batched path."""
import numpy as np
import pytest

import fastnn
from fastnn import _registry as reg
from fastnn.kernels.narrow import NARROW_MAX_WIDTH, NARROW_MIN_ROWS, chunk_rows, narrow_fits
from fastnn.kernels.per_sample import PER_SAMPLE_MAX_ROWS
from fastnn.workloads import WORKLOADS

from conftest import (OUTPUT_LOSS_PAIRS, assert_matches, assert_same_training, make_data,
                      model_pair)

DTYPES = [np.float64, np.float32]
OPTIMIZERS = {
    "sgd": lambda: fastnn.SGD(lr=0.05),
    "momentum": lambda: fastnn.SGD(lr=0.05, momentum=0.9),
    "mild": lambda: fastnn.SGD(lr=0.01, momentum=0.5),
    "tiny": lambda: fastnn.SGD(lr=0.0005, momentum=0.5),  # for summed losses of 300 rows
    "nesterov_decay": lambda: fastnn.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam": lambda: fastnn.Adam(lr=0.01, weight_decay=0.01),
}
# (samples, batch_size, shuffle): a full batch of two chunks, shuffled mini-batches with a
# short last one, the smallest narrow batch in order
BATCHES = [(300, None, False), (300, 130, True), (150, NARROW_MIN_ROWS, False)]
# around the thresholds: widths 1 and NARROW_MAX_WIDTH, W4's shape, a bottleneck, depth 4
SHAPES = [[1, 1], [2, 10, 1], [3, NARROW_MAX_WIDTH, NARROW_MAX_WIDTH, 2],
          [NARROW_MAX_WIDTH, 1, NARROW_MAX_WIDTH], [4, 5, 3, 2, 6]]
# (samples, batch_size, shuffle) with c the chunk's rows: full batches of one chunk, one chunk
# and a row, three chunks; shuffled minimum-size batches
ROWS = {"one_chunk": lambda c: (c, None, False), "chunk_and_a_row": lambda c: (c + 1, None, False),
        "three_chunks": lambda c: (2 * c + 3, None, False),
        "min_batches": lambda c: (3 * NARROW_MIN_ROWS + 5, NARROW_MIN_ROWS, True)}

def fit_both(fast, ref, X, Y, optimizer, **fit_args):
    h_fast = fast.fit(X, Y, optimizer=OPTIMIZERS[optimizer](), seed=3, **fit_args)
    h_ref = ref.fit(X, Y, optimizer=OPTIMIZERS[optimizer](), seed=3, **fit_args)
    return h_fast, h_ref


def assert_narrow(batch_size, n, sizes):
    assert narrow_fits(batch_size or n, np.array(sizes, np.int64))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", reg.HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("n,batch_size,shuffle", BATCHES)
def test_every_activation_and_loss(dtype, hidden, output, loss, bias, n, batch_size, shuffle):
    """One step, then two epochs, against the reference, for both reductions."""
    sizes = [5, 7, 6, 3]
    assert_narrow(batch_size, n, sizes)
    for reduction in reg.REDUCTIONS:
        fast, ref = model_pair(sizes, hidden, output, bias, dtype, seed=31)
        X, Y = make_data(n, sizes, output, loss, seed=32, dtype=dtype)
        args = dict(loss=loss, batch_size=batch_size, shuffle=shuffle, reduction=reduction)
        bs = batch_size or n
        optimizer = "mild" if reduction == "mean" else "tiny"
        fit_both(fast, ref, X[:bs], Y[:bs], optimizer, epochs=1, **args)
        assert_matches(fast._params, ref._params, dtype)
        h_fast, h_ref = fit_both(fast, ref, X, Y, optimizer, epochs=2, **args)
        assert_matches(h_fast.loss, h_ref.loss, dtype)
        assert_matches(fast._params, ref._params, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("optimizer", sorted(set(OPTIMIZERS) - {"mild", "tiny"}))
@pytest.mark.parametrize("rows", sorted(ROWS))
@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_shapes_and_optimizers(dtype, sizes, optimizer, rows, l2):
    """Shapes and batch sizes at and around the thresholds, every optimizer, with and without
    the l2 penalty: epochs agree with the reference (optimizer state too)."""
    n, batch_size, shuffle = ROWS[rows](chunk_rows(10**6, np.array(sizes), np.dtype(dtype).itemsize))
    assert_narrow(batch_size, n, sizes)
    output, loss = ("softmax", "cross_entropy") if sizes[-1] > 1 else ("sigmoid", "binary_cross_entropy")
    fast, ref = model_pair(sizes, "tanh", output, True, dtype, seed=33)
    X, Y = make_data(n, sizes, output, loss, seed=34, dtype=dtype)
    assert_same_training(fast, ref, X, Y, OPTIMIZERS[optimizer], dtype, loss=loss,
                         epochs=3 if dtype == np.float64 else 1, batch_size=batch_size,
                         shuffle=shuffle, seed=4, l2=l2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt_code,hyper", [(reg.OPT_SKLEARN_SGD, (0.05, 0.9, 1.0)),
                                            (reg.OPT_SKLEARN_ADAM, (0.01, 0.9, 0.999, 1e-8))],
                         ids=["sklearn_sgd", "sklearn_adam"])
def test_scikit_learn_updates_and_epoch_penalties(dtype, opt_code, hyper):
    """The update codes of fastnn.MLPClassifier / MLPRegressor, and the l2 part of each epoch's
    loss that they report, straight through _train_epochs."""
    sizes = [3, 8, 2]
    fast, ref = model_pair(sizes, "relu", "softmax", True, dtype, seed=35)
    X, Y = make_data(250, sizes, "softmax", "cross_entropy", seed=36, dtype=dtype)
    orders = np.stack([np.random.default_rng(e).permutation(250) for e in range(3)])
    results = []
    for net in (fast, ref):
        state = np.zeros((2, net.n_params), dtype)
        step = np.zeros(1, np.int64)
        losses, penalties = net._train_epochs(X, Y, orders, True, 100, True, 0.01,
                                              "cross_entropy", opt_code, state,
                                              np.array(hyper, dtype), step)
        results.append((losses, penalties, net._params.copy(), state, step))
    assert narrow_fits(100, fast._layer_sizes)
    for mine, theirs in zip(*results):
        assert_matches(mine, theirs, dtype)
    assert results[0][1].min() > 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", reg.HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output", reg.OUTPUT_ACTIVATIONS)
def test_forward(dtype, hidden, output):
    """Predictions (forward_rows) of narrow networks on many rows: one chunk and several."""
    sizes = [5, 7, 6, 3]
    fast, ref = model_pair(sizes, hidden, output, True, dtype, seed=41)
    chunk = chunk_rows(10**6, np.array(sizes), np.dtype(dtype).itemsize)
    for n in (NARROW_MIN_ROWS, 2 * chunk + 3):
        assert_narrow(None, n, sizes)
        X, _ = make_data(n, sizes, output, "squared_error", seed=42, dtype=dtype)
        out = fast.forward(X)
        assert out.dtype == dtype
        assert_matches(out, ref.forward(X), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("bias", [True, False])
def test_loss_and_grad(dtype, output, loss, bias):
    """fastnn.MLP.loss_and_grad on many rows of a narrow network (loss_grad_narrow): one chunk
    and several, both reductions, against the reference."""
    sizes = [5, 7, 6, 3]
    fast, ref = model_pair(sizes, "tanh", output, bias, dtype, seed=43)
    chunk = chunk_rows(10**6, np.array(sizes), np.dtype(dtype).itemsize)
    for n in (NARROW_MIN_ROWS, 2 * chunk + 3):
        assert_narrow(None, n, sizes)
        X, Y = make_data(n, sizes, output, loss, seed=44, dtype=dtype)
        for reduction in reg.REDUCTIONS:
            l_fast, gw_fast, gb_fast = fast.loss_and_grad(X, Y, loss, reduction)
            l_ref, gw_ref, gb_ref = ref.loss_and_grad(X, Y, loss, reduction)
            assert_matches(l_fast, l_ref, dtype)
            for a, b in zip(gw_fast + (gb_fast or []), gw_ref + (gb_ref or [])):
                assert a.dtype == dtype
                assert_matches(a, b, dtype)


def test_agrees_with_the_batched_path(monkeypatch):
    """One full-batch step of plain SGD (lr 1, summed loss) moves the parameters by minus the
    gradient of the batched path (fastnn.MLP.loss_and_grad, kept off the narrow path), to
    1e-12."""
    import fastnn.model
    sizes = [4, 9, 7, 3]
    for hidden, output, loss in [("sigmoid", "sigmoid", "squared_error"),
                                 ("tanh", "sigmoid", "binary_cross_entropy"),
                                 ("leaky_relu", "softmax", "cross_entropy")]:
        net = fastnn.MLP(sizes, hidden=hidden, output=output, seed=37)
        X, Y = make_data(700, sizes, output, loss, seed=38)
        before = net._params.copy()
        monkeypatch.setattr(fastnn.model, "narrow_fits", lambda batch_size, sizes: False)
        total, grad_w, grad_b = net.loss_and_grad(X, Y, loss, reduction="sum")
        monkeypatch.undo()  # the fit below takes the narrow path
        history = net.fit(X, Y, loss=loss, optimizer=fastnn.SGD(lr=1.0), batch_size=None,
                          reduction="sum")
        assert history.loss[0] == pytest.approx(total / len(X), rel=1e-12)
        weights, biases = net._layer_views(before - net._params)
        for step, grad in zip(weights + biases, grad_w + grad_b):
            assert_matches(step, grad)


def test_w4_training_stays_close():
    """W4 (moons, 2-10-1 sigmoid, 1000 rows, summed squared error, lr 0.1) for its first
    2,000 full-batch steps, on the 0.25 plateau where training is smooth: within 1e-12 of the
    reference."""
    workload = WORKLOADS["W4"]
    data = workload.data()
    fast, h_fast = workload.train(fastnn.MLP, data, 2000)
    ref, h_ref = workload.train(fastnn.reference.MLP, data, 2000)
    assert_narrow(None, len(data[0]), fast.sizes)
    assert_matches(h_fast.loss, h_ref.loss, rtol=1e-12)
    assert_matches(fast._params, ref._params, rtol=1e-12)


def test_divergence_is_still_caught():
    sizes = [3, 4, 1]
    X, Y = make_data(100, sizes, "linear", "squared_error", seed=40)
    net = fastnn.MLP(sizes, output="linear", seed=0)
    before = net._params.copy()
    with pytest.raises(FloatingPointError):
        net.fit(X, Y * 1e6, optimizer=fastnn.SGD(lr=10.0), epochs=50, batch_size=None,
                reduction="sum")
    np.testing.assert_array_equal(net._params, before)


def test_which_batches_take_the_narrow_path():
    narrow = np.array([2, 10, 1], np.int64)
    assert narrow_fits(NARROW_MIN_ROWS, narrow) and narrow_fits(10**6, narrow)
    assert not narrow_fits(NARROW_MIN_ROWS - 1, narrow)
    assert narrow_fits(1000, np.array([NARROW_MAX_WIDTH] * 3, np.int64))
    for wide in ([NARROW_MAX_WIDTH + 1, 4, 1], [2, NARROW_MAX_WIDTH + 1, 1], [2, 4, 100]):
        assert not narrow_fits(1000, np.array(wide, np.int64))
    assert 1 < NARROW_MIN_ROWS <= PER_SAMPLE_MAX_ROWS  # tiny batches stay per sample


def test_chunks():
    """CHUNK_BYTES of activations and deltas, a multiple of 8 rows from 64 to 1024, at most
    the batch."""
    w4 = np.array([2, 10, 1], np.int64)  # 2 + 2 * 11 values a row
    assert chunk_rows(1000, w4, 8) == (1 << 17) // (24 * 8) // 8 * 8 == 680
    assert chunk_rows(300, w4, 8) == 300
    assert chunk_rows(10**6, w4, 4) == 1024
    assert chunk_rows(10**6, np.array([32] * 4, np.int64), 8) == 72  # 1792 bytes a row
    assert chunk_rows(10**6, np.array([32] * 6, np.int64), 8) == 64
