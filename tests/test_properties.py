"""Properties of the public API over generated input (hypothesis): bad arrays and
hyperparameters are refused naming them with the parameters untouched, or train to finite
parameters; any architecture saves and loads bit for bit; a damaged file is refused or loads
the model it held; the same inputs train to the same bits on every path, on threads or not,
alone or beside other threads.

The "ci" profile (the default, conftest.py) keeps this file to about a minute; run more
examples by hand with ``python -m pytest tests/test_properties.py --hypothesis-profile=long``.
"""
import contextlib
import copy
import threading
from unittest import mock

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st
from hypothesis.extra import numpy as hnp

import fastnn
from fastnn import _registry as reg
from fastnn import paths, threads

FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)
WIDTHS = st.one_of(st.integers(1, 9), st.integers(30, 48))  # narrow and batched layers


@st.composite
def networks(draw):
    """A small fastnn.MLP of any architecture the API allows."""
    sizes = draw(st.lists(WIDTHS, min_size=2, max_size=4))
    hidden = draw(st.lists(st.sampled_from(reg.HIDDEN_ACTIVATIONS), min_size=len(sizes) - 2,
                           max_size=len(sizes) - 2))
    output = draw(st.sampled_from([name for name in reg.OUTPUT_ACTIVATIONS
                                   if name != "softmax" or sizes[-1] >= 2]))
    return fastnn.MLP(sizes, hidden=hidden, output=output, bias=draw(st.booleans()),
                      dtype=draw(st.sampled_from(["float32", "float64"])),
                      seed=draw(st.integers(0, 2**32 - 1)))


def targets_for(net, n, rng):
    """(loss, Y) that the network's output can train on."""
    if net.output == "softmax":
        return "cross_entropy", rng.integers(0, net.sizes[-1], n)
    if net.output == "sigmoid":
        return "binary_cross_entropy", rng.uniform(size=(n, net.sizes[-1]))
    if net.output == "exp":
        return "poisson", rng.poisson(1.5, size=(n, net.sizes[-1]))
    return "squared_error", rng.normal(size=(n, net.sizes[-1]))


# ---------------------------------------------------------------------------- bad input
@given(net=networks(), X=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3,
                                                                  max_side=6), elements=FLOATS),
       method=st.sampled_from(["forward", "predict", "loss_and_grad", "fit"]))
def test_any_array_is_refused_or_used_with_the_parameters_untouched(net, X, method):
    with np.errstate(over="ignore"):
        good = (X.ndim == 2 and X.shape[0] > 0 and X.shape[1] == net.sizes[0]
                and np.isfinite(X).all() and np.isfinite(X.astype(net.dtype)).all())
    assume(not good)
    before = net.params.copy()
    Y = np.zeros((X.shape[0] if X.ndim else 1, net.sizes[-1]))
    call = {"forward": lambda: net.forward(X), "predict": lambda: net.predict(X),
            "loss_and_grad": lambda: net.loss_and_grad(X, Y),
            "fit": lambda: net.fit(X, Y, epochs=1)}[method]
    with np.errstate(over="ignore"), pytest.raises((ValueError, TypeError), match="X"):
        call()
    np.testing.assert_array_equal(net.params, before)


HYPERPARAMETERS = {
    "SGD": (fastnn.SGD, {"lr": FLOATS, "momentum": FLOATS, "weight_decay": FLOATS}),
    "Adam": (fastnn.Adam, {"lr": FLOATS, "eps": FLOATS, "weight_decay": FLOATS}),
}


@given(net=networks(), name=st.sampled_from(sorted(HYPERPARAMETERS)), data=st.data(),
       batch_size=st.sampled_from([1, 3, None]))
def test_any_hyperparameters_are_refused_or_train_to_finite_parameters(net, name, data,
                                                                       batch_size):
    cls, fields = HYPERPARAMETERS[name]
    values = {field: data.draw(strategy, label=field) for field, strategy in fields.items()}
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, net.sizes[0]))
    loss, Y = targets_for(net, 12, rng)
    before = net.params.copy()
    try:
        optimizer = cls(**values)
        net.fit(X, Y, loss=loss, optimizer=optimizer, epochs=2, batch_size=batch_size)
    except (ValueError, TypeError) as error:
        assert any(field in str(error) for field in fields), error
        np.testing.assert_array_equal(net.params, before)
    except FloatingPointError:
        np.testing.assert_array_equal(net.params, before)
    else:
        assert np.isfinite(net.params).all()


# ---------------------------------------------------------------------------- files
@given(net=networks())
def test_any_architecture_saves_and_loads_bit_for_bit(tmp_path_factory, net):
    path = tmp_path_factory.mktemp("models") / "model"
    net.save(path)
    loaded = fastnn.load(path)
    assert (loaded.sizes, loaded.hidden, loaded.output, loaded.bias, loaded.dtype) == (
        net.sizes, net.hidden, net.output, net.bias, net.dtype)
    np.testing.assert_array_equal(loaded.params, net.params)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    net = fastnn.MLP([4, 5, 3], hidden="relu", output="softmax", seed=1)
    path = tmp_path_factory.mktemp("saved") / "model.npz"
    net.save(path)
    return net, path.read_bytes()


@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1,
                      max_size=8),
       cut=st.one_of(st.none(), st.integers(0, 10**6)))
def test_a_damaged_file_is_refused_or_loads_the_model_it_held(saved_model, tmp_path_factory,
                                                              edits, cut):
    net, data = saved_model
    damaged = bytearray(data)
    for position, value in edits:
        damaged[position % len(damaged)] = value
    if cut is not None:
        damaged = damaged[:cut % len(damaged)]
    assume(bytes(damaged) != data)
    path = tmp_path_factory.mktemp("damaged") / "model.npz"
    path.write_bytes(bytes(damaged))
    try:
        loaded = fastnn.load(path)
    except ValueError:
        return
    assert (loaded.sizes, loaded.hidden, loaded.output) == (net.sizes, net.hidden, net.output)
    np.testing.assert_array_equal(loaded.params, net.params)


# ---------------------------------------------------------------------------- determinism
@st.composite
def trainings(draw):
    """A network, data and fit arguments that take any of the paths."""
    net = draw(networks())
    n = draw(st.integers(1, 70))
    batch_size = draw(st.sampled_from([1, 2, 8, 32, 64, None]))
    optimizer = draw(st.sampled_from([
        lambda: fastnn.SGD(lr=0.01, momentum=0.9), lambda: fastnn.SGD(lr=0.05),
        lambda: fastnn.Adam(lr=0.01), lambda: fastnn.optimizers.SklearnAdam(lr=0.01)]))
    fit = dict(epochs=draw(st.integers(1, 3)), batch_size=batch_size,
               shuffle=draw(st.booleans()), seed=draw(st.integers(0, 100)),
               l2=draw(st.sampled_from([0.0, 1e-3])))
    return net, n, optimizer, fit


@given(training=trainings())
def test_the_same_inputs_train_to_the_same_bits_on_threads_or_not(training):
    net, n, optimizer, fit = training
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, net.sizes[0]))
    loss, Y = targets_for(net, n, rng)
    results = []
    # batches of 16 rows or more split in two, as on two cores whatever the work
    with mock.patch.object(paths, "batch_parts", lambda rows, sizes: 2 if rows >= 16 else 1):
        for way in (True, False, None):
            model = copy.deepcopy(net)
            with threads.parts_on_threads(way) if way is not None else contextlib.nullcontext():
                try:
                    model.fit(X, Y, loss=loss, optimizer=optimizer(), **fit)
                except FloatingPointError:
                    results.append(None)
                    continue
            results.append(model.params)
    assert all(r is None for r in results) or all(
        r is not None and np.array_equal(r, results[0]) for r in results)


@given(trainings_=st.lists(trainings(), min_size=2, max_size=3))
def test_models_in_threads_train_to_the_bits_they_reach_alone(trainings_):
    def train(training):
        net, n, optimizer, fit = training
        rng = np.random.default_rng(n)
        X = rng.normal(size=(n, net.sizes[0]))
        loss, Y = targets_for(net, n, rng)
        model = copy.deepcopy(net)
        try:
            model.fit(X, Y, loss=loss, optimizer=optimizer(), **fit)
        except FloatingPointError:
            return None
        return model.params
    alone = [train(training) for training in trainings_]
    together = [None] * len(trainings_)
    workers = [threading.Thread(target=lambda i=i: together.__setitem__(i, train(trainings_[i])))
               for i in range(len(trainings_))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for a, b in zip(alone, together):
        assert (a is None and b is None) or np.array_equal(a, b)
