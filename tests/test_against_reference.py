"""Every compiled kernel path against fastnn.reference: forward, loss and gradient, and
training steps on the per-sample and batched paths, in float64 and float32."""
import numpy as np
import pytest

import fastnn
from fastnn import _registry as reg
from fastnn import model as model_module

from conftest import OUTPUT_LOSS_PAIRS, assert_matches, make_data, model_pair

DTYPES = [np.float64, np.float32]
DEPTHS = {1: [5, 3], 2: [5, 7, 3], 3: [5, 7, 6, 3], 4: [5, 7, 6, 4, 3]}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", reg.HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("bias", [True, False])
def test_forward_loss_and_gradient(dtype, hidden, output, loss, bias):
    sizes = DEPTHS[3]
    fast, ref = model_pair(sizes, hidden, output, bias, dtype, seed=1)
    X, Y = make_data(23, sizes, output, loss, seed=2, dtype=dtype)
    assert_matches(fast.forward(X), ref.forward(X), dtype)
    for reduction in reg.REDUCTIONS:
        l_fast, gw_fast, gb_fast = fast.loss_and_grad(X, Y, loss, reduction)
        l_ref, gw_ref, gb_ref = ref.loss_and_grad(X, Y, loss, reduction)
        assert_matches(l_fast, l_ref, dtype)
        for a, b in zip(gw_fast, gw_ref):
            assert a.dtype == dtype
            assert_matches(a, b, dtype)
        assert (gb_fast is None) == (not bias)
        for a, b in zip(gb_fast or [], gb_ref or []):
            assert_matches(a, b, dtype)


@pytest.mark.parametrize("depth", sorted(DEPTHS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_depths(depth, dtype):
    sizes = DEPTHS[depth]
    fast, ref = model_pair(sizes, "relu", "softmax", True, dtype, seed=3)
    X, Y = make_data(17, sizes, "softmax", "cross_entropy", seed=4, dtype=dtype)
    assert_matches(fast.forward(X), ref.forward(X), dtype)
    for a, b in zip(fast.loss_and_grad(X, Y, "cross_entropy")[1], ref.loss_and_grad(X, Y, "cross_entropy")[1]):
        assert_matches(a, b, dtype)




def fit_pair(fast, ref, X, Y, opt_args, **fit_args):
    h_fast = fast.fit(X, Y, optimizer=fastnn.SGD(**opt_args), **fit_args)
    h_ref = ref.fit(X, Y, optimizer=fastnn.SGD(**opt_args), **fit_args)
    return h_fast, h_ref


PATHS = {
    "per_sample": dict(batch_size=1, shuffle=False),
    "per_sample_shuffled": dict(batch_size=1, shuffle=True, seed=7),
    "mini_batch": dict(batch_size=8, shuffle=False),
    "mini_batch_shuffled": dict(batch_size=8, shuffle=True, seed=7),
    "full_batch": dict(batch_size=None),
}


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
def test_one_epoch_of_training(path, dtype, output, loss):
    sizes = DEPTHS[2]
    for reduction in reg.REDUCTIONS:
        fast, ref = model_pair(sizes, "tanh", output, True, dtype, seed=5)
        X, Y = make_data(21, sizes, output, loss, seed=6, dtype=dtype)
        h_fast, h_ref = fit_pair(fast, ref, X, Y, {"lr": 0.05, "momentum": 0.9}, loss=loss,
                                 epochs=1, reduction=reduction, **PATHS[path])
        assert_matches(h_fast.loss, h_ref.loss, dtype)
        assert_matches(fast._params, ref._params, dtype)


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("hidden", reg.HIDDEN_ACTIVATIONS)
def test_long_training_stays_close(path, hidden):
    """30 epochs (1,500 per-sample steps) with momentum, nesterov and weight decay, at a
    learning rate where training is stable (chaotic training amplifies any rounding):
    float64 stays within 1e-9."""
    sizes = DEPTHS[2]
    fast, ref = model_pair(sizes, hidden, "softmax", True, np.float64, seed=8)
    X, Y = make_data(50, sizes, "softmax", "cross_entropy", seed=9)
    opt = {"lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}
    h_fast, h_ref = fit_pair(fast, ref, X, Y, opt, loss="cross_entropy", epochs=30, **PATHS[path])
    assert_matches(h_fast.loss, h_ref.loss, rtol=1e-9)
    assert_matches(fast._params, ref._params, rtol=1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_size", [32, 7])
def test_wide_layers(monkeypatch, dtype, batch_size):
    """Layers wide enough for BLAS (m*k*n >= BLAS_MIN_WORK) agree too, with the forward
    products of small parts by fastnn.kernels.dense.forward_loops (7 rows, and the 16-row
    parts of a 32-row batch split in two, in float32)."""
    monkeypatch.setattr(model_module, "batch_parts", lambda batch_size, sizes, block_rows:
                        2 if batch_size >= 32 else 1)
    sizes = [64, 128, 64, 10]
    fast, ref = model_pair(sizes, "relu", "softmax", True, dtype, seed=10)
    X, Y = make_data(96, sizes, "softmax", "cross_entropy", seed=11, dtype=dtype)
    assert_matches(fast.forward(X), ref.forward(X), dtype)
    for a, b in zip(fast.loss_and_grad(X, Y, "cross_entropy")[1], ref.loss_and_grad(X, Y, "cross_entropy")[1]):
        assert_matches(a, b, dtype)
    h_fast, h_ref = fit_pair(fast, ref, X, Y, {"lr": 0.05, "momentum": 0.9}, loss="cross_entropy",
                             epochs=2, batch_size=batch_size, seed=1)
    assert_matches(h_fast.loss, h_ref.loss, dtype)
    assert_matches(fast._params, ref._params, dtype, rtol=None if dtype == np.float64 else 1e-4)


@pytest.mark.parametrize("shuffle", [False, True])
def test_batches_split_into_blocks(monkeypatch, shuffle):
    """Batches larger than BLOCK_ROWS are accumulated block by block, with the same result."""
    monkeypatch.setattr(model_module, "BLOCK_ROWS", 4)
    sizes = DEPTHS[2]
    fast, ref = model_pair(sizes, "sigmoid", "linear", True, np.float64, seed=12)
    X, Y = make_data(30, sizes, "linear", "squared_error", seed=13)
    assert_matches(fast.forward(X), ref.forward(X))
    assert_matches(fast.loss_and_grad(X, Y)[1][0], ref.loss_and_grad(X, Y)[1][0])
    fit_pair(fast, ref, X, Y, {"lr": 0.01, "momentum": 0.5}, epochs=3, batch_size=11, shuffle=shuffle, seed=2)
    assert_matches(fast._params, ref._params)


def test_results_do_not_depend_on_chunking(monkeypatch):
    """Epochs run in compiled chunks sized by time; the result is the same for any size."""
    from fastnn import network

    X, Y = make_data(12, [3, 4, 2], "sigmoid", "squared_error", seed=14)
    results = []
    for seconds in (1e-12, 10.0):
        monkeypatch.setattr(network, "CHUNK_SECONDS", seconds)
        net = fastnn.MLP([3, 4, 2], output="sigmoid", seed=0)
        h = net.fit(X, Y, optimizer=fastnn.SGD(lr=0.1, momentum=0.9), epochs=25, batch_size=5, seed=3)
        results.append((h.loss, net._params.copy()))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
def test_l2_penalty(path, dtype, bias):
    """fit(l2=...) adds 1/2 l2 sum ||W||^2 (weights only) to each batch's summed loss."""
    sizes = DEPTHS[2]
    for reduction in reg.REDUCTIONS:
        fast, ref = model_pair(sizes, "tanh", "softmax", bias, dtype, seed=15)
        X, Y = make_data(21, sizes, "softmax", "cross_entropy", seed=16, dtype=dtype)
        h_fast, h_ref = fit_pair(fast, ref, X, Y, {"lr": 0.05, "momentum": 0.9}, l2=0.3,
                                 loss="cross_entropy", epochs=2, reduction=reduction, **PATHS[path])
        assert_matches(h_fast.loss, h_ref.loss, dtype)
        assert_matches(fast._params, ref._params, dtype)


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
