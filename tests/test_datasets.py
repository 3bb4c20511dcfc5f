"""Tests for fastnn.datasets (the tutorials' data, reproduced exactly)."""

import numpy as np
import pytest

from fastnn import datasets


def sklearn_make_moons():
    sk_datasets = pytest.importorskip(
        "sklearn.datasets", reason="scikit-learn is needed to compare make_moons"
    )
    return sk_datasets.make_moons


@pytest.fixture
def global_rng_restored():
    """Put NumPy's global random state back after a test that reseeds it."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def test_all_lists_public_functions():
    assert isinstance(datasets.__all__, tuple)
    for name in datasets.__all__:
        assert callable(getattr(datasets, name))
        assert getattr(datasets, name).__doc__


# -- tutorial 000 -----------------------------------------------------------

def test_xor():
    X, y = datasets.xor()
    assert X.dtype == y.dtype == np.float64
    assert X.shape == (4, 3) and y.shape == (4, 1)
    np.testing.assert_array_equal(X, [[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]])
    np.testing.assert_array_equal(y[:, 0], [0, 0, 1, 1])
    np.testing.assert_array_equal(y[:, 0], np.logical_xor(X[:, 0], X[:, 1]))


# -- tutorial 001 -----------------------------------------------------------

def test_points():
    X, y = datasets.points()
    assert X.dtype == y.dtype == np.float64
    assert X.shape == (15, 2) and y.shape == (15, 1)
    np.testing.assert_array_equal(X[:4], [[0, 0], [0, 1], [0, 2], [-1, 0]])
    np.testing.assert_array_equal(X[-1], [2, -2])
    np.testing.assert_array_equal(y[:, 0], [0] * 7 + [1] * 8)


def test_points_test():
    x = datasets.points_test()
    assert x.dtype == np.float64 and x.shape == (1, 2)
    np.testing.assert_array_equal(x, [[2, -3]])


def test_returned_arrays_are_fresh():
    X, _ = datasets.points()
    X[:] = 99
    assert datasets.points()[0][0, 0] == 0


# -- tutorial 002 -----------------------------------------------------------

def tutorial_002():
    """The tutorial's own code, run literally (it seeds the global RNG)."""
    n_hidden = 10
    n_in = 10
    n_out = 10
    n_sample = 300
    np.random.seed(0)
    V = np.random.normal(scale=0.1, size=(n_in, n_hidden))
    W = np.random.normal(scale=0.1, size=(n_hidden, n_out))
    X = np.random.binomial(1, 0.5, (n_sample, n_in))
    T = X ^ 1
    x = np.random.binomial(1, 0.5, n_in)  # "XOR Prediction"
    return V, W, X, T, x


def test_complement_bits_matches_tutorial(global_rng_restored):
    V_ref, W_ref, X_ref, T_ref, x_ref = tutorial_002()
    X, T = datasets.complement_bits()
    assert X.dtype == T.dtype == np.float64
    assert X.shape == T.shape == (300, 10)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(T, T_ref)
    np.testing.assert_array_equal(T, 1 - X)

    V, W = datasets.complement_bits_init()
    np.testing.assert_array_equal(V, V_ref)
    np.testing.assert_array_equal(W, W_ref)

    x = datasets.complement_bits_test()
    assert x.dtype == np.float64
    np.testing.assert_array_equal(x, x_ref)
    np.testing.assert_array_equal(x, [1, 0, 1, 1, 1, 1, 0, 1, 0, 0])  # as printed


def test_complement_bits_shapes_and_seeds():
    X, T = datasets.complement_bits(n_samples=7, n_features=3, random_state=5)
    assert X.shape == T.shape == (7, 3)
    assert set(np.unique(X)) <= {0.0, 1.0}
    V, W = datasets.complement_bits_init(n_features=3, n_hidden=4, random_state=5)
    assert V.shape == (3, 4) and W.shape == (4, 3)
    assert V.dtype == W.dtype == np.float64
    # Same seed, same stream, whatever the form of random_state.
    X2, _ = datasets.complement_bits(7, 3, random_state=np.random.RandomState(5))
    np.testing.assert_array_equal(X, X2)
    assert not np.array_equal(X, datasets.complement_bits(7, 3, random_state=6)[0])
    # The test vector is the next draw after the data.
    x = datasets.complement_bits_test(n_samples=7, n_features=3, random_state=5)
    np.testing.assert_array_equal(x, datasets.complement_bits(8, 3, random_state=5)[0][-1])


# -- tutorial 003 -----------------------------------------------------------

MOONS_CASES = [
    dict(n_samples=100, random_state=0),
    dict(n_samples=101, noise=0.1, random_state=0),
    dict(n_samples=1000, noise=0.1, random_state=42),
    dict(n_samples=1, random_state=3),
    dict(n_samples=50, shuffle=False),
    dict(n_samples=51, shuffle=False, noise=0.1, random_state=7),
    dict(n_samples=(3, 8), noise=0.1, random_state=1),
    dict(n_samples=(5, 0), shuffle=False, noise=0.2, random_state=2),
    dict(n_samples=(4, 4), random_state=9),
    dict(n_samples=np.int64(20), noise=0.0, random_state=np.int64(4)),
]


@pytest.mark.parametrize("kwargs", MOONS_CASES, ids=repr)
def test_make_moons_equals_sklearn(kwargs):
    sk_make_moons = sklearn_make_moons()
    X, y = datasets.make_moons(**kwargs)
    X_ref, y_ref = sk_make_moons(**kwargs)
    assert np.array_equal(X, X_ref)
    assert np.array_equal(y, y_ref)
    assert X.dtype == X_ref.dtype == np.float64
    assert y.dtype == y_ref.dtype == np.intp
    assert X.shape == X_ref.shape and y.shape == y_ref.shape


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("noise", [None, 0.1])
def test_make_moons_random_state_instance_equals_sklearn(shuffle, noise):
    sk_make_moons = sklearn_make_moons()
    ours, theirs = np.random.RandomState(123), np.random.RandomState(123)
    for n_samples in (10, 11, (2, 6)):  # consecutive calls share the stream
        X, y = datasets.make_moons(n_samples, shuffle=shuffle, noise=noise, random_state=ours)
        X_ref, y_ref = sk_make_moons(n_samples, shuffle=shuffle, noise=noise, random_state=theirs)
        assert np.array_equal(X, X_ref) and np.array_equal(y, y_ref)
    # Both consumed exactly the same random numbers.
    assert ours.random_sample() == theirs.random_sample()


def test_make_moons_none_uses_global_state(global_rng_restored):
    sk_make_moons = sklearn_make_moons()
    np.random.seed(11)
    X, y = datasets.make_moons(30, noise=0.05)
    after = np.random.random_sample()
    np.random.seed(11)
    X_ref, y_ref = sk_make_moons(30, noise=0.05)
    assert np.array_equal(X, X_ref) and np.array_equal(y, y_ref)
    assert np.random.random_sample() == after


def test_make_moons_without_sklearn():
    X, y = datasets.make_moons(7, shuffle=False)
    assert X.shape == (7, 2) and y.shape == (7,)
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_allclose(X[0], [1, 0], atol=1e-15)   # outer moon starts at (1, 0)
    np.testing.assert_allclose(X[3], [0, 0.5], atol=1e-15)  # inner moon starts at (0, 0.5)


def test_moons_tutorial_printed_rows():
    # Tutorial 003, Out[50], before the scaling.
    X, _ = datasets.make_moons(n_samples=1000, random_state=42, noise=0.1)
    np.testing.assert_allclose(X[0], [-0.05146968, 0.44419863], rtol=0, atol=1e-8)
    np.testing.assert_allclose(X[1], [1.03201691, -0.41974116], rtol=0, atol=1e-8)
    np.testing.assert_allclose(X[2], [0.86789186, -0.25482711], rtol=0, atol=1e-8)
    np.testing.assert_allclose(X[-1], [0.78758971, 0.61660945], rtol=0, atol=1e-8)


def test_moons_tutorial():
    X, y = datasets.moons_tutorial()
    assert X.dtype == y.dtype == np.float64
    assert X.shape == (1000, 2) and y.shape == (1000, 1)
    assert X.min() == 0.0 and X.max() == 1.0
    # The scaling is global: one column alone does not span [0, 1].
    assert not (X[:, 1].min() == 0.0 and X[:, 1].max() == 1.0)
    raw, labels = datasets.make_moons(1000, noise=0.1, random_state=42)
    np.testing.assert_allclose(X, (raw - raw.min()) / (raw - raw.min()).max())
    np.testing.assert_array_equal(y[:, 0], labels)


# -- tutorial 004 -----------------------------------------------------------

def test_captcha_digits():
    X, Y = datasets.captcha_digits()
    assert X.dtype == Y.dtype == np.float64
    assert X.shape == (10, 25) and Y.shape == (10, 10)
    np.testing.assert_array_equal(Y, np.eye(10))
    zero = X[0].reshape(5, 5)
    np.testing.assert_array_equal(zero[1:4, 1:4], 0)
    np.testing.assert_array_equal(X[1].reshape(5, 5)[:, 2], 1)
    assert X[1].sum() == 5
    assert X[8].sum() == 19
    assert len({tuple(row) for row in X}) == 10  # all digits differ


def test_captcha_variants():
    variants = datasets.captcha_variants()
    assert sorted(variants) == ["3", "7", "8"]
    for bits in variants.values():
        assert bits.dtype == np.float64 and bits.shape == (25,)
    expected = {
        "3": [[0, 1, 1, 1, 1],
              [0, 0, 0, 1, 1],
              [0, 1, 1, 1, 1],
              [0, 0, 0, 1, 1],
              [0, 1, 1, 1, 1]],
        "7": [[1, 1, 1, 1, 1],
              [0, 0, 0, 1, 0],
              [0, 0, 1, 0, 0],
              [0, 1, 0, 0, 0],
              [1, 0, 0, 0, 0]],
        "8": [[0, 1, 1, 1, 0],
              [1, 0, 0, 0, 1],
              [1, 1, 1, 1, 1],
              [1, 0, 0, 0, 1],
              [0, 1, 1, 1, 0]],
    }
    for digit, bitmap in expected.items():
        np.testing.assert_array_equal(variants[digit].reshape(5, 5), bitmap)
    # Each variant differs from the training digit it stands for.
    X, _ = datasets.captcha_digits()
    for digit, bits in variants.items():
        assert not np.array_equal(bits, X[int(digit)])


# -- argument checking ------------------------------------------------------

@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(n_samples=0), ValueError, "n_samples"),
        (dict(n_samples=-3), ValueError, "n_samples"),
        (dict(n_samples=10.0), TypeError, "n_samples"),
        (dict(n_samples=True), TypeError, "n_samples"),
        (dict(n_samples="10"), TypeError, "n_samples"),
        (dict(n_samples=[5, 5]), TypeError, "n_samples"),
        (dict(n_samples=(1, 2, 3)), ValueError, "n_samples"),
        (dict(n_samples=(5, -1)), ValueError, "n_samples"),
        (dict(n_samples=(5, 1.5)), TypeError, "n_samples"),
        (dict(noise=-0.1), ValueError, "noise"),
        (dict(noise=float("nan")), ValueError, "noise"),
        (dict(noise=float("inf")), ValueError, "noise"),
        (dict(noise="0.1"), TypeError, "noise"),
        (dict(shuffle="yes"), TypeError, "shuffle"),
        (dict(random_state=-1), ValueError, "random_state"),
        (dict(random_state=2**32), ValueError, "random_state"),
        (dict(random_state=1.5), TypeError, "random_state"),
        (dict(random_state=np.random.default_rng(0)), TypeError, "random_state"),
    ],
)
def test_make_moons_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        datasets.make_moons(**kwargs)


@pytest.mark.parametrize(
    "func, kwargs, error, name",
    [
        (datasets.complement_bits, dict(n_samples=0), ValueError, "n_samples"),
        (datasets.complement_bits_test, dict(n_samples=0), ValueError, "n_samples"),
        (datasets.complement_bits, dict(n_features=2.5), TypeError, "n_features"),
        (datasets.complement_bits, dict(random_state="x"), TypeError, "random_state"),
        (datasets.complement_bits_init, dict(n_hidden=-1), ValueError, "n_hidden"),
        (datasets.complement_bits_init, dict(n_features=0), ValueError, "n_features"),
    ],
)
def test_complement_bits_bad_arguments(func, kwargs, error, name):
    with pytest.raises(error, match=name):
        func(**kwargs)


def test_importing_fastnn_does_not_import_optional_extras():
    # scikit-learn, torch, matplotlib and onnx are optional extras: a fresh interpreter that
    # imports fastnn (datasets and export included) must not pull them in.
    import subprocess
    import sys

    code = ("import sys, fastnn, fastnn.datasets, fastnn.export\n"
            "print(sorted(m for m in ('sklearn', 'torch', 'matplotlib', 'onnx', 'onnxruntime', "
            "'skl2onnx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
