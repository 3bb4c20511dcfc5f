"""The batched path (fastnn.kernels.batched, fastnn.kernels.dense): what the generated
comparisons of test_paths.py do not reach: layers wide enough for BLAS and its forward
loops, and batches longer than a block."""
import numpy as np
import pytest

import fastnn
from fastnn import paths

from conftest import DTYPES, assert_matches, make_data, model_pair


def fit_pair(fast, ref, X, Y, opt_args, **fit_args):
    h_fast = fast.fit(X, Y, optimizer=fastnn.SGD(**opt_args), **fit_args)
    h_ref = ref.fit(X, Y, optimizer=fastnn.SGD(**opt_args), **fit_args)
    return h_fast, h_ref


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_size", [32, 7])
def test_wide_layers(monkeypatch, dtype, batch_size):
    """Layers wide enough for BLAS (m*k*n >= BLAS_MIN_WORK) agree too, with the forward
    products of small parts by fastnn.kernels.dense.forward_loops (7 rows, and the 16-row
    parts of a 32-row batch split in two, in float32)."""
    monkeypatch.setattr(paths, "batch_parts", lambda rows, sizes: 2 if rows >= 32 else 1)
    sizes = [64, 128, 64, 10]
    fast, ref = model_pair(sizes, "relu", "softmax", True, dtype, seed=10)
    X, Y = make_data(96, sizes, "softmax", "cross_entropy", seed=11, dtype=dtype)
    assert_matches(fast.forward(X), ref.forward(X), dtype)
    for a, b in zip(fast.loss_and_grad(X, Y, "cross_entropy")[1], ref.loss_and_grad(X, Y, "cross_entropy")[1]):
        assert_matches(a, b, dtype)
    h_fast, h_ref = fit_pair(fast, ref, X, Y, {"lr": 0.05, "momentum": 0.9}, loss="cross_entropy",
                             epochs=2, batch_size=batch_size, seed=1)
    assert_matches(h_fast.loss, h_ref.loss, dtype)
    assert_matches(fast.params, ref.params, dtype, rtol=None if dtype == np.float64 else 1e-4)


@pytest.mark.parametrize("shuffle", [False, True])
def test_batches_split_into_blocks(monkeypatch, shuffle):
    """Batches larger than BLOCK_ROWS are accumulated block by block, with the same result."""
    monkeypatch.setattr(paths, "BLOCK_ROWS", 4)
    sizes = [5, 40, 3]
    assert paths.choose("loss_grad", 30, sizes, 8) == paths.Path(paths.BATCHED, 4)
    fast, ref = model_pair(sizes, "sigmoid", "linear", True, np.float64, seed=12)
    X, Y = make_data(30, sizes, "linear", "squared_error", seed=13)
    assert_matches(fast.forward(X), ref.forward(X))
    assert_matches(fast.loss_and_grad(X, Y)[1][0], ref.loss_and_grad(X, Y)[1][0])
    weights = np.linspace(0, 2, 30)
    fit_pair(fast, ref, X, Y, {"lr": 0.01, "momentum": 0.5}, epochs=3, batch_size=11,
             shuffle=shuffle, seed=2, sample_weight=weights)
    assert_matches(fast.params, ref.params)
