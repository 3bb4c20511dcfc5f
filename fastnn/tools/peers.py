"""Peers for ``python -m fastnn bench --peers``: each workload in PyTorch, JAX and scikit-learn.

Each peer is built from the workload's own definition (network, data, loss, optimizer) and
trains it the way a user of that library writes it. ``Peer.build(workload, data, epochs)``
(``epochs``: the count the benchmark times) returns ``(run, note)``: ``run(epochs)`` trains a
new network for that many epochs and returns the
last epoch's mean per-sample training loss (each batch's loss taken before its update, as
``History.loss``); ``note`` says how the peer trains it and where it cannot match. A peer
that cannot train a workload at all raises ``Unsupported``.

PyTorch and JAX start from the workload's initial weights and draw the same shuffles, so their
final losses agree with fastnn's to rounding. JAX compiles its training program ahead of the
timed runs; the note gives the compile time. scikit-learn's ``MLPClassifier`` draws its own
weights, always has biases, averages gradients over a batch and trains log-loss only;
fastnn.MLPClassifier runs with exactly the same settings (and draws the same weights).
FANN (the C library, through ctypes, when FASTNN_FANN_LIBRARY or the linker finds it) starts
from the workload's weights and trains per sample or full batch in C, one call per run; its
note says where its mathematics differs (see ``build_fann``).
"""
import ctypes
import ctypes.util
import functools
import glob
import importlib.util
import os
import warnings
import weakref
from dataclasses import dataclass

import numpy as np

from .. import reference


class Unsupported(Exception):
    """The peer cannot train this workload; the message says why."""


SKLEARN = "sklearn MLPClassifier"
FASTNN_SKLEARN = "fastnn.MLPClassifier"
"""fastnn's drop-in estimator, trained with the same settings as scikit-learn's."""


@dataclass(frozen=True)
class Peer:
    name: str
    build: callable  # (workload, data, epochs) -> (run, note)


def available():
    """(peers, missing): the peers whose package is installed, and a line for each that is
    not."""
    peers, missing = [], []
    if importlib.util.find_spec("torch") is None:
        missing.append("torch: not installed (pip install torch)")
    else:
        import torch
        threads = sorted({1, torch.get_num_threads()})  # before anyone changes the default
        peers += [Peer(f"torch {n} thread{'s' if n > 1 else ''}",
                       lambda workload, data, epochs, n=n: build_torch(workload, data, n))
                  for n in threads]
    if importlib.util.find_spec("jax") is None:
        missing.append("jax: not installed (pip install jax)")
    else:
        peers.append(Peer("jax jit", build_jax))
    if importlib.util.find_spec("sklearn") is None:
        missing.append("sklearn MLPClassifier: not installed (pip install scikit-learn)")
    else:
        from sklearn.neural_network import MLPClassifier

        from ..estimators import MLPClassifier as FastMLPClassifier
        peers += [Peer(SKLEARN, lambda workload, data, epochs:
                       build_sklearn(workload, data, MLPClassifier)),
                  Peer(FASTNN_SKLEARN, lambda workload, data, epochs:
                       build_sklearn(workload, data, FastMLPClassifier))]
    libraries, why = fann_libraries()
    if libraries:
        peers.append(Peer(FANN, lambda workload, data, epochs:
                          build_fann(workload, data, epochs, libraries)))
    else:
        missing.append(f"{FANN}: {why}")
    return peers, missing


def _loop_note(workload, n_samples):
    if workload.batch_size == 1:
        return "per-sample loop"
    if workload.batch_size is None or workload.batch_size >= n_samples:
        return f"batched loop, full batch {n_samples}"
    return f"batched loop, batch {workload.batch_size}"


# ---------------------------------------------------------------------------- PyTorch
def build_torch(workload, data, threads):
    """The workload as a PyTorch user writes it: nn.Sequential from the workload's initial
    weights, torch.optim.SGD, a per-sample loop (batch size 1) or a batched loop, in the
    workload's dtype, on ``threads`` threads."""
    import torch
    from torch.nn import functional as F

    start = workload.make_network(reference.MLP)
    dtype = {np.float64: torch.float64, np.float32: torch.float32}[start.dtype.type]
    X, Y = data
    X = torch.from_numpy(np.ascontiguousarray(X, start.dtype))
    Y = np.asarray(Y)
    if workload.loss == "cross_entropy" and Y.ndim == 1:
        T = torch.from_numpy(Y.astype(np.int64))  # class labels, as users pass them
    else:
        T = torch.from_numpy(np.ascontiguousarray(Y.reshape(len(Y), -1), start.dtype))
    # Summed over the rows (and outputs) of a batch; the losses that have one take logits.
    loss_fn, logits = {
        "squared_error": (lambda a, t: 0.5 * ((a - t) ** 2).sum(), False),
        "binary_cross_entropy":
            (lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction="sum"), True),
        "cross_entropy": (lambda z, t: F.cross_entropy(z, t, reduction="sum"), True),
    }[workload.loss]
    activation = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU,
                  "leaky_relu": lambda: torch.nn.LeakyReLU(0.01), "linear": torch.nn.Identity,
                  "softplus": torch.nn.Softplus, "softmax": lambda: torch.nn.Softmax(dim=-1)}
    weights, biases = start.get_params()

    def make_model():
        layers = []
        for layer, W in enumerate(weights):
            linear = torch.nn.Linear(*W.shape, bias=biases is not None, dtype=dtype)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(W.T))
                if biases is not None:
                    linear.bias.copy_(torch.from_numpy(biases[layer]))
            layers.append(linear)
            if layer < len(weights) - 1 or not logits:
                layers.append(activation[start.layer_activations[layer]]())
        return torch.nn.Sequential(*layers)

    n = len(X)
    batch_size = min(workload.batch_size or n, n)
    shuffled = workload.shuffle and batch_size < n

    def train(epochs):
        model = make_model()
        optimizer = torch.optim.SGD(model.parameters(), **workload.optimizer)
        rng = np.random.default_rng(workload.fit_seed)  # fastnn's shuffles, in the same order
        for _ in range(epochs):
            order = rng.permutation(n) if shuffled else None
            total = 0.0
            if batch_size == 1:
                for i in (order if shuffled else range(n)):
                    optimizer.zero_grad()
                    loss = loss_fn(model(X[i]), T[i])
                    loss.backward()
                    optimizer.step()
                    total += loss.item()
            else:
                for begin in range(0, n, batch_size):
                    if shuffled:
                        rows = torch.from_numpy(order[begin:begin + batch_size])
                        xb, tb = X[rows], T[rows]
                    else:
                        xb, tb = X[begin:begin + batch_size], T[begin:begin + batch_size]
                    optimizer.zero_grad()
                    loss = loss_fn(model(xb), tb)
                    (loss / len(xb) if workload.reduction == "mean" else loss).backward()
                    optimizer.step()
                    total += loss.item()
        return total / n

    def run(epochs):
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return train(epochs)
        finally:
            torch.set_num_threads(previous)

    return run, _loop_note(workload, n)


# ---------------------------------------------------------------------------- JAX
def build_jax(workload, data, epochs):
    """The workload as a JAX user writes it: one jitted program that scans the epochs and,
    in each, the batches (``jax.lax.scan``; a last shorter batch after them), the loss and its
    gradient by ``jax.value_and_grad``, SGD with momentum as torch.optim.SGD, the workload's
    dtype and initial weights, fastnn's shuffles. The programs for 1 and ``epochs`` epochs are
    compiled ahead of the timed runs."""
    import time

    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)  # float64 workloads; float32 stays float32
    if set(workload.optimizer) - {"lr", "momentum"}:
        raise Unsupported(f"this JAX program has no {sorted(workload.optimizer)}")
    start = workload.make_network(reference.MLP)
    dtype = start.dtype
    X, Y = data
    n = len(X)
    Y = np.asarray(Y)
    if workload.loss == "cross_entropy" and Y.ndim == 1:
        T = np.eye(start.sizes[-1], dtype=dtype)[Y]
    else:
        T = np.ascontiguousarray(Y.reshape(n, -1), dtype)
    X, T = jnp.asarray(np.ascontiguousarray(X, dtype)), jnp.asarray(T)
    weights, biases = start.get_params()
    initial = [jnp.asarray(W) for W in weights], (
        [jnp.asarray(b) for b in biases] if biases is not None else [])
    activation = {"sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh, "relu": jax.nn.relu,
                  "leaky_relu": lambda z: jax.nn.leaky_relu(z, 0.01), "linear": lambda z: z,
                  "softplus": jax.nn.softplus, "softmax": lambda z: jax.nn.softmax(z, axis=-1)}
    names = start.layer_activations
    lr, momentum = workload.optimizer["lr"], workload.optimizer.get("momentum", 0.0)
    batch_size = min(workload.batch_size or n, n)
    shuffled = workload.shuffle and batch_size < n
    full, rest = divmod(n, batch_size)
    mean = workload.reduction == "mean"

    def batch_loss(params, x, t):
        Ws, bs = params
        a = x
        for layer, W in enumerate(Ws):
            z = a @ W + bs[layer] if bs else a @ W
            a = activation[names[layer]](z)
        if workload.loss == "squared_error":
            return 0.5 * jnp.sum((a - t) ** 2)
        if workload.loss == "binary_cross_entropy":
            return jnp.sum(jax.nn.softplus(z) - t * z)
        return jnp.sum(t * (jax.nn.logsumexp(z, axis=-1, keepdims=True) - z))

    def step(carry, rows):
        params, velocity, total = carry
        loss, grads = jax.value_and_grad(batch_loss)(params, X[rows], T[rows])
        scale = 1.0 / rows.shape[0] if mean else 1.0  # the batch's rows: a static shape
        velocity = jax.tree.map(lambda v, g: momentum * v + g * scale, velocity, grads)
        params = jax.tree.map(lambda p, v: p - lr * v, params, velocity)
        return (params, velocity, total + loss), None

    def epoch(carry, order):
        params, velocity = carry
        state = (params, velocity, jnp.zeros((), jnp.float64))
        state, _ = jax.lax.scan(step, state, order[:full * batch_size].reshape(full, batch_size))
        if rest:
            state, _ = step(state, order[full * batch_size:])
        params, velocity, total = state
        return (params, velocity), total / n

    def train(params, orders):
        velocity = jax.tree.map(jnp.zeros_like, params)
        _, losses = jax.lax.scan(epoch, (params, velocity), orders)
        return losses

    def orders_for(count):
        if not shuffled:
            return np.broadcast_to(np.arange(n, dtype=np.int32), (count, n))
        rng = np.random.default_rng(workload.fit_seed)  # fastnn's shuffles, in order
        return np.stack([rng.permutation(n) for _ in range(count)]).astype(np.int32)

    compiled, compile_seconds = {}, 0.0
    for count in sorted({1, epochs}):
        started = time.perf_counter()
        compiled[count] = jax.jit(train).lower(initial, orders_for(count)).compile()
        compile_seconds = time.perf_counter() - started

    def run(count):
        if count not in compiled:
            compiled[count] = jax.jit(train).lower(initial, orders_for(count)).compile()
        losses = compiled[count](initial, orders_for(count))
        return float(losses[-1])

    return run, f"{_loop_note(workload, n)}; jit of one scanned program, compiled in " \
                f"{compile_seconds:.1f} s (excluded)"


# ---------------------------------------------------------------------------- scikit-learn
def build_sklearn(workload, data, classifier_class):
    """The workload as ``classifier_class(solver="sgd")`` (scikit-learn's MLPClassifier or
    fastnn's drop-in one): same layer widths, hidden activation, batch size, epochs, learning
    rate and momentum, no L2 penalty, no early stopping.

    Where it cannot match it says so in the note: its own initial weights, biases always,
    log-loss always (on softmax, or sigmoid outputs for binary and multi-label targets), and
    a gradient averaged over the batch (for a summed-loss workload the learning rate is
    multiplied by the batch size, which gives the same step).
    """
    from sklearn.exceptions import ConvergenceWarning

    start = workload.make_network(reference.MLP)
    hidden = {"sigmoid": "logistic", "tanh": "tanh", "relu": "relu", "linear": "identity"}
    if len(set(start.layer_activations[:-1])) > 1:
        raise Unsupported("MLPClassifier has one activation for every hidden layer")
    if start.layer_activations[0] not in hidden:
        raise Unsupported(f"MLPClassifier has no {start.layer_activations[0]} activation")
    if start.output not in ("sigmoid", "softmax"):
        raise Unsupported(f"MLPClassifier has no {start.output} output")
    if set(workload.optimizer) - {"lr", "momentum", "nesterov"}:
        raise Unsupported(f"MLPClassifier's SGD has no {sorted(workload.optimizer)}")
    X, Y = data
    Y = np.asarray(Y)
    if not np.array_equal(Y, np.round(Y)) or Y.min() < 0:
        raise Unsupported("the targets are not class labels")
    if start.output == "softmax":
        y = Y if Y.ndim == 1 else Y.argmax(axis=1)       # multi-class: softmax output
    else:
        y = Y.astype(np.int64)                           # binary or multi-label: sigmoid outputs
        y = y.ravel() if y.ndim == 2 and y.shape[1] == 1 else y

    n = len(X)
    batch_size = min(workload.batch_size or n, n)
    summed = workload.reduction == "sum" and batch_size > 1
    notes = ["own initial weights"]
    if not start.bias:
        notes.append("adds biases")
    log_loss = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}[start.output]
    if workload.loss != log_loss:
        notes.append(f"log-loss, not {workload.loss}")
    if summed:
        notes.append(f"averages gradients: lr x {batch_size}")
    classifier = classifier_class(
        hidden_layer_sizes=tuple(start.sizes[1:-1]), activation=hidden[start.layer_activations[0]],
        solver="sgd", alpha=0.0, batch_size=batch_size, learning_rate="constant",
        learning_rate_init=workload.optimizer["lr"] * (batch_size if summed else 1),
        momentum=workload.optimizer.get("momentum", 0.0),
        nesterovs_momentum=workload.optimizer.get("nesterov", False), shuffle=workload.shuffle,
        random_state=0, tol=0.0, early_stopping=False)

    def run(epochs):
        classifier.set_params(max_iter=epochs, n_iter_no_change=epochs + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            classifier.fit(X, y)
        return classifier.loss_curve_[-1]

    return run, f"{_loop_note(workload, n)}; {', '.join(notes)}"


# ---------------------------------------------------------------------------- FANN
FANN = "FANN"
FANN_LIBRARY = "FASTNN_FANN_LIBRARY"
"""Environment variable: the path of libdoublefann / libfloatfann, or a folder holding them."""
_FANN_NAMES = {"float64": "doublefann", "float32": "floatfann"}
_FANN_HOW = ("build FANN 2.2 (github.com/libfann/fann) and set FASTNN_FANN_LIBRARY to "
             "libdoublefann.so or its folder (README, Speed)")
# FANN's enums (fann_data.h)
_FANN_LINEAR, _FANN_SIGMOID, _FANN_SIGMOID_SYMMETRIC = 0, 3, 5
_FANN_TRAIN_INCREMENTAL, _FANN_TRAIN_BATCH = 0, 1
_FANN_ERRORFUNC_LINEAR = 0
_FANN_ACTIVATIONS = {  # fastnn's name -> FANN's function and the steepness s that makes it so
    "sigmoid": (_FANN_SIGMOID, 0.5),            # 1 / (1 + exp(-2 s x))
    "tanh": (_FANN_SIGMOID_SYMMETRIC, 1.0),     # 2 / (1 + exp(-2 s x)) - 1 = tanh(s x)
    "linear": (_FANN_LINEAR, 1.0),              # s x
}


def fann_libraries():
    """({dtype name: path of the FANN library of that precision}, why none was found): from
    FASTNN_FANN_LIBRARY (a library whose file name says doublefann or floatfann, or a folder
    holding them), else wherever the linker finds libdoublefann and libfloatfann."""
    setting = os.environ.get(FANN_LIBRARY)
    if setting:
        if os.path.isdir(setting):
            found = {}
            for dtype, name in _FANN_NAMES.items():
                paths = sorted(glob.glob(os.path.join(setting, f"lib{name}.*")))
                if paths:
                    found[dtype] = paths[0]
            return found, ("" if found else f"{FANN_LIBRARY}={setting}: no libdoublefann or "
                           f"libfloatfann there; {_FANN_HOW}")
        if not os.path.isfile(setting):
            return {}, f"{FANN_LIBRARY}={setting}: no such file or folder; {_FANN_HOW}"
        for dtype, name in _FANN_NAMES.items():
            if name in os.path.basename(setting):
                return {dtype: setting}, ""
        return {}, (f"{FANN_LIBRARY}={setting}: the file name says neither doublefann nor "
                    "floatfann, so its precision is unknown")
    found = {dtype: path for dtype, name in _FANN_NAMES.items()
             if (path := ctypes.util.find_library(name))}
    return found, "" if found else f"{FANN_LIBRARY} unset, libdoublefann not found; {_FANN_HOW}"


class _TrainData(ctypes.Structure):
    """struct fann_train_data's head (fann_train.h); ``input``/``output`` are cast to the
    library's fann_type."""
    _fields_ = [("errno_f", ctypes.c_int), ("error_log", ctypes.c_void_p),
                ("errstr", ctypes.c_char_p), ("num_data", ctypes.c_uint),
                ("num_input", ctypes.c_uint), ("num_output", ctypes.c_uint),
                ("input", ctypes.POINTER(ctypes.c_void_p)),
                ("output", ctypes.POINTER(ctypes.c_void_p))]


@functools.cache
def _fann_library(path, dtype):
    """The library at ``path`` with the prototypes of the functions used here; ``dtype``
    (float64 or float32) is its fann_type."""
    lib = ctypes.CDLL(path)
    real = ctypes.c_double if dtype == "float64" else ctypes.c_float
    ann, uint, c_int, flt = ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_float
    prototypes = {
        "fann_create_standard_array": (ann, [uint, ctypes.POINTER(uint)]),
        "fann_copy": (ann, [ann]),
        "fann_destroy": (None, [ann]),
        "fann_get_errno": (c_int, [ann]),
        "fann_get_total_connections": (uint, [ann]),
        "fann_get_connection_array": (None, [ann, ctypes.c_void_p]),
        "fann_set_weight_array": (None, [ann, ctypes.c_void_p, uint]),
        "fann_set_activation_function_layer": (None, [ann, c_int, c_int]),
        "fann_set_activation_steepness_layer": (None, [ann, real, c_int]),
        "fann_set_training_algorithm": (None, [ann, c_int]),
        "fann_set_train_error_function": (None, [ann, c_int]),
        "fann_set_learning_rate": (None, [ann, flt]),
        "fann_set_learning_momentum": (None, [ann, flt]),
        "fann_run": (ctypes.POINTER(real), [ann, ctypes.c_void_p]),
        "fann_train_on_data": (None, [ann, ctypes.POINTER(_TrainData), uint, uint, flt]),
        "fann_get_MSE": (flt, [ann]),
        "fann_create_train": (ctypes.POINTER(_TrainData), [uint, uint, uint]),
        "fann_destroy_train": (None, [ctypes.POINTER(_TrainData)]),
    }
    for name, (restype, argtypes) in prototypes.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
    return lib


class FannTraining:
    """``run(epochs)`` of the FANN peer: a copy of a FANN network holding the workload's
    initial weights trains on data stored once in a fann_train_data, all epochs in one
    ``fann_train_on_data`` call (no report, no stopping: desired error -1)."""

    def __init__(self, lib, dtype, sizes, activations, X, T, algorithm, lr, momentum, loss):
        self.lib, self.dtype, self.sizes, self.activations = lib, np.dtype(dtype), sizes, activations
        self.algorithm, self.lr, self.momentum, self.loss = algorithm, lr, momentum, loss
        self.X, self.T = np.ascontiguousarray(X, self.dtype), np.ascontiguousarray(T, self.dtype)
        layers = (ctypes.c_uint * len(sizes))(*sizes)
        self.template = lib.fann_create_standard_array(len(sizes), layers)
        if not self.template:
            raise RuntimeError("fann_create_standard_array failed")
        weakref.finalize(self, lib.fann_destroy, self.template)
        self.data = lib.fann_create_train(*map(int, (len(X), sizes[0], sizes[-1])))
        weakref.finalize(self, lib.fann_destroy_train, self.data)
        ctypes.memmove(self.data.contents.input[0], self.X.ctypes.data, self.X.nbytes)
        ctypes.memmove(self.data.contents.output[0], self.T.ctypes.data, self.T.nbytes)
        self.connection = np.dtype([("from_neuron", np.uint32), ("to_neuron", np.uint32),
                                    ("weight", self.dtype)], align=True)

    def _connections(self, ann):
        connections = np.zeros(self.lib.fann_get_total_connections(ann), self.connection)
        self.lib.fann_get_connection_array(ann, connections.ctypes.data)
        return connections

    def set_weights(self, layers):
        """Each layer's (outputs, inputs + 1) weights, the bias column last: FANN's order (per
        neuron of a layer, its connections from the previous layer's neurons, then from its
        bias neuron)."""
        connections = self._connections(self.template)
        connections["weight"] = np.concatenate([W.ravel() for W in layers])
        self.lib.fann_set_weight_array(self.template, connections.ctypes.data, len(connections))

    def weights(self, ann):
        """The network's weights, each layer (outputs, inputs + 1) as ``set_weights`` takes."""
        flat, layers, begin = self._connections(ann)["weight"].astype(np.float64), [], 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            layers.append(flat[begin:begin + n_out * (n_in + 1)].reshape(n_out, n_in + 1))
            begin += n_out * (n_in + 1)
        return layers

    def _configure(self, ann):
        lib = self.lib
        for layer, name in enumerate(self.activations, start=1):
            function, steepness = _FANN_ACTIVATIONS[name]
            lib.fann_set_activation_function_layer(ann, function, layer)
            lib.fann_set_activation_steepness_layer(ann, steepness, layer)
        lib.fann_set_training_algorithm(ann, self.algorithm)
        lib.fann_set_train_error_function(ann, _FANN_ERRORFUNC_LINEAR)
        lib.fann_set_learning_rate(ann, self.lr)
        lib.fann_set_learning_momentum(ann, self.momentum)

    def initial_outputs(self, X):
        """fann_run of the untrained network on each row of ``X``."""
        ann = self.lib.fann_copy(self.template)
        try:
            self._configure(ann)
            rows = np.ascontiguousarray(X, self.dtype)
            return np.array([self.lib.fann_run(ann, row.ctypes.data)[:self.sizes[-1]]
                             for row in rows])
        finally:
            self.lib.fann_destroy(ann)

    def logits(self, ann):
        """The output layer's sums of the network ``ann`` on the data, in NumPy from its
        weights (the hidden layers as FANN computes them)."""
        a = self.X.astype(np.float64)
        layers = self.weights(ann)
        for W, name in zip(layers[:-1], self.activations):
            z = a @ W[:, :-1].T + W[:, -1]
            a = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh,
                 "linear": lambda z: z}[name](z)
        return a @ layers[-1][:, :-1].T + layers[-1][:, -1]

    def __call__(self, epochs):
        lib = self.lib
        ann = lib.fann_copy(self.template)  # FANN 2.2's copy keeps weights, not the settings
        if not ann:
            raise RuntimeError("fann_copy failed")
        try:
            self._configure(ann)
            lib.fann_train_on_data(ann, self.data, epochs, 0, -1.0)
            if lib.fann_get_errno(ann):
                raise RuntimeError(f"FANN error {lib.fann_get_errno(ann)}")
            if self.loss == "squared_error":  # MSE: mean over samples and outputs of (t - y)^2
                return float(lib.fann_get_MSE(ann)) * self.sizes[-1] / 2
            z = self.logits(ann)
            if self.loss == "binary_cross_entropy":
                return float(np.mean(np.sum(np.logaddexp(0, z) - self.T * z, axis=1)))
            shifted = z - z.max(axis=1, keepdims=True)  # cross_entropy of softmax(z)
            log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            return float(-np.mean(np.sum(self.T * log_p, axis=1)))
        finally:
            lib.fann_destroy(ann)


def build_fann(workload, data, epochs, libraries):
    """The workload in FANN (``libraries``: fann_libraries()'s), as a FANN user trains it:
    ``fann_create_standard_array``, the workload's initial weights, FANN_TRAIN_INCREMENTAL
    (per sample, fixed order, momentum) or FANN_TRAIN_BATCH (full batch, no momentum), the
    linear error function (the squared error; FANN's default, tanh, is another loss).

    Where FANN's mathematics differs, the note says so:
    - FANN's layers always have a bias neuron: for a workload without biases its weights
      start at 0 and train.
    - The derivative's argument is clipped: a sigmoid's output to [0.01, 0.99], a tanh's to
      [-0.98, 0.98], so saturated units still learn.
    - The learning rate and momentum are float32 in FANN, also in doublefann.
    - FANN has no cross-entropy and no softmax: binary cross-entropy on sigmoid outputs, and
      cross-entropy on softmax, train the nearest FANN form, squared error on sigmoid
      outputs (one-hot targets for class labels); the loss returned is then the workload's,
      of FANN's trained network after the last epoch (binary cross-entropy of its sigmoid
      outputs; cross-entropy of the softmax of its output sums), not during it as fastnn's.
    - Squared error: the loss returned is FANN's mean squared error of the last epoch (each
      sample before its update, as fastnn's), accumulated in float32, times outputs / 2.
    - FANN_TRAIN_BATCH steps ``lr / n`` times the summed gradient: for a summed-loss
      workload the learning rate is multiplied by n, which gives the same step.
    """
    start = workload.make_network(reference.MLP)
    dtype = start.dtype.name
    if dtype not in libraries:
        raise Unsupported(f"no lib{_FANN_NAMES[dtype]} for this {dtype} workload")
    names = list(start.layer_activations)
    for name in names[:-1]:
        if name not in _FANN_ACTIVATIONS:
            raise Unsupported(f"FANN 2.2 has no {name} activation")
    notes = []
    nearest = {("sigmoid", "binary_cross_entropy"): "sigmoid",
               ("softmax", "cross_entropy"): "softmax"}.get((start.output, workload.loss))
    if nearest:
        names[-1] = "sigmoid"
        notes.append(f"FANN has no {'softmax, no ' if nearest == 'softmax' else ''}"
                     f"{workload.loss.replace('_', '-')}: trains sigmoid outputs on squared "
                     "error; loss: the workload's of its trained net")
    elif workload.loss != "squared_error" or start.output not in ("sigmoid", "linear"):
        raise Unsupported(f"FANN trains squared error on sigmoid or linear outputs, not "
                          f"{workload.loss} on {start.output}")
    if set(workload.optimizer) - {"lr", "momentum"}:
        raise Unsupported(f"FANN's backpropagation has no {sorted(workload.optimizer)}")
    X, Y = data
    n = len(X)
    Y = np.asarray(Y)
    if workload.loss == "cross_entropy" and Y.ndim == 1:
        T = np.eye(start.sizes[-1])[Y]
    else:
        T = Y.reshape(n, -1)
    lr, momentum = workload.optimizer["lr"], workload.optimizer.get("momentum", 0.0)
    batch_size = min(workload.batch_size or n, n)
    if batch_size == 1:
        algorithm, how = _FANN_TRAIN_INCREMENTAL, "per sample (FANN_TRAIN_INCREMENTAL)"
    elif batch_size == n:
        if momentum:
            raise Unsupported("FANN's full-batch training has no momentum")
        algorithm, how = _FANN_TRAIN_BATCH, f"full batch {n} (FANN_TRAIN_BATCH)"
        if workload.reduction == "sum":
            lr *= n
            notes.append(f"lr x {n} (FANN averages)")
    else:
        raise Unsupported("FANN trains per sample or full batch, not mini-batches")
    if workload.shuffle and batch_size < n:
        raise Unsupported("the workload shuffles; FANN's epochs here take the fixed order")
    if not start.bias:
        notes.append("trains bias weights (from 0)")
    notes.append("derivative clipped near saturation, float32 lr")

    run = FannTraining(_fann_library(libraries[dtype], dtype), dtype, start.sizes, names, X, T,
                       algorithm, lr, momentum, workload.loss)
    weights, biases = start.get_params()
    run.set_weights([np.column_stack([W.T, biases[layer] if biases is not None
                                      else np.zeros(W.shape[1])])
                     for layer, W in enumerate(weights)])
    return run, f"{how}; {', '.join(notes)}"
