"""The tables the tests are generated from (paths, optimizers, dtypes), paired compiled and
reference models, and the tolerances they must meet."""
import glob
import itertools
import os
import textwrap
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("FASTNN_KERNELS", "generic")
"""The tests run the generic kernels, one per path and dtype for every configuration (the
kernels compiled for one network's codes alone would compile once per configuration the tests
try); test_specialised.py checks those copies against them on every path."""

import fastnn  # noqa: E402  (after FASTNN_KERNELS is set)
from fastnn import _registry as reg
from fastnn import model, paths, stack, threads

RECORD_COMPILED = textwrap.dedent("""
    from fastnn.tools.compile_events import CompileEvents
    compile_events = CompileEvents().start()
    def compiled():  # the qualified names of the functions numba compiled, in order
        return [row[0] for row in compile_events.compiled]
""")
"""The start of a script for a new process that records what numba compiles in it."""

def pytest_collection_modifyitems(items):
    """Tests marked fills_cache run first (in their collected order), then the rest."""
    items.sort(key=lambda item: item.get_closest_marker("fills_cache") is None)


def session_cache_if_empty(fallback):
    """The session's Numba cache folder (NUMBA_CACHE_DIR) while it holds no compiled kernel,
    else ``fallback``: a test that compiles into an empty cache can fill the session's, which
    the tests after it then load from instead of compiling (CI starts with an empty one)."""
    folder = os.environ.get("NUMBA_CACHE_DIR")
    if folder and not glob.glob(os.path.join(folder, "**", "*.nbc"), recursive=True):
        return folder
    return fallback


settings.register_profile("ci", max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")
"""Property-based tests (test_properties.py): "ci" by default, about a minute;
``--hypothesis-profile=long`` for a longer run by hand."""

DTYPES = [np.float64, np.float32]
RTOL = {np.float64: 1e-12, np.float32: 3e-5}
"""Relative tolerance of one step against the reference, per dtype."""

OUTPUT_LOSS_PAIRS = [(out, loss) for out, loss in itertools.product(reg.OUTPUT_ACTIVATIONS, reg.LOSSES)
                     if reg.LOSS_REQUIRES_OUTPUT[loss] in (None, out)]
"""Every legal (output activation, loss) pair."""


@dataclass(frozen=True)
class PathCase:
    """fit arguments and data that must take one path: ``kind`` (fastnn.paths), and for a
    batch split into parts, ``threaded`` whether the parts run on threads (True) or one after
    another (False). ``hidden`` is a per-layer list for the tests of mixed activations."""
    name: str
    sizes: tuple
    n: int
    fit: dict
    kind: str
    hidden: tuple
    threaded: bool = None
    n_parts: int = 1

    def __str__(self):
        return self.name


SMALL, WIDE, SPLIT = (5, 7, 6, 3), (5, 40, 3), (16, 96, 96, 4)  # 80 rows: 5.3 MFLOP
PATH_CASES = [
    PathCase("per_sample", SMALL, 21, dict(batch_size=1, shuffle=False), paths.PER_SAMPLE,
             ("softplus", "leaky_relu")),
    PathCase("per_sample_shuffled", SMALL, 21, dict(batch_size=1, shuffle=True),
             paths.PER_SAMPLE, ("tanh", "softplus")),
    PathCase("tiny_batches", SMALL, 21, dict(batch_size=5, shuffle=True), paths.PER_SAMPLE,
             ("relu", "sigmoid")),
    PathCase("tiny_full_batch", SMALL, 13, dict(batch_size=None), paths.PER_SAMPLE,
             ("linear", "tanh")),
    PathCase("narrow_full_batch", SMALL, 300, dict(batch_size=None), paths.NARROW,
             ("softplus", "tanh")),
    PathCase("narrow_batches", SMALL, 300, dict(batch_size=130, shuffle=True), paths.NARROW,
             ("sigmoid", "relu")),
    PathCase("batched", WIDE, 120, dict(batch_size=40, shuffle=False), paths.BATCHED,
             ("softplus",)),
    PathCase("batched_shuffled", WIDE, 120, dict(batch_size=40, shuffle=True), paths.BATCHED,
             ("leaky_relu",)),
    PathCase("threads", SPLIT, 170, dict(batch_size=80, shuffle=True), paths.BATCHED,
             ("relu", "softplus"), threaded=True, n_parts=2),
    PathCase("parts_on_one_thread", SPLIT, 170, dict(batch_size=80, shuffle=True),
             paths.BATCHED, ("tanh", "relu"), threaded=False, n_parts=2),
]
"""Every training path, from the fit arguments and data shape that must take it."""

OPTIMIZERS = {
    "sgd": lambda: fastnn.SGD(lr=0.05),
    "momentum": lambda: fastnn.SGD(lr=0.05, momentum=0.9),
    "nesterov_decay": lambda: fastnn.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam": lambda: fastnn.Adam(lr=0.01, weight_decay=0.01),
    "sklearn_sgd": lambda: fastnn.optimizers.SklearnSGD(lr=0.05, momentum=0.9, nesterov=True),
    "sklearn_adam": lambda: fastnn.optimizers.SklearnAdam(lr=0.01),
}
"""Every update rule the kernels have."""


@pytest.fixture
def on_path(monkeypatch):
    """Train as ``case`` says: two usable threads on OpenMP (so batches split as they would
    on a 2-core machine), parts on threads or not as case.threaded says. Returns the case."""
    def use(case):
        monkeypatch.setattr(threads, "usable_threads", lambda: 2)
        monkeypatch.setattr(threads, "threading_layer", lambda: "omp")
        if case.threaded is not None:
            monkeypatch.setattr(threads.ThreadChoice, "best",
                                lambda self, *machine, way=case.threaded: (way, False))
        return case
    return use


class Recorded:
    """A kernel that notes each call in ``calls`` (its name) and runs."""

    def __init__(self, kernel, name, calls):
        self._kernel, self._name, self._calls = kernel, name, calls

    def __call__(self, *arguments):
        self._calls.append(self._name)
        return self._kernel(*arguments)

    def __getattr__(self, name):
        return getattr(self._kernel, name)


@pytest.fixture
def kernel_calls(monkeypatch):
    """The names of the kernels fastnn.MLP and fastnn.MLPStack call, in order:
    "train:<kind>", "threaded", "loss_grad:<kind>", "forward:<kind>", "forward:threaded",
    "stack:<kind>", "stack:lanes"."""
    calls = []
    for table, task in ((model.TRAIN, "train"), (model.LOSS_GRAD, "loss_grad"),
                        (model.FORWARD, "forward"), (stack.TRAIN_MODELS, "stack")):
        for kind, kernel in list(table.items()):
            monkeypatch.setitem(table, kind, Recorded(kernel, f"{task}:{kind}", calls))
    monkeypatch.setattr(model, "THREADED", Recorded(model.THREADED, "threaded", calls))
    monkeypatch.setattr(model, "FORWARD_THREADED",
                        Recorded(model.FORWARD_THREADED, "forward:threaded", calls))
    monkeypatch.setattr(stack, "train_lanes", Recorded(stack.train_lanes, "stack:lanes", calls))
    return calls


def assert_matches(actual, expected, dtype=np.float64, rtol=None):
    """Elementwise agreement to rtol, with entries near zero judged against the largest entry."""
    rtol = RTOL[np.dtype(dtype).type] if rtol is None else rtol
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    scale = max(1.0, float(np.abs(expected).max())) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def model_pair(sizes, hidden="tanh", output="sigmoid", bias=True, dtype="float64", seed=0,
               init="xavier"):
    """(fastnn.MLP, fastnn.reference.MLP) with identical parameters."""
    fast = fastnn.MLP(sizes, hidden=hidden, output=output, bias=bias, init=init, seed=seed, dtype=dtype)
    ref = fastnn.reference.MLP(sizes, hidden=hidden, output=output, bias=bias, init=init, seed=seed,
                               dtype=dtype)
    return fast, ref


def make_data(n, sizes, output, loss, seed=0, dtype=np.float64):
    """Inputs and targets (draw_targets) that suit the loss."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    return X, draw_targets(rng, n, sizes, output, loss, dtype)


def draw_targets(rng, n, sizes, output, loss, dtype=np.float64):
    """Targets that suit the loss: one-hot for cross_entropy, [0, 1] for BCE (and outputs in
    [0, 1] or positive), counts (zeros among them) for poisson."""
    k = sizes[-1]
    if loss == "cross_entropy":
        return np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    if loss == "poisson":
        return rng.poisson(1.5, size=(n, k)).astype(dtype)
    if loss == "binary_cross_entropy" or output in ("sigmoid", "softmax", "exp"):
        return rng.uniform(size=(n, k)).astype(dtype)
    return rng.normal(size=(n, k)).astype(dtype)


def make_weights(n, seed=0):
    """Sample weights in [0.25, 1.25), about one in eight of them 0."""
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.25, 1.25, n)
    weights[rng.uniform(size=n) < 0.125] = 0
    return weights


def output_and_loss(sizes):
    """A softmax output and cross-entropy for several outputs, else sigmoid and BCE."""
    return ("softmax", "cross_entropy") if sizes[-1] > 1 else ("sigmoid", "binary_cross_entropy")


def train_in_torch(torch, net, X, Y, make_optimizer, epochs, batch_size):
    """Train a copy of ``net`` (one tanh hidden layer, linear output, biases) in PyTorch
    float64 as fastnn's fit does with shuffle=False: squared error, mean reduction, rows in
    order. Returns (params as [W0, W1, b0, b1], the torch optimizer)."""
    weights, biases = net.get_params()
    params = [torch.tensor(p, requires_grad=True) for p in weights + biases]
    optimizer = make_optimizer(params)
    bs = batch_size or len(X)
    for _ in range(epochs):
        for start in range(0, len(X), bs):
            a = torch.tensor(X[start:start + bs])
            a = torch.tanh(a @ params[0] + params[2]) @ params[1] + params[3]
            loss = (0.5 * ((a - torch.tensor(Y[start:start + bs])) ** 2).sum(dim=1)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return params, optimizer


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def assert_same_training(fast, ref, X, Y, make_optimizer, dtype=np.float64, rtol=None,
                         **fit_args):
    """Train both models, each with a fresh ``make_optimizer()``: the epoch losses,
    parameters, optimizer state and step counts agree."""
    optimizers = make_optimizer(), make_optimizer()
    losses = [net.fit(X, Y, optimizer=opt, **fit_args).loss
              for net, opt in zip((fast, ref), optimizers)]
    assert_matches(losses[0], losses[1], dtype, rtol)
    assert_matches(fast.params, ref.params, dtype, rtol)
    assert_matches(optimizers[0]._state, optimizers[1]._state, dtype, rtol)
    assert optimizers[0].steps == optimizers[1].steps
