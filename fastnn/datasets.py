"""Small datasets taken from the tutorials that ``fastnn`` reproduces.

Every function returns freshly allocated NumPy arrays, so callers may modify
them freely.  Only NumPy is needed: :func:`make_moons` re-implements
``sklearn.datasets.make_moons`` (same random calls in the same order), so its
output is bit-for-bit identical to scikit-learn's without importing it.
"""

import numbers

import numpy as np

from ._validation import check_int

__all__ = (
    "xor",
    "points",
    "points_test",
    "complement_bits",
    "complement_bits_init",
    "complement_bits_test",
    "make_moons",
    "moons_tutorial",
    "captcha_digits",
    "captcha_variants",
)


# --------------------------------------------------------------------------
# Data literals, copied from the tutorials
# --------------------------------------------------------------------------

# Tutorial 000, In [17]: X and y of the "three weights, four instances" net.
_XOR_X = [[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]]
_XOR_Y = [0, 0, 1, 1]

# Tutorial 001: ``input_array`` / ``output_array`` and ``new_test``.
_POINTS_X = [[0, 0], [0, 1], [0, 2], [-1, 0], [-2, -2], [-2, -1], [-1, -1],
             [1, -1], [1, 0], [1, 1], [2, 0], [3, 0], [0, -3], [0, -2], [2, -2]]
_POINTS_Y = [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]
_POINTS_TEST = [[2, -3]]

# Tutorial 004: the ten 5x5 captcha digits, zero to nine, row by row.
_CAPTCHA_DIGITS = (
    [1, 1, 1, 1, 1,  # zero
     1, 0, 0, 0, 1,
     1, 0, 0, 0, 1,
     1, 0, 0, 0, 1,
     1, 1, 1, 1, 1],
    [0, 0, 1, 0, 0,  # one
     0, 0, 1, 0, 0,
     0, 0, 1, 0, 0,
     0, 0, 1, 0, 0,
     0, 0, 1, 0, 0],
    [1, 1, 1, 1, 1,  # two
     0, 0, 0, 0, 1,
     1, 1, 1, 1, 1,
     1, 0, 0, 0, 0,
     1, 1, 1, 1, 1],
    [1, 1, 1, 1, 1,  # three
     0, 0, 0, 0, 1,
     1, 1, 1, 1, 1,
     0, 0, 0, 0, 1,
     1, 1, 1, 1, 1],
    [1, 0, 0, 0, 1,  # four
     1, 0, 0, 0, 1,
     1, 1, 1, 1, 1,
     0, 0, 0, 0, 1,
     0, 0, 0, 0, 1],
    [1, 1, 1, 1, 1,  # five
     1, 0, 0, 0, 0,
     1, 1, 1, 1, 1,
     0, 0, 0, 0, 1,
     1, 1, 1, 1, 1],
    [1, 1, 1, 1, 1,  # six
     1, 0, 0, 0, 0,
     1, 1, 1, 1, 1,
     1, 0, 0, 0, 1,
     1, 1, 1, 1, 1],
    [1, 1, 1, 1, 1,  # seven
     0, 0, 0, 0, 1,
     0, 0, 0, 0, 1,
     0, 0, 0, 0, 1,
     0, 0, 0, 0, 1],
    [1, 1, 1, 1, 1,  # eight
     1, 0, 0, 0, 1,
     1, 1, 1, 1, 1,
     1, 0, 0, 0, 1,
     1, 1, 1, 1, 1],
    [1, 1, 1, 1, 1,  # nine
     1, 0, 0, 0, 1,
     1, 1, 1, 1, 1,
     0, 0, 0, 0, 1,
     1, 1, 1, 1, 1],
)

# Tutorial 004: the hand-drawn test digits passed to ``predict(...)``.
_CAPTCHA_VARIANTS = {
    "3": [0, 1, 1, 1, 1,
          0, 0, 0, 1, 1,
          0, 1, 1, 1, 1,
          0, 0, 0, 1, 1,
          0, 1, 1, 1, 1],
    "7": [1, 1, 1, 1, 1,
          0, 0, 0, 1, 0,
          0, 0, 1, 0, 0,
          0, 1, 0, 0, 0,
          1, 0, 0, 0, 0],
    "8": [0, 1, 1, 1, 0,
          1, 0, 0, 0, 1,
          1, 1, 1, 1, 1,
          1, 0, 0, 0, 1,
          0, 1, 1, 1, 0],
}


# --------------------------------------------------------------------------
# Argument checking
# --------------------------------------------------------------------------

def _is_int(value):
    """True for Python/NumPy integers, but not for booleans."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check_random_state(random_state):
    """Turn ``random_state`` into a ``np.random.RandomState``.

    Same rules as ``sklearn.utils.check_random_state``: None (or the
    ``np.random`` module) means NumPy's global RandomState, an int in
    [0, 2**32 - 1] seeds a new one, and a RandomState instance is used as is.
    """
    if random_state is None or random_state is np.random:
        return np.random.mtrand._rand  # the RandomState behind np.random.*
    if isinstance(random_state, np.random.RandomState):
        return random_state
    if _is_int(random_state):
        if not 0 <= random_state <= 2**32 - 1:
            raise ValueError(
                f"random_state must be in [0, 2**32 - 1], got {random_state!r}"
            )
        return np.random.RandomState(random_state)
    raise TypeError(
        "random_state must be None, an int or a numpy.random.RandomState, "
        f"got {random_state!r}"
    )


# --------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------

def xor():
    """XOR data of tutorial 000 (In [17], four instances with a bias column).

    Returns ``(X, y)``: X float64 of shape (4, 3), whose last column is the
    constant 1, and y = XOR of the first two columns, float64 of shape (4, 1).
    """
    return np.array(_XOR_X, dtype=np.float64), np.array(_XOR_Y, dtype=np.float64)[:, None]


def points():
    """The 15 labelled 2-D points of tutorial 001.

    Returns ``(X, y)``: the tutorial's ``input_array`` as float64 of shape
    (15, 2) and ``output_array`` as float64 of shape (15, 1).
    """
    return (np.array(_POINTS_X, dtype=np.float64),
            np.array(_POINTS_Y, dtype=np.float64)[:, None])


def points_test():
    """The new test point ``[2, -3]`` of tutorial 001, float64 of shape (1, 2)."""
    return np.array(_POINTS_TEST, dtype=np.float64)


def _complement_bits_stream(n_features, n_hidden, random_state):
    """Replay the start of tutorial 002's random stream.

    Returns ``(rs, V, W)``: the RandomState and the two weight matrices the
    tutorial draws before its data, leaving ``rs`` ready to draw the data.
    """
    n_features = check_int("n_features", n_features, 1)
    n_hidden = check_int("n_hidden", n_hidden, 1)
    rs = _check_random_state(random_state)
    V = rs.normal(scale=0.1, size=(n_features, n_hidden))
    W = rs.normal(scale=0.1, size=(n_hidden, n_features))
    return rs, V, W


def complement_bits(n_samples=300, n_features=10, random_state=0):
    """Random bit vectors and their complements, from tutorial 002.

    Returns ``(X, T)``, both float64 of shape (n_samples, n_features):
    X holds random 0/1 bits and T = 1 - X (the tutorial's ``X ^ 1``).
    With the defaults this is exactly the tutorial's data: like the tutorial,
    the two weight matrices (see :func:`complement_bits_init`) are drawn
    first and discarded, then X.
    """
    n_samples = check_int("n_samples", n_samples, 1)
    rs, _, _ = _complement_bits_stream(n_features, n_features, random_state)
    X = rs.binomial(1, 0.5, (n_samples, n_features))
    return X.astype(np.float64), (X ^ 1).astype(np.float64)


def complement_bits_init(n_features=10, n_hidden=10, random_state=0):
    """Initial weights of tutorial 002's network.

    Returns ``(V, W)``: float64 draws from normal(scale=0.1), V of shape
    (n_features, n_hidden) and W of shape (n_hidden, n_features), taken from
    the same random stream as :func:`complement_bits` (with the defaults,
    exactly the tutorial's starting weights).
    """
    _, V, W = _complement_bits_stream(n_features, n_hidden, random_state)
    return V, W


def complement_bits_test(n_samples=300, n_features=10, random_state=0):
    """The bit vector of tutorial 002's "XOR Prediction", float64 of shape (n_features,).

    The draw that follows the data of ``complement_bits(n_samples, n_features,
    random_state)`` in the same random stream; with the defaults, the tutorial's
    ``[1 0 1 1 1 1 0 1 0 0]``.
    """
    n_samples = check_int("n_samples", n_samples, 1)
    rs, _, _ = _complement_bits_stream(n_features, n_features, random_state)
    rs.binomial(1, 0.5, (n_samples, n_features))
    return rs.binomial(1, 0.5, n_features).astype(np.float64)


def make_moons(n_samples=100, *, shuffle=True, noise=None, random_state=None):
    """Two interleaving half circles, identical to ``sklearn.datasets.make_moons``.

    Used by tutorial 003.  ``n_samples`` is the total number of points (the
    outer moon gets ``n_samples // 2``) or a tuple ``(n_out, n_in)``; ``noise``
    is the standard deviation of Gaussian noise added to X; ``random_state``
    is None, an int or a ``np.random.RandomState``.

    Returns ``(X, y)``: X float64 of shape (n, 2) and y the 0/1 moon labels as
    an ``np.intp`` array of shape (n,).  Same random calls in the same order
    as scikit-learn, so the result is bit-for-bit the same.
    """
    if isinstance(n_samples, tuple):
        if len(n_samples) != 2:
            raise ValueError(
                f"n_samples must be an int or a 2-tuple (n_out, n_in), got {n_samples!r}"
            )
        n_out = check_int("n_samples[0]", n_samples[0], 0)
        n_in = check_int("n_samples[1]", n_samples[1], 0)
    else:
        n_samples = check_int("n_samples", n_samples, 1)
        n_out = n_samples // 2
        n_in = n_samples - n_out
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be a bool, got {shuffle!r}")
    if noise is not None:
        if not isinstance(noise, numbers.Real) or isinstance(noise, (bool, np.bool_)):
            raise TypeError(f"noise must be None or a number, got {noise!r}")
        if not (np.isfinite(noise) and noise >= 0):
            raise ValueError(f"noise must be a non-negative finite number, got {noise!r}")
    rs = _check_random_state(random_state)

    # Written exactly as scikit-learn computes it, to get the same bits.
    outer = np.linspace(0, np.pi, n_out)
    inner = np.linspace(0, np.pi, n_in)
    X = np.column_stack([
        np.append(np.cos(outer), 1 - np.cos(inner)),
        np.append(np.sin(outer), 1 - np.sin(inner) - 0.5),
    ])
    y = np.append(np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp))

    # scikit-learn first shuffles (sklearn.utils.shuffle: arange + in-place
    # RandomState.shuffle), then draws the noise for the shuffled rows.
    if shuffle:
        order = np.arange(n_out + n_in)
        rs.shuffle(order)
        X, y = X[order], y[order]
    if noise is not None:
        X += rs.normal(scale=noise, size=X.shape)
    return X, y


def moons_tutorial():
    """Tutorial 003's moons: ``make_moons(1000, noise=0.1, random_state=42)``.

    X is then scaled as the tutorial does, with one global minimum and maximum
    over both columns (``X -= X.min(); X /= X.max()``), so it spans [0, 1].
    Returns ``(X, y)``: X float64 of shape (1000, 2), y float64 of shape
    (1000, 1).
    """
    X, y = make_moons(1000, noise=0.1, random_state=42)
    X -= X.min()
    X /= X.max()
    return X, y.astype(np.float64)[:, None]


def captcha_digits():
    """The ten 5x5 captcha digits of tutorial 004, zero to nine.

    Returns ``(X, Y)``: X float64 of shape (10, 25), one flattened bitmap per
    row, and Y the one-hot targets, the float64 identity of shape (10, 10).
    """
    return np.array(_CAPTCHA_DIGITS, dtype=np.float64), np.eye(10)


def captcha_variants():
    """The hand-drawn test digits of tutorial 004's ``predict(...)`` calls.

    Returns a dict mapping the intended digit ("3", "7", "8") to its
    flattened 5x5 bitmap, float64 of shape (25,).
    """
    return {digit: np.array(bits, dtype=np.float64)
            for digit, bits in _CAPTCHA_VARIANTS.items()}
