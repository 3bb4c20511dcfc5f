"""fastnn.MLPStack: K networks of one architecture, trained together.

Every model trains exactly as ``fastnn.MLP.fit`` trains it alone on the same data, weights,
row order and optimizer settings (the same path, fastnn.paths; the same arithmetic), so
model k's result can be reproduced by a single fastnn.MLP. Training them together runs
the models side by side, each chunk of epochs in one compiled call per group of models:
on the per-sample path a group is many models in SIMD lanes, model-minor
(fastnn.kernels.stacked), elsewhere one model; the groups spread over the cores.

The threads are Python's (a small pool), each running compiled kernels, which release the
GIL: models are independent, so nothing synchronises inside a call, and no parallel
(numba.prange) kernel is needed, whose compilation relinks and optimises again everything
it calls.

The stack holds its parameters as one (K, n_params) array; each model is a fastnn.MLP whose
flat parameter buffer is row k of it (``stack[k]`` hands out an independent copy).
"""
import copy
import numbers
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from . import _registry as reg
from . import paths, persistence
from ._validation import (check_bool, check_choice, check_dense_inputs, check_int,
                          check_sample_weight, check_sizes)
from .kernels.stacked import LANES_MAX, TABLE_ROWS, TILE, TILE_PARAMS, WIDE_ROWS, train_lanes
from .model import MLP, TRAIN, batch_weights, kernel_for, writable
from .network import CHUNK_SECONDS, MAX_SHUFFLED_CHUNK_ROWS, History, _Exclusive
from .optimizers import SGD, Optimizer
from .progress import reporter
from .threads import one_blas_thread, usable_cores, usable_threads

TRAIN_MODELS = dict(TRAIN)
"""The kernel that trains one model of a stack on each path: the path's own (fastnn.MLP's),
so a stack compiles nothing of its own but the model-minor kernel
(fastnn.kernels.stacked.train_lanes)."""
MAX_SEED = 2 ** 32 - 1
LANES_PER_GROUP = 8
"""On the per-sample path, a stack trains model-minor (fastnn.kernels.stacked.train_lanes,
the models in SIMD lanes, one group of lanes per thread) when every thread gets at least
this many models: from 8 lanes (8 float64 numbers fill an AVX-512 register) a group's
step costs less per model than a model's own per-sample step, below it more. Smaller
stacks train each model on its own per-sample kernel, the models over the threads."""


_POOL = None
_POOL_LOCK = threading.Lock()


def run_on_threads(count, work, threads):
    """work(i) for i < count on ``threads`` threads of a pool kept for the process (each
    thread takes the next i when it is done: a thread that lost its core takes fewer).
    Waits for every call to finish before returning or raising (also on KeyboardInterrupt:
    the calls write into the stack's arrays)."""
    global _POOL
    if threads <= 1 or count <= 1:
        for i in range(count):
            work(i)
        return
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=max(2, usable_cores()),
                                       thread_name_prefix="fastnn-stack")
    items = iter(range(count))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = next(items, None)
            if i is None:
                return
            work(i)

    futures = [_POOL.submit(worker) for _ in range(min(threads, count))]
    try:
        for future in futures:
            future.result()
    finally:
        wait(futures)


def lane_groups(n_models, threads):
    """The groups of lanes (one per thread) a stack of ``n_models`` trains in on the
    per-sample path with ``threads`` threads, or 0 when it trains model by model: each group
    at least LANES_PER_GROUP lanes and at most LANES_MAX."""
    if n_models < LANES_PER_GROUP * threads:
        return 0
    return max(threads, -(-n_models // LANES_MAX))


class StackHistory(History):
    """What ``MLPStack.fit`` returns: ``loss`` is a NumPy array of shape (epochs, K), row e
    the epoch's loss of every model (as History.loss of each model alone: column k is
    model k's); ``seconds`` the wall time of the call."""

    def __init__(self, n_models):
        super().__init__()
        self.loss = np.empty((0, n_models))

    def __repr__(self):
        last = (f", final loss {self.loss[-1].min():.6g} to {self.loss[-1].max():.6g}"
                if len(self.loss) else "")
        return f"StackHistory({len(self.loss)} epochs of {self.loss.shape[1]} models in " \
               f"{self.seconds:.3f} s{last})"


def _check_seeds(name, seed, n_models, maximum=MAX_SEED):
    """One seed per model from ``seed``: an int s gives s, s + 1, ..., s + K - 1; a sequence
    gives its K entries; None gives K seeds drawn from fresh entropy
    (np.random.SeedSequence). Returns a list of K ints."""
    if seed is None:
        return [int(s) for s in np.random.SeedSequence().generate_state(n_models)]
    if isinstance(seed, numbers.Integral) and not isinstance(seed, (bool, np.bool_)):
        first = check_int(name, seed, 0, maximum=maximum - (n_models - 1))
        return [first + k for k in range(n_models)]
    if isinstance(seed, (str, bytes)) or not hasattr(seed, "__len__"):
        raise TypeError(f"{name} must be None, an int or a sequence of {n_models} ints (one "
                        f"per model), got {seed!r}")
    if len(seed) != n_models:
        raise ValueError(f"{name} must hold {n_models} seeds (one per model), got {len(seed)}")
    return [check_int(f"{name}[{k}]", s, 0, maximum=maximum) for k, s in enumerate(seed)]


class MLPStack:
    """K multilayer perceptrons of one architecture, trained together.

    MLPStack(sizes, n_models, hidden="tanh", output="sigmoid", bias=True, init="xavier",
             seed=None, dtype="float64"): model k starts from exactly the weights of
    ``fastnn.MLP(sizes, ..., seed=seeds[k])``, where ``seed`` an int s gives seeds s, s + 1,
    ..., a sequence gives one seed per model, and None draws K seeds from fresh entropy
    (``stack.seeds`` keeps them). See the README's "Many networks, and more than one
    machine".
    """

    def __init__(self, sizes, n_models, hidden="tanh", output="sigmoid", bias=True,
                 init="xavier", seed=None, dtype="float64"):
        check_sizes(sizes)
        n_models = check_int("n_models", n_models, 1)
        seeds = _check_seeds("seed", seed, n_models)
        models = [MLP(sizes, hidden=hidden, output=output, bias=bias, init=init, seed=s,
                      dtype=dtype) for s in seeds]
        self._adopt(models)
        self._seeds = tuple(seeds)

    @classmethod
    def from_models(cls, models):
        """A stack of copies of ``models`` (fastnn.MLP instances of one architecture and
        dtype), in that order."""
        if isinstance(models, MLP) or not hasattr(models, "__len__"):
            raise TypeError(f"models must be a list of fastnn.MLP, got {type(models).__name__}")
        if len(models) == 0:
            raise ValueError("models is empty: a stack needs at least one model")
        first = models[0]
        for k, model in enumerate(models):
            if not isinstance(model, MLP):
                raise TypeError(f"models[{k}] must be a fastnn.MLP, got "
                                f"{type(model).__name__}")
            for what in ("sizes", "layer_activations", "bias", "dtype"):
                if getattr(model, what) != getattr(first, what):
                    raise ValueError(f"models[{k}] has {what} {getattr(model, what)!r}, "
                                     f"models[0] has {getattr(first, what)!r}: a stack's "
                                     "models share one architecture and dtype")
        stack = cls.__new__(cls)
        stack._adopt([copy.deepcopy(model) for model in models])
        stack._seeds = None
        return stack

    def _adopt(self, models):
        """Take ``models`` (MLPs of one architecture) as the stack's: their parameters move
        into one (K, n_params) buffer, each model's buffer becoming its row."""
        self._models = models
        self._params = np.stack([model.params for model in models])
        for k, model in enumerate(models):
            model._params = self._params[k]
        self._training_lock = threading.Lock()

    def __getstate__(self):
        template = copy.deepcopy(self._models[0])
        return {"template": template, "params": self._params, "seeds": self._seeds}

    def __setstate__(self, state):
        template, params = state["template"], np.array(state["params"])
        models = [copy.deepcopy(template) for _ in range(len(params))]
        for model, row in zip(models, params):
            model._params = row
        self._adopt(models)
        self._seeds = state["seeds"]

    # ----------------------------------------------------------------- description
    _template = property(lambda self: self._models[0], doc="Model 0 itself: the architecture.")
    sizes = property(lambda self: self._models[0].sizes, doc="Layer widths, input first.")
    hidden = property(lambda self: self._models[0].hidden, doc="The hidden activations as given.")
    layer_activations = property(lambda self: self._models[0].layer_activations,
                                 doc="The activation of each layer, the output layer's last.")
    output = property(lambda self: self._models[0].output, doc="Output activation name.")
    bias = property(lambda self: self._models[0].bias, doc="Whether the layers have biases.")
    dtype = property(lambda self: self._models[0].dtype, doc="np.float32 or np.float64.")
    n_params = property(lambda self: self._params.shape[1],
                        doc="Number of parameters of each model.")
    n_models = property(lambda self: len(self._models), doc="K, the number of models.")
    seeds = property(lambda self: self._seeds,
                     doc="The initialisation seed of each model (None for from_models).")
    params = property(lambda self: self._params,
                      doc="The (K, n_params) parameter array itself: row k is model k's flat "
                          "parameters (W_0, b_0, W_1, ...). Writing into it changes the models.")

    def __len__(self):
        return len(self._models)

    def __getitem__(self, index):
        """An independent fastnn.MLP copy of model ``index`` (negative indices count from
        the end)."""
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, numbers.Integral):
            raise TypeError(f"stack indices must be integers, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"model index {index} out of range for a stack of {len(self)}")
        return copy.deepcopy(self._models[index])

    def __repr__(self):
        first = self._models[0]
        return (f"fastnn.MLPStack({list(first.sizes)}, {len(self)}, hidden={first.hidden!r}, "
                f"output={first.output!r}, bias={first.bias}, dtype={first.dtype.name!r})")

    def get_params(self):
        """(weights, biases), copies stacked along a leading model axis: weights[l].shape ==
        (K, sizes[l], sizes[l+1]), biases[l].shape == (K, sizes[l+1]); biases None without
        bias."""
        return _split_stacked(self, self._params)

    def _optimizer_shapes(self, n_state):
        """A shared optimizer keeps (K, n_state, n_params) state and K step counts."""
        return (len(self), n_state, self.n_params), (len(self),)

    def _exclusive(self):
        return _Exclusive(self._training_lock)

    # ----------------------------------------------------------------- inference
    def forward(self, X):
        """Output activations of every model, shape (K, n_samples, sizes[-1]); warns as
        fastnn.MLP.forward when finite inputs give non-finite outputs."""
        out = self._forward(check_dense_inputs("X", X, self.sizes[0], self.dtype, "fastnn.MLPStack"))
        if not np.isfinite(out).all():
            bad = [k for k in range(len(self)) if not np.isfinite(out[k]).all()]
            warnings.warn(f"finite inputs gave non-finite outputs in model(s) "
                          f"{', '.join(map(str, bad))}: the network's values overflow "
                          f"{self.dtype.name}", RuntimeWarning, stacklevel=2)
        return out

    def _forward(self, X):
        return np.stack([model.forward_unchecked(X) for model in self._models])

    def predict(self, X):
        """fastnn.MLP.predict of every model: (K, n_samples) classes (argmax, or 0/1 for one
        sigmoid output), else the raw outputs (K, n_samples, sizes[-1])."""
        out = self.forward(X)
        if self.output == "softmax" or self.sizes[-1] > 1:
            return out.argmax(axis=2)
        if self.output == "sigmoid":
            return (out[:, :, 0] > 0.5).astype(np.int64)
        return out

    # ----------------------------------------------------------------- loss and gradient
    def loss_and_grad(self, X, Y, loss="squared_error", reduction="mean", l2=0.0,
                      sample_weight=None):
        """(losses, grad_weights, grad_biases): fastnn.MLP.loss_and_grad of every model;
        losses has shape (K,), grad_weights[l] (K, sizes[l], sizes[l+1]), grad_biases[l]
        (K, sizes[l+1]) (None without bias). sample_weight: None, (n,) for every model or
        (K, n), row k model k's. FloatingPointError naming the model if one overflows."""
        template = self._models[0]
        loss = template._check_loss(loss)
        reduction = check_choice("reduction", reduction, reg.REDUCTIONS)
        l2 = template._check_l2(l2)
        X = check_dense_inputs("X", X, self.sizes[0], self.dtype, "fastnn.MLPStack")
        T = template._targets(Y, loss, X.shape[0])
        weights = check_sample_weight(sample_weight, X.shape[0], len(self))
        losses = np.empty(len(self))
        grads = np.empty_like(self._params)
        for k, model in enumerate(self._models):
            losses[k], _, grads[k] = model.loss_and_grad_unchecked(X, T, loss, reduction, l2,
                                                                   weights[k])
            if not (np.isfinite(losses[k]) and np.isfinite(grads[k]).all()):
                what = "loss" if np.isfinite(grads[k]).all() else "gradient"
                raise FloatingPointError(f"loss_and_grad: the {what} of model {k} overflowed "
                                         "(from finite inputs and parameters)")
        return (losses,) + _split_stacked(self, grads)

    # ----------------------------------------------------------------- training
    def fit(self, X, Y, loss="squared_error", optimizer=None, epochs=1, batch_size=32,
            shuffle=True, reduction="mean", l2=0.0, seed=None, verbose=False, callback=None,
            sample_weight=None):
        """Train every model as fastnn.MLP.fit trains it alone; returns a StackHistory
        (loss of shape (epochs, K)).

        optimizer: one fastnn optimizer for every model (its hyperparameters shared, its state
        one per model: it serves this stack only), or a list of K optimizers of one class,
        model k trained with the k-th (each keeps that model's state); default a new
        SGD(lr=0.01). sample_weight: (n,) for every model, or (K, n), row k model k's (a
        0/1 mask trains K cross-validation folds or bootstraps on one X). seed: the shuffles;
        an int s gives model k the order fastnn.MLP.fit(..., seed=s + k) draws, a sequence
        of K seeds one each, None fresh entropy per model. callback(epoch, losses) with
        losses of shape (K,) after every epoch; returning False stops. verbose: one line per
        epoch or one progress bar for the stack (the mean loss over the models, the
        models' samples/s together). The other arguments as fastnn.MLP.fit. If the loss of
        any model stops being finite, every model's parameters and optimizer state are
        restored to what they were before the call and FloatingPointError names the
        model(s).
        """
        template = self._models[0]
        K = len(self)
        loss = template._check_loss(loss)
        optimizers = self._check_optimizer(optimizer)
        epochs = check_int("epochs", epochs, 0)
        batch_size = check_int("batch_size", batch_size, 1, allow_none=True)
        shuffle = check_bool("shuffle", shuffle)
        reduction = check_choice("reduction", reduction, reg.REDUCTIONS)
        l2 = template._check_l2(l2)
        fit_seeds = [None] * K if seed is None else _check_seeds("seed", seed, K,
                                                                 maximum=np.iinfo(np.int64).max)
        verbose = check_bool("verbose", verbose)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable or None, got {callback!r}")
        X = check_dense_inputs("X", X, self.sizes[0], self.dtype, "fastnn.MLPStack")
        T = template._targets(Y, loss, X.shape[0])
        weights = check_sample_weight(sample_weight, X.shape[0], len(self))
        opt = self._opt_bundle(optimizers)  # checks the hyperparameters, then binds

        n = X.shape[0]
        batch_size = n if batch_size is None else min(batch_size, n)
        with self._exclusive():
            return self._fit_checked(X, T, weights, loss, optimizers, opt, epochs, batch_size,
                                     shuffle and batch_size < n, reduction, l2, fit_seeds,
                                     verbose, callback)

    def _check_optimizer(self, optimizer):
        """One optimizer, or a list of K of one class (distinct objects)."""
        K = len(self)
        if optimizer is None:
            return SGD(lr=0.01)
        if isinstance(optimizer, Optimizer):
            optimizer._check()
            return optimizer
        if not isinstance(optimizer, (list, tuple)):
            raise TypeError(f"optimizer must be a fastnn optimizer such as fastnn.SGD, or a "
                            f"list of {K} of one class, got {optimizer!r}")
        if len(optimizer) != K:
            raise ValueError(f"optimizer: a list must hold {K} optimizers (one per model), got "
                             f"{len(optimizer)}")
        for k, opt in enumerate(optimizer):
            if not isinstance(opt, Optimizer):
                raise TypeError(f"optimizer[{k}] must be a fastnn optimizer, got {opt!r}")
            if type(opt) is not type(optimizer[0]):
                raise TypeError(f"optimizer[{k}] is a {type(opt).__name__}, optimizer[0] a "
                                f"{type(optimizer[0]).__name__}: the list must hold one class")
            opt._check()
        if len({id(opt) for opt in optimizer}) != K:
            raise ValueError("optimizer: the list holds one optimizer object more than once; "
                             "each model needs its own")
        return list(optimizer)

    def _opt_bundle(self, optimizers):
        """(code, state (K, n_state, n_params), hyper (K, n_hyper), steps (K,)) for the
        kernels; for a list of optimizers gathered from theirs (written back by
        _scatter_state). Every hyperparameter and binding is checked before any optimizer
        is bound."""
        dtype = self.dtype
        if isinstance(optimizers, Optimizer):
            hyper = optimizers._hyper(dtype)
            code, state, _, steps = optimizers._bundle(self)
            return code, state, np.ascontiguousarray(np.tile(hyper, (len(self), 1))), steps
        hypers = [opt._hyper(dtype, f"optimizer[{k}]") for k, opt in enumerate(optimizers)]
        for k, (opt, model) in enumerate(zip(optimizers, self._models)):
            owner = opt._model() if opt._model is not None else None
            if owner is not None and owner is not model:
                raise ValueError(f"optimizer[{k}]: this {type(opt).__name__} already holds the "
                                 "state of another model; use one optimizer per model")
        bound = [opt._bind(model) for opt, model in zip(optimizers, self._models)]
        state = np.stack([s for s, _ in bound])
        steps = np.array([step[0] for _, step in bound], np.int64)
        return optimizers[0].code, state, np.stack(hypers), steps

    @staticmethod
    def _scatter_state(optimizers, opt):
        """Write the kernels' state and step counts back into a list of optimizers."""
        if isinstance(optimizers, Optimizer):
            return
        _, state, _, steps = opt
        for k, optimizer in enumerate(optimizers):
            optimizer._state[...] = state[k]
            optimizer._step[0] = steps[k]

    def _fit_checked(self, X, T, weights, loss, optimizers, opt, epochs, batch_size, shuffled,
                     reduction, l2, fit_seeds, verbose, callback):
        """fit's training loop, on checked arguments (as fastnn.Network._fit_checked)."""
        K, n = len(self), X.shape[0]
        rngs = [np.random.default_rng(s) for s in fit_seeds]
        _, state, _, steps = opt
        saved = (self._params.copy(), state.copy(), steps.copy())
        trainer = _Trainer(self, X, T, weights, batch_size, loss, opt,
                           reg.REDUCTION_CODES[reduction], l2, shuffled)
        history = StackHistory(K)
        rows = []
        started = time.perf_counter()
        try:
            with reporter(epochs, n * K, verbose) as progress:
                chunk, done = 1, 0
                while done < epochs:
                    count = min(chunk, epochs - done)
                    if shuffled:
                        orders = np.stack([np.stack([rng.permutation(n) for _ in range(count)])
                                           for rng in rngs])
                    else:
                        orders = np.empty((K, count, 0), np.int64)
                    chunk_started = time.perf_counter()
                    try:
                        losses, ran = trainer.run(orders)
                    except BaseException:  # Ctrl-C: every call finished; a list of
                        self._scatter_state(optimizers, opt)  # optimizers gets its state
                        raise
                    seconds = time.perf_counter() - chunk_started
                    # a model whose last epoch's loss, or whose parameters, are not finite
                    # (a group of lanes stops all its lanes after such an epoch)
                    diverged = [k for k in range(K)
                                if not np.isfinite(losses[k, max(ran[k], 1) - 1])
                                or not np.isfinite(self._params[k]).all()]
                    if diverged or (ran < count).any():
                        diverged = diverged or [k for k in range(K) if ran[k] < count]
                        self._params[...], state[...], steps[...] = saved
                        self._scatter_state(optimizers, opt)
                        where = ", ".join(f"model {k} in epoch {done + min(ran[k], count) - 1}"
                                          for k in diverged)
                        raise FloatingPointError(
                            f"training diverged ({where}): the loss or the parameters stopped "
                            "being finite; every model's parameters and optimizer state are "
                            "restored to what they were before fit (try a smaller lr)")
                    self._scatter_state(optimizers, opt)
                    progress.update(done, losses.mean(axis=0), seconds)
                    for i in range(count):
                        rows.append(losses[:, i].copy())
                        if callback is not None and callback(done + i, losses[:, i].copy()) \
                                is False:
                            return history
                    done += count
                    if callback is None:
                        chunk = max(1, int(count * CHUNK_SECONDS / max(seconds, 1e-9)))
                        if shuffled:
                            chunk = max(1, min(chunk, MAX_SHUFFLED_CHUNK_ROWS // (n * K)))
            return history
        finally:
            history.loss = np.array(rows).reshape(len(rows), K)
            history.seconds = time.perf_counter() - started

    # ----------------------------------------------------------------- persistence
    def save(self, path):
        """Write the stack to exactly ``path`` (an .npz container; fastnn.load reads it back
        as an MLPStack)."""
        persistence.save(self, path)


def _split_stacked(stack, flat):
    """Per-layer copies (weights (K, k, n), biases (K, n) or None) of a (K, n_params)
    array."""
    model = stack._template
    weights = [flat[:, o:o + k * n].reshape(-1, k, n).copy()
               for o, k, n in zip(model._w_off, model.sizes[:-1], model.sizes[1:])]
    if not model.bias:
        return weights, None
    return weights, [flat[:, o:o + n].copy() for o, n in zip(model._b_off, model.sizes[1:])]


class _Trainer:
    """One fit call's path, workspace and bundles: ``run(orders)`` trains a chunk of epochs
    of every model (orders (K, epochs, n or 0)) and returns (losses (K, epochs), epochs each
    model ran).

    On the per-sample path a stack of LANES_PER_GROUP models per thread or more trains
    model-minor (fastnn.kernels.stacked.train_lanes): the models in G groups of nl lanes
    (the last group padded with copies of the last model, whose results are dropped), each
    group's parameters, optimizer state and hyperparameters transposed to (n_params, nl) for
    the call and back after it. Otherwise each model trains on its path's own kernel."""

    def __init__(self, stack, X, T, weights, batch_size, loss, opt, mean, l2, shuffled):
        template = stack._template
        K = len(stack)
        self.stack, self.opt, self.shuffled, self.weights = stack, opt, shuffled, weights
        self.path = paths.choose("train", batch_size, template.sizes, stack.dtype.itemsize)
        # Each model runs on one thread: a batch a model alone would split into parts for
        # threads is taken in one part (faster on one thread; the same sums to rounding).
        self.path = self.path._replace(n_parts=1)
        self.threads = max(1, min(K, usable_threads()))
        self.groups = lane_groups(K, self.threads) if self.path.kind == paths.PER_SAMPLE else 0
        self.lanes = self.groups > 0
        self.net = template._net(loss)
        self.batches = (writable(X), writable(T), writable(weights), None, None, batch_size,
                        mean, stack.dtype.type(l2))
        self.weights_of_batches = (None if shuffled else np.stack(
            [batch_weights(w, np.empty((1, 0), np.int64), batch_size) for w in weights]))
        if self.lanes:
            self.nl = -(-K // self.groups)
            self.lane_map = np.minimum(np.arange(self.groups * self.nl), K - 1)
            self.work = self._lane_workspace(template, batch_size)
            self.batches = (X, T, self._to_groups(weights)) + self.batches[3:]
        else:
            self.work = [template._workspace(self.path, shuffled) for _ in range(K)]
            self.kernel = kernel_for(TRAIN_MODELS[self.path.kind], self.net, opt)

    def _lane_workspace(self, template, rows):
        G, nl, sizes, dtype = self.groups, self.nl, template.sizes, self.stack.dtype
        return (np.zeros((G, template.n_params * nl), dtype),
                np.empty((G, rows * sum(sizes) * nl), dtype),
                np.empty((G, rows * sum(sizes[1:]) * nl), dtype),
                np.empty((G, rows * sizes[-1] * nl), dtype),
                np.empty((G, rows * sizes[-1] * nl), dtype),
                np.empty((G, rows * nl)), np.zeros((G, WIDE_ROWS * LANES_MAX)))

    def _to_groups(self, array, minor=False):
        """(K, ...) -> (G, nl, ...) over the lanes; with ``minor``, each group's lane axis
        moved last and the rest flattened before it: (G, ..., n * nl)."""
        grouped = array[self.lane_map].reshape((self.groups, self.nl) + array.shape[1:])
        if not minor:
            return np.ascontiguousarray(grouped)
        moved = np.moveaxis(grouped, 1, -1)
        return np.ascontiguousarray(moved).reshape(moved.shape[:-2] + (-1,))

    def _from_groups(self, grouped, target):
        """Write (G, ..., n * nl) model-minor values back into the (K, ..., n) ``target``."""
        G, nl, K = self.groups, self.nl, target.shape[0]
        lanes = grouped.reshape(grouped.shape[:-1] + (-1, nl))
        lanes = np.moveaxis(lanes, -1, 1).reshape((G * nl,) + target.shape[1:])
        target[...] = lanes[:K]

    def run(self, orders):
        stack = self.stack
        K, count = orders.shape[:2]
        X, T, weights = self.batches[:3]
        if self.shuffled:
            of_batches = np.stack([batch_weights(self.weights[k], orders[k], self.batches[5])
                                   for k in range(K)])
        else:
            of_batches = self.weights_of_batches
        if self.lanes:
            return self._run_lanes(orders, of_batches)
        code, state, hyper, steps = self.opt
        rest = self.batches[5:]
        out = (np.empty((K, count)), np.empty((K, count)))
        done = np.zeros(K, np.int64)
        params, kernel, net, work = stack._params, self.kernel, self.net, self.work

        def train(k):
            done[k] = kernel(net, params[k], (code, state[k], hyper[k], steps[k:k + 1]),
                             (X, T, weights[k], orders[k], of_batches[k]) + rest, work[k],
                             (out[0][k], out[1][k]))

        with one_blas_thread():
            run_on_threads(K, train, self.threads)
        return out[0], done

    def _run_lanes(self, orders, of_batches):
        stack = self.stack
        K, count = orders.shape[:2]
        code, state, hyper, steps = self.opt
        G, nl = self.groups, self.nl
        params = self._to_groups(stack._params, minor=True)
        lane_state = self._to_groups(state, minor=True)
        table = np.zeros((G, TABLE_ROWS, TILE), stack.dtype)
        table[:, :hyper.shape[1], :TILE_PARAMS * nl] = np.tile(
            np.moveaxis(self._to_groups(hyper), 1, 2), TILE_PARAMS)
        table = table.reshape(G, -1)
        lane_steps = self._to_groups(steps)
        batches = (self.batches[0], self.batches[1], self.batches[2], self._to_groups(orders),
                   self._to_groups(of_batches)) + self.batches[5:]
        out = (np.empty((G, nl, count)), np.empty((G, nl, count)))
        done = np.zeros(G, np.int64)
        X, T, weights, orders, of_batches = batches[:5]
        rest, net, work = batches[5:], self.net, self.work
        kernel = kernel_for(train_lanes, net, self.opt)

        def train(g):
            done[g] = kernel(net, params[g], (code, lane_state[g], table[g], lane_steps[g]),
                                  (X, T, weights[g], orders[g], of_batches[g]) + rest,
                                  tuple(w[g] for w in work), (out[0][g], out[1][g]))

        run_on_threads(G, train, self.threads)
        self._from_groups(params, stack._params)
        self._from_groups(lane_state, state)
        steps[...] = lane_steps.reshape(-1)[:K]
        losses = out[0].reshape(G * nl, count)[:K]
        return losses, np.repeat(done, nl)[:K]
