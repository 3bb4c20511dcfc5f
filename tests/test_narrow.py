"""The narrow path (fastnn.kernels.narrow: many rows through narrow layers, feature-major):
what the generated comparisons of test_paths.py do not reach: shapes at the thresholds,
batches in several chunks, agreement with the batched path, W4 itself."""
import numpy as np
import pytest

import fastnn
from fastnn import paths
from fastnn.tools.workloads import WORKLOADS

from conftest import (DTYPES, OPTIMIZERS, assert_matches, assert_same_training, make_data,
                      make_weights, model_pair, output_and_loss)

# widths 1 and NARROW_MAX_WIDTH, W4's shape, a bottleneck, depth 4
SHAPES = [[1, 1], [2, 10, 1], [3, paths.NARROW_MAX_WIDTH, paths.NARROW_MAX_WIDTH, 2],
          [paths.NARROW_MAX_WIDTH, 1, paths.NARROW_MAX_WIDTH], [4, 5, 3, 2, 6]]
# (samples, batch_size, shuffle) with c the chunk's rows: full batches of one chunk, one chunk
# and a row, three chunks; shuffled minimum-size batches
ROWS = {"one_chunk": lambda c: (c, None, False), "chunk_and_a_row": lambda c: (c + 1, None, False),
        "three_chunks": lambda c: (2 * c + 3, None, False),
        "min_batches": lambda c: (3 * paths.NARROW_MIN_ROWS + 5, paths.NARROW_MIN_ROWS, True)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
@pytest.mark.parametrize("rows", sorted(ROWS))
def test_shapes_and_chunks(dtype, sizes, optimizer, rows):
    """Shapes and batch sizes at and around the thresholds, batches of one chunk or several:
    epochs agree with the reference (optimizer state too), with weights and l2."""
    n, batch_size, shuffle = ROWS[rows](paths.chunk_rows(10**6, sizes, np.dtype(dtype).itemsize))
    assert paths.choose("train", batch_size or n, sizes, np.dtype(dtype).itemsize).kind == paths.NARROW
    output, loss = output_and_loss(sizes)
    fast, ref = model_pair(sizes, "tanh", output, True, dtype, seed=33)
    X, Y = make_data(n, sizes, output, loss, seed=34, dtype=dtype)
    assert_same_training(fast, ref, X, Y, OPTIMIZERS[optimizer], dtype, loss=loss,
                         epochs=3 if dtype == np.float64 else 1, batch_size=batch_size,
                         shuffle=shuffle, seed=4, l2=0.1, sample_weight=make_weights(n))


def test_agrees_with_the_batched_path(monkeypatch):
    """One full-batch step of plain SGD (lr 1, summed loss) moves the parameters by minus the
    gradient of the batched path (fastnn.MLP.loss_and_grad, kept off the narrow path), to
    1e-12."""
    sizes = [4, 9, 7, 3]
    for hidden, output, loss in [("sigmoid", "sigmoid", "squared_error"),
                                 (["tanh", "softplus"], "sigmoid", "binary_cross_entropy"),
                                 ("leaky_relu", "softmax", "cross_entropy")]:
        net = fastnn.MLP(sizes, hidden=hidden, output=output, seed=37)
        X, Y = make_data(700, sizes, output, loss, seed=38)
        weights = make_weights(700, 39)
        before = net.params.copy()
        monkeypatch.setattr(paths, "narrow_fits", lambda rows, sizes: False)
        total, grad_w, grad_b = net.loss_and_grad(X, Y, loss, reduction="sum",
                                                  sample_weight=weights)
        monkeypatch.undo()  # the fit below takes the narrow path
        history = net.fit(X, Y, loss=loss, optimizer=fastnn.SGD(lr=1.0), batch_size=None,
                          reduction="sum", sample_weight=weights)
        assert history.loss[0] == pytest.approx(total / weights.sum(), rel=1e-12)
        steps_w, steps_b = net.layer_views(before - net.params)
        for step, grad in zip(steps_w + steps_b, grad_w + grad_b):
            assert_matches(step, grad)


def test_w4_training_stays_close():
    """W4 (moons, 2-10-1 sigmoid, 1000 rows, summed squared error, lr 0.1) for its first
    2,000 full-batch steps, on the 0.25 plateau where training is smooth: within 1e-12 of the
    reference."""
    workload = WORKLOADS["W4"]
    data = workload.data()
    fast, h_fast = workload.train(fastnn.MLP, data, 2000)
    ref, h_ref = workload.train(fastnn.reference.MLP, data, 2000)
    assert paths.choose("train", len(data[0]), fast.sizes, 8).kind == paths.NARROW
    assert_matches(h_fast.loss, h_ref.loss, rtol=1e-12)
    assert_matches(fast.params, ref.params, rtol=1e-12)


def test_divergence_is_still_caught():
    sizes = [3, 4, 1]
    X, Y = make_data(100, sizes, "linear", "squared_error", seed=40)
    net = fastnn.MLP(sizes, output="linear", seed=0)
    before = net.params.copy()
    with pytest.raises(FloatingPointError):
        net.fit(X, Y * 1e6, optimizer=fastnn.SGD(lr=10.0), epochs=50, batch_size=None,
                reduction="sum")
    np.testing.assert_array_equal(net.params, before)


def test_chunks():
    """CHUNK_BYTES of activations and deltas, a multiple of 8 rows from 64 to 1024, at most
    the batch."""
    w4 = (2, 10, 1)  # 2 + 2 * 11 values a row
    assert paths.chunk_rows(1000, w4, 8) == (1 << 17) // (24 * 8) // 8 * 8 == 680
    assert paths.chunk_rows(300, w4, 8) == 300
    assert paths.chunk_rows(10**6, w4, 4) == 1024
    assert paths.chunk_rows(10**6, (32,) * 4, 8) == 72  # 1792 bytes a row
    assert paths.chunk_rows(10**6, (32,) * 6, 8) == 64
    assert 1 < paths.NARROW_MIN_ROWS <= paths.PER_SAMPLE_MAX_ROWS  # tiny batches: per sample
