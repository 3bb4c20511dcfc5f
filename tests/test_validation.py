"""Argument checking of the public API.

The rule: bad input gets a ValueError or TypeError whose message names the offending argument,
raised before any parameter or optimizer state changes; inputs that are merely in another
layout or dtype (Fortran order, strided views, integers, bools, float32/float64, lists) are
accepted and give exactly the results of the same data as a C-contiguous array of the model's
dtype; NaN never appears silently.
"""
import contextlib
import gc
import re
import warnings

import numpy as np
import pytest
import scipy.sparse

import fastnn
from fastnn import SGD

# Values beyond float32's range warn when cast (and are then rejected): expected here.
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")

SIZES = [3, 4, 2]
N = 6


def named(name):
    """A pytest.raises ``match`` pattern: ``name`` as a whole word of the message (any case:
    NumPy words an out-of-range seed as "Seed must be ...")."""
    return rf"(?i)(?<![\w.]){re.escape(name)}(?!\w)"


def make_net(sizes=SIZES, output="linear", **kwargs):
    return fastnn.MLP(sizes, output=output, seed=0, **kwargs)


def data(sizes=SIZES, n=N, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, sizes[0])), rng.normal(size=(n, sizes[-1]))


def state_of(opt):
    velocity = opt.velocity
    return (None if velocity is None else velocity.tobytes()), opt.steps


@contextlib.contextmanager
def unchanged(net, opt=None):
    """Checks, once the block is left, that the parameters (bit for bit) and the optimizer's
    velocity and step count are what they were when it was entered."""
    params = net.params.tobytes()
    before = None if opt is None else state_of(opt)
    yield
    assert net.params.tobytes() == params, "parameters changed"
    if opt is not None:
        assert state_of(opt) == before, "optimizer state changed"


@pytest.fixture
def warm():
    """(net, optimizer, X, Y): a net trained for one epoch, so its SGD holds momentum."""
    net = make_net()
    X, Y = data()
    opt = SGD(lr=0.05, momentum=0.9)
    net.fit(X, Y, optimizer=opt, epochs=1, batch_size=2)
    assert opt.steps > 0 and opt.velocity is not None
    return net, opt, X, Y


# --------------------------------------------------------------------------- constructor
CONSTRUCTOR_CASES = [
    # id, keyword arguments, exception, argument named in the message
    ("sizes_int", dict(sizes=5), TypeError, "sizes"),
    ("sizes_none", dict(sizes=None), TypeError, "sizes"),
    ("sizes_empty", dict(sizes=[]), ValueError, "sizes"),
    ("sizes_one_entry", dict(sizes=[3]), ValueError, "sizes"),
    ("sizes_zero_width", dict(sizes=[3, 0, 2]), ValueError, "sizes"),
    ("sizes_negative_width", dict(sizes=[3, -4, 2]), ValueError, "sizes"),
    ("sizes_float_width", dict(sizes=[3, 4.0, 2]), TypeError, "sizes"),
    ("sizes_bool_width", dict(sizes=[3, True, 2]), TypeError, "sizes"),
    ("sizes_string_width", dict(sizes=[3, "4", 2]), TypeError, "sizes"),
    ("sizes_past_int64", dict(sizes=[10**10, 10**10]), ValueError, "sizes"),
    ("sizes_width_2_62", dict(sizes=[3, 2**62, 2]), ValueError, "sizes"),
    ("hidden_unknown", dict(hidden="swish"), ValueError, "hidden"),
    ("hidden_output_only", dict(hidden="softmax"), ValueError, "hidden"),
    ("hidden_exp_output_only", dict(hidden="exp"), ValueError, "hidden"),
    ("hidden_not_string", dict(hidden=None), TypeError, "hidden"),
    ("hidden_list_too_short", dict(sizes=[3, 4, 5, 2], hidden=["tanh"]), ValueError, "hidden"),
    ("hidden_list_too_long", dict(sizes=[3, 4, 2], hidden=["tanh", "relu"]), ValueError, "hidden"),
    ("hidden_list_for_no_hidden", dict(sizes=[3, 2], hidden=["tanh"]), ValueError, "hidden"),
    ("hidden_list_unknown", dict(sizes=[3, 4, 5, 2], hidden=["tanh", "swish"]), ValueError,
     "hidden"),
    ("hidden_list_output_only", dict(sizes=[3, 4, 2], hidden=["softmax"]), ValueError, "hidden"),
    ("hidden_list_not_names", dict(sizes=[3, 4, 2], hidden=[None]), TypeError, "hidden"),
    ("hidden_array", dict(sizes=[3, 4, 2], hidden=np.array(["tanh"])), TypeError, "hidden"),
    ("output_unknown", dict(output="identity"), ValueError, "output"),
    ("output_not_string", dict(output=1), TypeError, "output"),
    ("init_unknown", dict(init="glorot"), ValueError, "init"),
    ("init_not_string", dict(init=np.zeros), TypeError, "init"),
    ("softmax_one_output", dict(sizes=[3, 1], output="softmax"), ValueError, "output"),
    ("bias_int", dict(bias=1), TypeError, "bias"),
    ("bias_string", dict(bias="True"), TypeError, "bias"),
    ("bias_none", dict(bias=None), TypeError, "bias"),
    ("dtype_int32", dict(dtype="int32"), ValueError, "dtype"),
    ("dtype_float16", dict(dtype="float16"), ValueError, "dtype"),
    ("dtype_complex", dict(dtype=np.complex128), ValueError, "dtype"),
    ("dtype_object", dict(dtype=object()), TypeError, "dtype"),
    ("dtype_unknown_name", dict(dtype="float65"), TypeError, "dtype"),
    ("seed_negative", dict(seed=-1), ValueError, "seed"),
    ("seed_float", dict(seed=1.0), TypeError, "seed"),
    ("seed_string", dict(seed="0"), TypeError, "seed"),
    ("seed_too_large", dict(seed=2**32), ValueError, "seed"),
]


@pytest.mark.parametrize("kwargs, error, name", [pytest.param(*c[1:], id=c[0]) for c in CONSTRUCTOR_CASES])
def test_constructor_rejects(kwargs, error, name):
    args = dict(sizes=SIZES, output="linear")
    args.update(kwargs)
    with pytest.raises(error, match=named(name)):
        fastnn.MLP(**args)


@pytest.mark.parametrize("hidden,sizes,layers", [
    ("relu", [3, 4, 5, 2], ("relu", "relu", "linear")),
    (["relu", "softplus"], [3, 4, 5, 2], ("relu", "softplus", "linear")),
    (("tanh",), [3, 4, 2], ("tanh", "linear")),
    ([], [3, 2], ("linear",)),
    ("sigmoid", [3, 2], ("linear",)),
])
def test_hidden_is_one_name_or_one_per_layer(hidden, sizes, layers):
    """net.hidden returns what was given (a copy of a list), layer_activations one name per
    layer."""
    net = make_net(sizes, hidden=hidden)
    assert net.hidden == hidden and type(net.hidden) is type(hidden)
    assert net.layer_activations == layers
    if isinstance(hidden, list):
        net.hidden.append("tanh")
        assert net.hidden == hidden


# --------------------------------------------------------------------------- X
def _ragged(n, k):
    return [[0.0] * k] * (n - 1) + [[0.0] * (k - 1)]


def _with(value):
    def make(n, k):
        X = np.random.default_rng(1).normal(size=(n, k))
        X[n // 2, k - 1] = value
        return X
    return make


def _sparse(X, layout="csr"):
    return getattr(scipy.sparse, f"{layout}_matrix")(X)


def _bad_csr(n, k, column=None, decreasing=False):
    """A CSR matrix of one value a row, its arrays spoiled where scipy does not look: the
    last row's column set to ``column``, or indptr decreasing in the middle."""
    X = scipy.sparse.csr_matrix((np.ones(n), np.arange(n) % k, np.arange(n + 1)), shape=(n, k))
    if column is not None:
        X.indices[-1] = column
    if decreasing:
        X.indptr[n // 2] = X.indptr[n // 2 + 1] + 1
    return X


X_CASES = [
    # id, X from (n_rows, n_inputs), exception, model dtype
    ("nan", _with(np.nan), ValueError, "float64"),
    ("inf", _with(-np.inf), ValueError, "float64"),
    ("overflows_float32", _with(1e39), ValueError, "float32"),
    ("too_many_columns", lambda n, k: np.zeros((n, k + 1)), ValueError, "float64"),
    ("too_few_columns", lambda n, k: np.zeros((n, k - 1)), ValueError, "float64"),
    ("one_dimensional", lambda n, k: np.zeros(k), ValueError, "float64"),
    ("three_dimensional", lambda n, k: np.zeros((n, k, 1)), ValueError, "float64"),
    ("scalar", lambda n, k: 1.0, ValueError, "float64"),
    ("empty", lambda n, k: np.zeros((0, k)), ValueError, "float64"),
    ("empty_list", lambda n, k: [], ValueError, "float64"),
    ("strings", lambda n, k: np.full((n, k), "1.0"), TypeError, "float64"),
    ("object_dtype", lambda n, k: np.ones((n, k), dtype=object), TypeError, "float64"),
    ("complex", lambda n, k: np.ones((n, k), dtype=complex), TypeError, "float64"),
    ("none_entries", lambda n, k: [[None] * k] * n, TypeError, "float64"),
    ("ragged_list", _ragged, ValueError, "float64"),
    ("sparse_nan", lambda n, k: _sparse(_with(np.nan)(n, k)), ValueError, "float64"),
    ("sparse_inf", lambda n, k: _sparse(_with(np.inf)(n, k), "csc"), ValueError, "float64"),
    ("sparse_overflows_float32", lambda n, k: _sparse(_with(1e39)(n, k)), ValueError, "float32"),
    ("sparse_too_many_columns", lambda n, k: _sparse(np.ones((n, k + 1))), ValueError, "float64"),
    ("sparse_too_few_columns", lambda n, k: _sparse(np.ones((n, k - 1)), "coo"), ValueError,
     "float64"),
    ("sparse_one_dimensional", lambda n, k: scipy.sparse.coo_array(np.ones(k)), ValueError,
     "float64"),
    ("sparse_empty", lambda n, k: scipy.sparse.csr_array((0, k)), ValueError, "float64"),
    ("sparse_complex", lambda n, k: _sparse(np.ones((n, k), complex)), TypeError, "float64"),
    ("sparse_column_out_of_range", lambda n, k: _bad_csr(n, k, column=k), ValueError, "float64"),
    ("sparse_negative_column", lambda n, k: _bad_csr(n, k, column=-1), ValueError, "float64"),
    ("sparse_indptr_decreasing", lambda n, k: _bad_csr(n, k, decreasing=True), ValueError,
     "float64"),
]
METHODS = ["forward", "predict", "loss_and_grad", "fit"]


def call(method, net, X, Y, opt=None, **kwargs):
    if method == "fit":
        return net.fit(X, Y, optimizer=opt, **kwargs)
    if method == "loss_and_grad":
        return net.loss_and_grad(X, Y, **kwargs)
    return getattr(net, method)(X)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("make_X, error, dtype", [pytest.param(*c[1:], id=c[0]) for c in X_CASES])
def test_bad_X_is_rejected(method, make_X, error, dtype):
    net = make_net(dtype=dtype)
    _, Y = data()
    opt = SGD(lr=0.1, momentum=0.9)
    with unchanged(net, opt), pytest.raises(error, match=named("X")):
        call(method, net, make_X(N, SIZES[0]), Y, opt)


# --------------------------------------------------------------------------- Y
NETS = {  # loss -> (sizes, output)
    "squared_error": ([3, 4, 2], "linear"),
    "binary_cross_entropy": ([3, 4, 2], "sigmoid"),
    "cross_entropy": ([3, 4, 3], "softmax"),
    "poisson": ([3, 4, 2], "exp"),
}


def _labels(*values):
    return lambda n, k: np.array(list(values) + [0] * (n - len(values)))


def _targets(value):
    def make(n, k):
        Y = np.full((n, k), 0.5)
        Y[n - 1, k - 1] = value
        return Y
    return make


Y_CASES = [
    # id, loss, Y from (n_rows, n_outputs), exception
    ("nan", "squared_error", _targets(np.nan), ValueError),
    ("inf", "squared_error", _targets(np.inf), ValueError),
    ("too_few_rows", "squared_error", lambda n, k: np.zeros((n - 1, k)), ValueError),
    ("too_many_rows", "squared_error", lambda n, k: np.zeros((n + 1, k)), ValueError),
    ("too_many_columns", "squared_error", lambda n, k: np.zeros((n, k + 1)), ValueError),
    ("too_few_columns", "squared_error", lambda n, k: np.zeros((n, k - 1)), ValueError),
    ("three_dimensional", "squared_error", lambda n, k: np.zeros((n, k, 1)), ValueError),
    ("scalar", "squared_error", lambda n, k: 0.0, ValueError),
    ("one_dimensional_for_two_outputs", "squared_error", lambda n, k: np.zeros(n), ValueError),
    ("strings", "squared_error", lambda n, k: np.full((n, k), "0"), TypeError),
    ("complex", "squared_error", lambda n, k: np.zeros((n, k), complex), TypeError),
    ("ragged_list", "squared_error", _ragged, ValueError),
    ("label_negative", "cross_entropy", _labels(1, -1), ValueError),
    ("label_equals_n_classes", "cross_entropy", _labels(1, 3), ValueError),
    ("label_not_integer", "cross_entropy", _labels(1, 1.5), ValueError),
    ("label_nan", "cross_entropy", _labels(1, np.nan), ValueError),
    ("labels_too_few", "cross_entropy", lambda n, k: np.zeros(n - 1, int), ValueError),
    ("one_hot_negative", "cross_entropy", _targets(-0.5), ValueError),
    ("one_hot_wrong_width", "cross_entropy", lambda n, k: np.eye(k - 1)[np.zeros(n, int)], ValueError),
    ("bce_above_one", "binary_cross_entropy", _targets(1.5), ValueError),
    ("bce_below_zero", "binary_cross_entropy", _targets(-0.1), ValueError),
    ("bce_nan", "binary_cross_entropy", _targets(np.nan), ValueError),
    ("poisson_negative", "poisson", _targets(-1.0), ValueError),
    ("poisson_inf", "poisson", _targets(np.inf), ValueError),
]


@pytest.mark.parametrize("method", ["loss_and_grad", "fit"])
@pytest.mark.parametrize("loss, make_Y, error", [pytest.param(*c[1:], id=c[0]) for c in Y_CASES])
def test_bad_Y_is_rejected(method, loss, make_Y, error):
    sizes, output = NETS[loss]
    net = make_net(sizes, output)
    X, _ = data(sizes)
    opt = SGD(lr=0.1, momentum=0.9)
    with unchanged(net, opt), pytest.raises(error, match=named("Y")):
        call(method, net, X, make_Y(N, sizes[-1]), opt, loss=loss)


# --------------------------------------------------------------------------- loss, reduction
LOSS_CASES = [
    # id, output activation, keyword arguments, exception, argument named
    ("loss_unknown", "linear", dict(loss="mse"), ValueError, "loss"),
    ("loss_not_string", "linear", dict(loss=2), TypeError, "loss"),
    ("bce_without_sigmoid", "linear", dict(loss="binary_cross_entropy"), ValueError, "loss"),
    ("bce_with_softmax", "softmax", dict(loss="binary_cross_entropy"), ValueError, "loss"),
    ("ce_without_softmax", "sigmoid", dict(loss="cross_entropy"), ValueError, "loss"),
    ("poisson_without_exp", "linear", dict(loss="poisson"), ValueError, "loss"),
    ("reduction_unknown", "linear", dict(reduction="avg"), ValueError, "reduction"),
    ("reduction_not_string", "linear", dict(reduction=None), TypeError, "reduction"),
]


@pytest.mark.parametrize("method", ["loss_and_grad", "fit"])
@pytest.mark.parametrize("output, kwargs, error, name", [pytest.param(*c[1:], id=c[0]) for c in LOSS_CASES])
def test_bad_loss_or_reduction_is_rejected(method, output, kwargs, error, name):
    net = make_net(output=output)
    X, Y = data()
    Y = np.abs(Y) / (1 + np.abs(Y))  # in [0, 1): legal targets for every loss
    opt = SGD(lr=0.1)
    with unchanged(net, opt), pytest.raises(error, match=named(name)):
        call(method, net, X, Y, opt, **kwargs)


# --------------------------------------------------------------------------- SGD
SGD_CASES = [
    # id, keyword arguments, exception, argument named
    ("lr_zero", dict(lr=0.0), ValueError, "lr"),
    ("lr_negative", dict(lr=-0.1), ValueError, "lr"),
    ("lr_nan", dict(lr=float("nan")), ValueError, "lr"),
    ("lr_inf", dict(lr=float("inf")), ValueError, "lr"),
    ("lr_string", dict(lr="0.1"), TypeError, "lr"),
    ("lr_none", dict(lr=None), TypeError, "lr"),
    ("lr_bool", dict(lr=True), TypeError, "lr"),
    ("lr_array", dict(lr=np.array([0.1])), TypeError, "lr"),
    ("momentum_negative", dict(momentum=-0.5), ValueError, "momentum"),
    ("momentum_nan", dict(momentum=float("nan")), ValueError, "momentum"),
    ("momentum_string", dict(momentum="0.9"), TypeError, "momentum"),
    ("nesterov_without_momentum", dict(nesterov=True), ValueError, "nesterov"),
    ("nesterov_int", dict(nesterov=1, momentum=0.9), TypeError, "nesterov"),
    ("nesterov_string", dict(nesterov="yes", momentum=0.9), TypeError, "nesterov"),
    ("weight_decay_negative", dict(weight_decay=-1e-4), ValueError, "weight_decay"),
    ("weight_decay_inf", dict(weight_decay=float("inf")), ValueError, "weight_decay"),
    ("weight_decay_string", dict(weight_decay="0"), TypeError, "weight_decay"),
]
SGD_PARAMS = [pytest.param(*c[1:], id=c[0]) for c in SGD_CASES]
SGD_DEFAULTS = dict(lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0)


@pytest.mark.parametrize("kwargs, error, name", SGD_PARAMS)
def test_sgd_rejects(kwargs, error, name):
    with pytest.raises(error, match=named(name)):
        SGD(**kwargs)


@pytest.mark.parametrize("kwargs, error, name", SGD_PARAMS)
def test_fit_rejects_an_sgd_spoiled_after_construction(warm, kwargs, error, name):
    net, opt, X, Y = warm
    for attribute, value in dict(SGD_DEFAULTS, **kwargs).items():
        setattr(opt, attribute, value)
    with unchanged(net, opt), pytest.raises(error, match=named(name)):
        net.fit(X, Y, optimizer=opt, epochs=2)


class TorchLikeSGD:
    """Looks like an optimizer (lr, momentum, step, zero_grad) but is not a fastnn one."""

    lr, momentum, nesterov, weight_decay = 0.1, 0.0, False, 0.0

    def step(self):
        pass

    def zero_grad(self):
        pass


@pytest.mark.parametrize("optimizer", ["sgd", SGD, TorchLikeSGD(), {"lr": 0.1}, 0.1],
                         ids=["string", "class", "torch_like", "dict", "float"])
def test_fit_rejects_a_foreign_optimizer(optimizer):
    net = make_net()
    X, Y = data()
    with unchanged(net), pytest.raises(TypeError, match=named("optimizer")):
        net.fit(X, Y, optimizer=optimizer)


def test_one_sgd_cannot_train_two_models(warm):
    net, opt, X, Y = warm
    other = make_net()
    with unchanged(other, opt), unchanged(net), pytest.raises(ValueError, match=named("optimizer")):
        other.fit(X, Y, optimizer=opt)
    steps = opt.steps
    net.fit(X, Y, optimizer=opt)  # still serves its own model
    assert opt.steps == steps + 1


def test_optimizer_state_does_not_leak_from_a_discarded_model():
    """An SGD whose model was garbage-collected may serve a new model, but must then start
    from zero momentum and zero steps (as a new SGD would), not carry the old model's state."""
    X, Y = data()
    opt = SGD(lr=0.05, momentum=0.9)
    old = make_net()
    old.fit(X, Y, optimizer=opt, epochs=2, batch_size=2)
    del old
    gc.collect()
    net, twin = make_net(), make_net()
    net.fit(X, Y, optimizer=opt, epochs=1, batch_size=2, seed=0)
    fresh = SGD(lr=0.05, momentum=0.9)
    twin.fit(X, Y, optimizer=fresh, epochs=1, batch_size=2, seed=0)
    assert opt.steps == fresh.steps
    np.testing.assert_array_equal(opt.velocity, fresh.velocity)
    np.testing.assert_array_equal(net.params, twin.params)


# --------------------------------------------------------------------------- fit arguments
FIT_CASES = [
    # id, keyword arguments, exception, argument named
    ("batch_size_zero", dict(batch_size=0), ValueError, "batch_size"),
    ("batch_size_negative", dict(batch_size=-2), ValueError, "batch_size"),
    ("batch_size_float", dict(batch_size=2.0), TypeError, "batch_size"),
    ("batch_size_bool", dict(batch_size=True), TypeError, "batch_size"),
    ("batch_size_string", dict(batch_size="2"), TypeError, "batch_size"),
    ("epochs_negative", dict(epochs=-1), ValueError, "epochs"),
    ("epochs_float", dict(epochs=1.5), TypeError, "epochs"),
    ("epochs_none", dict(epochs=None), TypeError, "epochs"),
    ("epochs_bool", dict(epochs=True), TypeError, "epochs"),
    ("shuffle_int", dict(shuffle=1), TypeError, "shuffle"),
    ("shuffle_none", dict(shuffle=None), TypeError, "shuffle"),
    ("seed_negative", dict(seed=-1), ValueError, "seed"),
    ("seed_float", dict(seed=0.5), TypeError, "seed"),
    ("seed_string", dict(seed="1"), TypeError, "seed"),
    ("seed_legacy_random_state", dict(seed=np.random.RandomState(0)), TypeError, "seed"),
    ("callback_not_callable", dict(callback=5), TypeError, "callback"),
    ("callback_string", dict(callback="print"), TypeError, "callback"),
    ("verbose_int", dict(verbose=1), TypeError, "verbose"),
    ("verbose_string", dict(verbose="yes"), TypeError, "verbose"),
    ("l2_negative", dict(l2=-0.1), ValueError, "l2"),
    ("l2_nan", dict(l2=float("nan")), ValueError, "l2"),
    ("l2_string", dict(l2="0.1"), TypeError, "l2"),
]


@pytest.mark.parametrize("kwargs, error, name", [pytest.param(*c[1:], id=c[0]) for c in FIT_CASES])
def test_fit_rejects(warm, kwargs, error, name):
    net, opt, X, Y = warm
    with unchanged(net, opt), pytest.raises(error, match=named(name)):
        net.fit(X, Y, optimizer=opt, **kwargs)


# --------------------------------------------------------------------------- set_params
def _replace(part, layer, value):
    """Replace entry ``layer`` of weights or biases by value(old entry); the other entries
    get new legal values, so a partial write would show."""
    def edit(weights, biases):
        weights = [2 * W + 1 for W in weights]
        biases = None if biases is None else [2 * b + 1 for b in biases]
        target = weights if part == "weights" else biases
        target[layer] = value(target[layer])
        return weights, biases
    return edit


def _nan_at_end(array):
    array = array.copy()
    array.flat[-1] = np.nan
    return array


BIAS, NO_BIAS, FLOAT32 = dict(bias=True), dict(bias=False), dict(dtype="float32")
SET_PARAMS_CASES = [
    # id, network, edit of (weights, biases), exception, argument named
    ("weights_one_missing", BIAS, lambda w, b: (w[:-1], b), ValueError, "weights"),
    ("weights_one_extra", BIAS, lambda w, b: (w + [w[-1]], b), ValueError, "weights"),
    ("weights_not_a_list", BIAS, lambda w, b: (np.stack([w[0], w[0]]), b), TypeError, "weights"),
    ("weights_none", BIAS, lambda w, b: (None, b), TypeError, "weights"),
    ("weights_transposed", BIAS, _replace("weights", 1, np.transpose), ValueError, "weights[1]"),
    ("weights_flattened", BIAS, _replace("weights", 1, np.ravel), ValueError, "weights[1]"),
    ("weights_nan", BIAS, _replace("weights", 1, _nan_at_end), ValueError, "weights[1]"),
    ("weights_inf", NO_BIAS, _replace("weights", 1, lambda W: W + np.inf), ValueError, "weights[1]"),
    ("weights_strings", BIAS, _replace("weights", 1, lambda W: W.astype(str)), TypeError, "weights[1]"),
    ("weights_ragged", BIAS, _replace("weights", 1, lambda W: [[1.0, 2.0], [3.0]]), ValueError, "weights[1]"),
    ("weights_overflow_float32", FLOAT32, _replace("weights", 1, lambda W: W.astype(np.float64) * 1e300), ValueError, "weights[1]"),
    ("biases_missing", BIAS, lambda w, b: (w, None), ValueError, "biases"),
    ("biases_one_missing", BIAS, lambda w, b: (w, b[:-1]), ValueError, "biases"),
    ("biases_wrong_shape", BIAS, _replace("biases", 1, lambda b: b[:, None]), ValueError, "biases[1]"),
    ("biases_nan", BIAS, _replace("biases", 1, _nan_at_end), ValueError, "biases[1]"),
    ("biases_for_no_bias_network", NO_BIAS, lambda w, b: (w, [np.zeros(4), np.zeros(2)]), ValueError, "biases"),
]


@pytest.mark.parametrize("network, edit, error, name", [pytest.param(*c[1:], id=c[0]) for c in SET_PARAMS_CASES])
def test_set_params_rejects(network, edit, error, name):
    net = make_net(init="uniform_signed", **network)
    weights, biases = edit(*net.get_params())
    with unchanged(net), pytest.raises(error, match=named(name)):
        net.set_params(weights, biases)


# --------------------------------------------------------------------------- accepted inputs
def _strided(A):
    big = np.zeros((2 * A.shape[0], 3 * A.shape[1]), A.dtype)
    big[::2, ::3] = A
    return big[::2, ::3]


def _read_only(A):
    A = A.copy()
    A.flags.writeable = False
    return A


LAYOUTS = {
    # id -> (model dtype, make the input from float64 data)
    "fortran": ("float64", np.asfortranarray),
    "strided_view": ("float64", _strided),
    "reversed_rows": ("float64", lambda A: A[::-1]),
    "read_only": ("float64", _read_only),
    "big_endian": ("float64", lambda A: A.astype(">f8")),
    "integer": ("float64", lambda A: np.round(3 * A).astype(np.int32)),
    "bool": ("float64", lambda A: A > 0),
    "list": ("float64", lambda A: A.tolist()),
    "float32_for_float64_model": ("float64", lambda A: A.astype(np.float32)),
    "float64_for_float32_model": ("float32", lambda A: A),
    "fortran_float64_for_float32_model": ("float32", np.asfortranarray),
    "integer_for_float32_model": ("float32", lambda A: np.round(3 * A).astype(np.int64)),
}


def as_model_input(given, dtype):
    """The same data as a C-contiguous array of the model's dtype."""
    expected = np.array(given, dtype=dtype, order="C")
    assert expected.flags.c_contiguous and expected.dtype == dtype
    return expected


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_other_layouts_and_dtypes_give_identical_results(layout):
    dtype, convert = LAYOUTS[layout]
    X, Y = data(n=11)
    X_given, Y_given = convert(X), convert(Y)
    X_c, Y_c = as_model_input(X_given, dtype), as_model_input(Y_given, dtype)

    results = []
    for X_in, Y_in in [(X_c, Y_c), (X_given, Y_given)]:
        net = make_net(dtype=dtype)
        out = net.forward(X_in)
        assert out.dtype == dtype
        loss, grad_w, _ = net.loss_and_grad(X_in, Y_in)
        history = net.fit(X_in, Y_in, optimizer=SGD(lr=0.05, momentum=0.9), epochs=3,
                          batch_size=4, seed=1)
        results.append((out, loss, grad_w, history.loss, net.params.copy()))
    (out, loss, grad_w, hist, params), (out2, loss2, grad_w2, hist2, params2) = results
    np.testing.assert_array_equal(out2, out)
    assert loss2 == loss and hist2 == hist
    for a, b in zip(grad_w2, grad_w):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(params2, params)


def test_inputs_are_not_modified():
    X, Y = data()
    X_before, Y_before = X.copy(), Y.copy()
    net = make_net()
    net.forward(X)
    net.loss_and_grad(X, Y)
    net.fit(X, Y, epochs=2, batch_size=2)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(Y, Y_before)


def fit_result(net, X, Y, **kwargs):
    kwargs = dict(dict(optimizer=SGD(lr=0.05, momentum=0.9), epochs=3, batch_size=4, seed=1), **kwargs)
    history = net.fit(X, Y, **kwargs)
    return history.loss, net.params.copy()


def assert_same_fit(a, b):
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


def test_one_dimensional_Y_for_one_output():
    sizes = [3, 4, 1]
    X, Y = data(sizes)
    for loss, output in [("squared_error", "linear"), ("binary_cross_entropy", "sigmoid")]:
        Y01 = 1 / (1 + np.exp(-Y))
        a, b = make_net(sizes, output), make_net(sizes, output)
        assert a.loss_and_grad(X, Y01[:, 0], loss)[0] == b.loss_and_grad(X, Y01, loss)[0]
        assert_same_fit(fit_result(a, X, Y01[:, 0], loss=loss), fit_result(b, X, Y01, loss=loss))


@pytest.mark.parametrize("kind", ["int64", "int8", "uint8", "float_integers", "list"])
def test_integer_labels_equal_one_hot(kind):
    sizes = [3, 4, 3]
    X, _ = data(sizes, n=9)
    labels = np.arange(9) % 3
    given = {"int64": labels, "int8": labels.astype(np.int8), "uint8": labels.astype(np.uint8),
             "float_integers": labels.astype(float), "list": labels.tolist()}[kind]
    one_hot = np.eye(3)[labels]
    a, b = make_net(sizes, "softmax"), make_net(sizes, "softmax")
    for reduction in ("mean", "sum"):
        la, ga, gba = a.loss_and_grad(X, given, "cross_entropy", reduction)
        lb, gb, gbb = b.loss_and_grad(X, one_hot, "cross_entropy", reduction)
        assert la == lb
        for u, v in zip(ga + gba, gb + gbb):
            np.testing.assert_array_equal(u, v)
    assert_same_fit(fit_result(a, X, given, loss="cross_entropy"),
                    fit_result(b, X, one_hot, loss="cross_entropy"))


@pytest.mark.parametrize("batch_size", [N, N + 1, 10 * N, 2**40])
def test_batch_size_beyond_the_data_is_the_full_batch(batch_size):
    X, Y = data()
    assert_same_fit(fit_result(make_net(), X, Y, batch_size=batch_size),
                    fit_result(make_net(), X, Y, batch_size=None))


# --------------------------------------------------------------------------- divergence
DIVERGENT_PATHS = {
    "full_batch": dict(batch_size=None),
    "mini_batch": dict(batch_size=2, seed=0),
    "per_sample": dict(batch_size=1, seed=0),
    "with_callback": dict(batch_size=2, seed=0, callback=lambda epoch, loss: None),
}


@pytest.mark.parametrize("path", sorted(DIVERGENT_PATHS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_divergence_raises_and_restores_everything(path, dtype):
    net = make_net(dtype=dtype)
    X, Y = data()
    opt = SGD(lr=0.01, momentum=0.9)
    net.fit(X, Y, optimizer=opt, epochs=2, batch_size=2)  # state worth restoring
    opt.lr = 1e6
    with unchanged(net, opt), pytest.raises(FloatingPointError, match="diverged"):
        net.fit(X, 1e3 * Y, optimizer=opt, epochs=300, **DIVERGENT_PATHS[path])
    assert np.isfinite(net.params).all()
    assert np.isfinite(net.forward(X)).all()


def test_divergence_with_a_fresh_optimizer_leaves_it_unused():
    net = make_net()
    X, Y = data()
    opt = SGD(lr=1e6, momentum=0.5)
    with unchanged(net), pytest.raises(FloatingPointError):
        net.fit(X, 1e3 * Y, optimizer=opt, epochs=300)
    assert opt.steps == 0
    assert opt.velocity is None or not opt.velocity.any()


def test_divergence_error_names_the_first_non_finite_epoch(monkeypatch):
    """The compiled epoch loop stops at the first epoch whose loss is not finite, so the
    error names the same epoch whether Python sees every epoch (callback) or big chunks."""
    from fastnn import network

    monkeypatch.setattr(network, "CHUNK_SECONDS", 1e3)  # one chunk for all but the first epoch
    X, Y = data()
    messages, seen = [], []
    for callback in (lambda epoch, loss: seen.append(loss), None):
        with pytest.raises(FloatingPointError) as info:
            make_net().fit(X, 1e3 * Y, optimizer=SGD(lr=1e6), epochs=400, batch_size=None,
                           callback=callback)
        messages.append(re.search(r"epoch (\d+)", str(info.value)).group(1))
    assert int(messages[0]) == len(seen) < 300
    assert messages[1] == messages[0]


@pytest.mark.parametrize("dtype, lr", [("float64", 1e308), ("float32", 1e300)],
                         ids=["last_update_overflows", "lr_overflows_float32"])
def test_fit_never_returns_non_finite_parameters(dtype, lr):
    """One full-batch epoch: its loss (taken before the update) is finite, but the update
    itself overflows. fit must refuse (lr) or report divergence, never return a model with
    infinite or NaN parameters."""
    net = make_net(dtype=dtype)
    X, Y = data()
    opt = SGD(lr=lr)
    with unchanged(net), pytest.raises((ValueError, FloatingPointError)):
        net.fit(X, 1e3 * Y, optimizer=opt, epochs=1, batch_size=None)
    assert np.isfinite(net.params).all()


@pytest.mark.parametrize("make_optimizer, name", [
    (lambda: SGD(lr=1e-50), "lr"),
    (lambda: SGD(lr=0.1, momentum=1e-40), "momentum"),
    (lambda: SGD(lr=0.1, weight_decay=1e-45), "weight_decay"),
    (lambda: fastnn.Adam(eps=1e-50), "eps"),
    (lambda: fastnn.Adam(lr=1e39), "lr"),
    (lambda: fastnn.optimizers.SklearnSGD(lr=1e-40), "lr"),
    (lambda: fastnn.optimizers.SklearnAdam(eps=1e-46), "eps"),
], ids=["sgd_lr", "sgd_momentum", "sgd_weight_decay", "adam_eps", "adam_lr_overflows",
        "sklearn_sgd_lr", "sklearn_adam_eps"])
def test_hyperparameters_that_underflow_or_overflow_float32_are_refused(make_optimizer, name):
    """In float32 they would act as 0 (an lr of 0 trains nothing, an eps of 0 divides by 0)
    or as infinity; the same values train in float64."""
    X, Y = data()
    net = make_net(dtype="float32")
    with unchanged(net), pytest.raises(ValueError, match=named(name) + ".*float32"):
        net.fit(X, Y, optimizer=make_optimizer(), epochs=1)
    make_net().fit(X, Y, optimizer=make_optimizer(), epochs=1)  # float64 holds them


def test_finite_input_that_overflows_is_never_silent():
    """A linear network with weights of +-2 on inputs of 1e308: forward and predict warn as
    NumPy does on overflow; loss_and_grad raises as fit does."""
    net = fastnn.MLP([2, 3, 2], hidden="linear", output="linear", seed=0)
    net.params[...] = np.where(np.arange(net.n_params) % 2, 2.0, -2.0)
    X = np.full((1, 2), 1e308)
    with pytest.warns(RuntimeWarning, match="non-finite outputs.*float64") as record:
        out = net.forward(X)
    assert not np.isfinite(out).all() and record[0].filename == __file__
    with pytest.warns(RuntimeWarning, match="non-finite outputs"):
        net.predict(X)
    with pytest.raises(FloatingPointError):
        net.loss_and_grad(X, np.zeros((1, 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.forward(np.ones((1, 2)))  # finite outputs: no warning
