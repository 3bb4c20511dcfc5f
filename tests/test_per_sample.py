"""The fused per-sample path (fastnn.kernels.per_sample: batch_size=1 and tiny batches) and
the vectorisable exp and tanh it uses (fastnn.kernels.elementary), against the reference."""
import numpy as np
import pytest

import fastnn
from fastnn import _registry as reg
from fastnn.kernels.dense import BLAS_MIN_WORK
from fastnn.kernels.elementary import vexp, vlog1p, vtanh
from fastnn.kernels.per_sample import PER_SAMPLE_MAX_ROWS, per_sample_fits

from conftest import (OUTPUT_LOSS_PAIRS, assert_matches, assert_same_training, make_data,
                      model_pair)

DTYPES = [np.float64, np.float32]
SHAPES = [[3, 1], [4, 6, 2], [10, 10, 10], [25, 5, 10], [7, 20, 3], [5, 17, 9, 4]]
OPTIMIZERS = {
    "sgd": lambda: fastnn.SGD(lr=0.05),
    "sgd_small": lambda: fastnn.SGD(lr=0.01),
    "momentum": lambda: fastnn.SGD(lr=0.05, momentum=0.9),
    "mild": lambda: fastnn.SGD(lr=0.01, momentum=0.5),
    "nesterov_decay": lambda: fastnn.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam": lambda: fastnn.Adam(lr=0.01, weight_decay=0.01),
}
# batch_size, shuffle: per sample in order and shuffled, a tiny batch, a tiny full batch (None)
BATCHES = [(1, False), (1, True), (5, True), (None, False)]


def fit_both(fast, ref, X, Y, optimizer, **fit_args):
    h_fast = fast.fit(X, Y, optimizer=OPTIMIZERS[optimizer](), seed=3, **fit_args)
    h_ref = ref.fit(X, Y, optimizer=OPTIMIZERS[optimizer](), seed=3, **fit_args)
    return h_fast, h_ref


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", reg.HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch_size,shuffle", BATCHES)
def test_every_activation_and_loss(dtype, hidden, output, loss, bias, batch_size, shuffle):
    """One step, then two epochs, against the reference."""
    sizes = [5, 7, 6, 3]
    for reduction in reg.REDUCTIONS:
        fast, ref = model_pair(sizes, hidden, output, bias, dtype, seed=21)
        X, Y = make_data(13, sizes, output, loss, seed=22, dtype=dtype)
        args = dict(loss=loss, batch_size=batch_size, shuffle=shuffle, reduction=reduction)
        bs = batch_size or len(X)
        fit_both(fast, ref, X[:bs], Y[:bs], "mild", epochs=1, **args)
        assert_matches(fast._params, ref._params, dtype)
        h_fast, h_ref = fit_both(fast, ref, X, Y, "mild", epochs=2, **args)
        assert_matches(h_fast.loss, h_ref.loss, dtype)
        assert_matches(fast._params, ref._params, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes", SHAPES, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("optimizer", sorted(set(OPTIMIZERS) - {"mild", "sgd_small"}))
@pytest.mark.parametrize("batch_size,shuffle", BATCHES)
@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_shapes_and_optimizers(dtype, sizes, optimizer, batch_size, shuffle, l2):
    """Narrow layers (four columns at a time) and wide ones (>= 16), depths 1-3, every
    optimizer, with and without the l2 penalty: epochs agree with the reference (optimizer
    state too)."""
    output, loss = ("softmax", "cross_entropy") if sizes[-1] > 1 else ("sigmoid", "binary_cross_entropy")
    fast, ref = model_pair(sizes, "tanh", output, True, dtype, seed=23)
    X, Y = make_data(17, sizes, output, loss, seed=24, dtype=dtype)
    assert_same_training(fast, ref, X, Y, OPTIMIZERS[optimizer], dtype, loss=loss,
                         epochs=4 if dtype == np.float64 else 1, batch_size=batch_size,
                         shuffle=shuffle, seed=4, l2=l2)


def test_long_per_sample_training_and_saturated_units():
    """2,000 per-sample steps with inputs large enough to saturate sigmoid and tanh units
    (exp far from 1, tanh at +-1) stay within 1e-9 of the reference."""
    sizes = [6, 12, 4]
    fast, ref = model_pair(sizes, "tanh", "sigmoid", True, np.float64, seed=25)
    X, Y = make_data(40, sizes, "sigmoid", "binary_cross_entropy", seed=26)
    X *= 10
    h_fast, h_ref = fit_both(fast, ref, X, Y, "sgd_small", loss="binary_cross_entropy",
                             epochs=50, batch_size=1, shuffle=False)
    assert_matches(h_fast.loss, h_ref.loss, rtol=1e-9)
    assert_matches(fast._params, ref._params, rtol=1e-9)


def test_divergence_is_still_caught():
    X, Y = make_data(8, [3, 4, 1], "linear", "squared_error", seed=27)
    net = fastnn.MLP([3, 4, 1], output="linear", seed=0)
    before = net._params.copy()
    with pytest.raises(FloatingPointError):
        net.fit(X, Y * 1e6, optimizer=fastnn.SGD(lr=10.0), epochs=50, batch_size=1)
    np.testing.assert_array_equal(net._params, before)


def test_which_batches_take_the_per_sample_path():
    small = np.array([10, 10, 10], np.int64)
    wide = np.array([64, 128, 10], np.int64)
    assert per_sample_fits(1, 1, wide)
    assert per_sample_fits(PER_SAMPLE_MAX_ROWS, 1024, small)
    assert not per_sample_fits(PER_SAMPLE_MAX_ROWS + 1, 1024, small)
    assert not per_sample_fits(8, 4, small)  # more rows than the buffers hold
    assert 32 * 64 * 128 >= BLAS_MIN_WORK and not per_sample_fits(32, 1024, wide)


@pytest.mark.parametrize("dtype", DTYPES)
def test_vexp_vtanh_vlog1p_match_libm(dtype):
    from numba import njit

    @njit(error_model="numpy")
    def apply(x, e, t, l):
        for i in range(x.size):
            e[i] = vexp(x[i])
            t[i] = vtanh(x[i])
            l[i] = vlog1p(x[i])

    rng = np.random.default_rng(28)
    special = [0.0, -0.0, 1e-300, -1e-30, 1e-8, 0.3465, 0.4142, 0.625, 19.9, 20.1, 88.72, 88.73,
               -87.4, -103.9, -104.5, 709.78, 709.79, 710.0, -708.4, -744.4, -745.2, -746.0,
               -0.5, -0.9999999, -1.0, -1.5, 1e6, -1e6, 3e38, 1e300, np.inf, -np.inf, np.nan]
    x = np.concatenate([rng.uniform(-800, 800, 20000), rng.normal(0, 3, 20000),
                        10.0 ** rng.uniform(-30, 2, 20000) * rng.choice([-1, 1], 20000),
                        -rng.uniform(0, 1, 20000), special])
    with np.errstate(over="ignore"):
        x = x.astype(dtype)
    e, t, l = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    apply(x, e, t, l)
    assert e.dtype == t.dtype == l.dtype == dtype
    tolerance = 4 * np.finfo(dtype).eps
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for mine, theirs in ((e, np.exp(x)), (t, np.tanh(x)), (l, np.log1p(x))):
            assert np.array_equal(np.isnan(mine), np.isnan(theirs))
            assert np.array_equal(np.isinf(mine), np.isinf(theirs))
            assert np.array_equal(mine[np.isinf(theirs)], theirs[np.isinf(theirs)])
            normal = np.isfinite(theirs) & (np.abs(theirs) >= np.finfo(dtype).tiny)
            rel = np.abs(mine[normal] - theirs[normal]) / np.abs(theirs[normal])
            assert rel.max() < tolerance, x[normal][rel.argmax()]
            # below the normal range (exp's underflow, tiny x): within one subnormal step
            tiny = np.isfinite(theirs) & ~normal
            assert (np.abs(mine[tiny] - theirs[tiny]) <= np.finfo(dtype).smallest_subnormal).all()


def test_elementary_loops_call_no_libm():
    """Written out, not libm calls, so loops over them vectorise."""
    from numba import njit

    @njit(fastmath=True, error_model="numpy")
    def apply(x, out):
        for i in range(x.size):
            out[i] = vexp(x[i]) + vtanh(x[i]) + vlog1p(x[i])

    for dtype in DTYPES:
        x = np.ones(8, dtype)
        apply(x, x.copy())
        ir = apply.inspect_llvm(apply.signatures[-1])
        assert not any(f"@{name}" in ir for name in ("exp", "tanh", "log1p", "llvm.exp", "llvm.log"))
        if dtype == np.float32:
            assert "fpext float" not in ir
