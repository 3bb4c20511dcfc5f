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
"""
import importlib.util
import warnings
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
