"""The fused per-sample path (fastnn.kernels.per_sample: batch_size=1 and tiny batches): what
the generated comparisons of test_paths.py do not reach, its wide-layer loops and saturated
units."""
import numpy as np
import pytest

import fastnn
from fastnn import paths

from conftest import (DTYPES, OPTIMIZERS, assert_matches, assert_same_training, make_data,
                      make_weights, model_pair, output_and_loss)

# layers narrower than NARROW (four columns at a time) and wider, depths 1-3
SHAPES = [[3, 1], [4, 6, 2], [10, 10, 10], [25, 5, 10], [7, 20, 3], [5, 17, 9, 4]]
# batch_size, shuffle: per sample in order and shuffled, a tiny batch, a tiny full batch
BATCHES = [(1, False), (1, True), (5, True), (None, False)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("optimizer", ["nesterov_decay", "adam"])
@pytest.mark.parametrize("batch_size,shuffle", BATCHES)
def test_layer_widths(dtype, sizes, optimizer, batch_size, shuffle):
    """Layers narrower than fastnn.kernels.per_sample.NARROW and wider take different loops;
    both agree with the reference, with weights and the l2 penalty."""
    assert paths.choose("train", batch_size or 17, sizes, 8).kind == paths.PER_SAMPLE
    output, loss = output_and_loss(sizes)
    fast, ref = model_pair(sizes, "tanh", output, True, dtype, seed=23)
    X, Y = make_data(17, sizes, output, loss, seed=24, dtype=dtype)
    assert_same_training(fast, ref, X, Y, OPTIMIZERS[optimizer], dtype, loss=loss,
                         epochs=4 if dtype == np.float64 else 1, batch_size=batch_size,
                         shuffle=shuffle, seed=4, l2=0.1, sample_weight=make_weights(17))


def test_long_per_sample_training_and_saturated_units():
    """2,000 per-sample steps with inputs large enough to saturate sigmoid, tanh and softplus
    units (exp far from 1, tanh at +-1) stay within 1e-9 of the reference."""
    sizes = [6, 12, 8, 4]
    fast, ref = model_pair(sizes, ["tanh", "softplus"], "sigmoid", True, np.float64, seed=25)
    X, Y = make_data(40, sizes, "sigmoid", "binary_cross_entropy", seed=26)
    X *= 10
    for net in (fast, ref):
        history = net.fit(X, Y, loss="binary_cross_entropy", optimizer=fastnn.SGD(lr=0.01),
                          epochs=50, batch_size=1, shuffle=False)
        net.losses = history.loss
    assert_matches(fast.losses, ref.losses, rtol=1e-9)
    assert_matches(fast.params, ref.params, rtol=1e-9)


def test_divergence_is_still_caught():
    X, Y = make_data(8, [3, 4, 1], "linear", "squared_error", seed=27)
    net = fastnn.MLP([3, 4, 1], output="linear", seed=0)
    before = net.params.copy()
    with pytest.raises(FloatingPointError):
        net.fit(X, Y * 1e6, optimizer=fastnn.SGD(lr=10.0), epochs=50, batch_size=1)
    np.testing.assert_array_equal(net.params, before)
