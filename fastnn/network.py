"""The API shared by fastnn.MLP (compiled) and fastnn.reference.MLP (NumPy).

This layer validates every argument, owns the parameters (one flat buffer with per-layer
views), draws initial weights and shuffles; subclasses supply only the mathematics:
``_forward``, ``_loss_grad`` and ``_train_epochs``, on checked arrays. Its ``*_unchecked``
methods, ``params`` and ``layer_views`` are the interface for trainers that check their
own input (fastnn's scikit-learn estimators).
"""
import threading
import time
import warnings

import numpy as np

from . import _registry as reg
from . import persistence
from ._validation import (as_real_array, check_bool, check_choice, check_dtype, check_hidden,
                          check_inputs, check_int, check_random_state, check_real,
                          check_sample_weight, check_seed, check_sizes, real_array)
from .initializers import initial_params
from .optimizers import Optimizer, SGD
from .progress import reporter

CHUNK_SECONDS = 0.1
"""Epochs run in compiled chunks of about this many seconds, so Python (verbose output,
callbacks, Ctrl-C) gets control back several times a second."""
MAX_SHUFFLED_CHUNK_ROWS = 1 << 20
"""At most this many shuffled row indices (epochs x samples) are drawn for one chunk."""


class History:
    """What ``fit`` returns.

    loss[e]: mean per-sample training loss of epoch e (weighted by sample_weight), each
    batch's loss taken in its forward pass before its update (as Keras, scikit-learn and
    tutorial 002 report it);
    seconds: wall time of the whole fit call.
    """

    def __init__(self):
        self.loss = []
        self.seconds = 0.0

    def __repr__(self):
        last = f", final loss {self.loss[-1]:.6g}" if self.loss else ""
        return f"History({len(self.loss)} epochs in {self.seconds:.3f} s{last})"


class _Exclusive:
    """Holds ``lock`` inside; RuntimeError at once where another thread holds it."""

    def __init__(self, lock):
        self._lock = lock

    def __enter__(self):
        if not self._lock.acquire(blocking=False):
            raise RuntimeError("this model is being trained in another thread; train a model "
                               "from one thread at a time (copy.deepcopy(model) gives another)")

    def __exit__(self, *exception):
        self._lock.release()


class Network:
    """A multilayer perceptron: ``sizes[0]`` inputs, hidden layers, ``sizes[-1]`` outputs."""

    def __init__(self, sizes, hidden="tanh", output="sigmoid", bias=True, init="xavier",
                 seed=None, dtype="float64"):
        sizes = check_sizes(sizes)
        hidden_names = check_hidden(hidden, len(sizes) - 2, reg.HIDDEN_ACTIVATIONS)
        output = check_choice("output", output, reg.OUTPUT_ACTIVATIONS)
        bias = check_bool("bias", bias)
        init = check_choice("init", init, reg.INITS)
        random_state = check_random_state("seed", seed)
        dtype = check_dtype(dtype)
        if output == "softmax" and sizes[-1] < 2:
            raise ValueError("output='softmax' needs at least 2 output units (sizes[-1] >= 2)")
        self._training_lock = threading.Lock()
        self._sizes = sizes
        self._hidden = (hidden if isinstance(hidden, str) else
                        tuple(hidden) if isinstance(hidden, tuple) else list(hidden))
        self._output = output
        self._bias = bias
        self._dtype = dtype
        self._activations = hidden_names + (output,)
        self._activation_codes = np.array([reg.ACTIVATIONS[name] for name in self._activations],
                                          np.int64)
        n_layers = len(sizes) - 1
        self._layer_sizes = np.array(sizes, np.int64)
        self._w_off = np.empty(n_layers, np.int64)
        self._b_off = np.full(n_layers, -1, np.int64)
        offset = 0
        for layer in range(n_layers):
            self._w_off[layer] = offset
            offset += sizes[layer] * sizes[layer + 1]
            if bias:
                self._b_off[layer] = offset
                offset += sizes[layer + 1]
        try:
            self._params = np.zeros(offset, dtype)
        except MemoryError:
            raise ValueError(f"sizes {list(sizes)}: {offset} {dtype.name} parameters "
                             f"({offset * dtype.itemsize / 2**30:.3g} GiB) do not fit in "
                             "memory") from None
        # scikit-learn's rule takes its factor from the hidden activation, for the output
        # layer too: here each hidden layer's own, and the last one's for the output layer.
        init_activations = hidden_names + (hidden_names[-1] if hidden_names else
                                           hidden if isinstance(hidden, str) else None,)
        self._write_params(*initial_params(init, sizes, bias, init_activations, random_state))

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_training_lock", None)  # a lock does not pickle; each copy gets its own
        return state

    def __setstate__(self, state):
        """Unpickling (also from read-only memory maps, as joblib loads) gives the model its
        own writable arrays, its parameter buffer and its layout alike (the kernels are
        compiled for writable arrays); models pickled before per-layer activations get theirs
        from their one hidden activation."""
        self.__dict__.update({name: np.array(value) if isinstance(value, np.ndarray) else value
                              for name, value in state.items()})
        self._training_lock = threading.Lock()
        if "_activations" not in state:
            self._activations = (self._hidden,) * (len(self._sizes) - 2) + (self._output,)
            self._activation_codes = np.array([reg.ACTIVATIONS[name]
                                               for name in self._activations], np.int64)

    # ----------------------------------------------------------------- description
    sizes = property(lambda self: self._sizes, doc="Layer widths, input first.")
    hidden = property(lambda self: self._hidden if isinstance(self._hidden, tuple | str)
                      else list(self._hidden),
                      doc="The hidden activations as given: one name, or one per hidden layer "
                          "(a list or a tuple).")
    layer_activations = property(lambda self: self._activations,
                                 doc="The activation of each layer, the output layer's last.")
    output = property(lambda self: self._output, doc="Output activation name.")
    bias = property(lambda self: self._bias, doc="Whether the layers have biases.")
    dtype = property(lambda self: self._dtype, doc="np.float32 or np.float64.")
    n_params = property(lambda self: self._params.size, doc="Number of parameters.")

    def __repr__(self):
        return (f"{type(self).__module__}.{type(self).__name__}({list(self._sizes)}, "
                f"hidden={self._hidden!r}, output={self._output!r}, bias={self._bias}, "
                f"dtype={self._dtype.name!r})")

    # ----------------------------------------------------------------- parameters
    def layer_views(self, flat):
        """(weights, biases) as per-layer views of a flat parameter-shaped array (``params``,
        a gradient, an optimizer's state row); biases None when the network has no bias."""
        weights = [flat[o:o + k * n].reshape(k, n)
                   for o, k, n in zip(self._w_off, self._sizes[:-1], self._sizes[1:])]
        if not self._bias:
            return weights, None
        return weights, [flat[o:o + n] for o, n in zip(self._b_off, self._sizes[1:])]

    def get_params(self):
        """(weights, biases): copies; weights[l].shape == (sizes[l], sizes[l+1]); biases None
        when the network has no bias."""
        return self._split(self._params)

    def set_params(self, weights, biases=None):
        """Replace all parameters (checked in full before any is written)."""
        n_layers = len(self._sizes) - 1
        weights = self._check_param_list("weights", weights,
                                         [(k, n) for k, n in zip(self._sizes[:-1], self._sizes[1:])])
        if self._bias:
            if biases is None:
                raise ValueError("biases must be given: this network has biases")
            biases = self._check_param_list("biases", biases, [(n,) for n in self._sizes[1:]])
        elif biases is not None:
            raise ValueError("biases must be None: this network has no bias (bias=False)")
        assert len(weights) == n_layers
        self._write_params(weights, biases)

    def _check_param_list(self, name, values, shapes):
        if not isinstance(values, (list, tuple)):
            raise TypeError(f"{name} must be a list of {len(shapes)} arrays, got {type(values).__name__}")
        if len(values) != len(shapes):
            raise ValueError(f"{name} must hold {len(shapes)} arrays, got {len(values)}")
        checked = []
        for layer, (value, shape) in enumerate(zip(values, shapes)):
            array = as_real_array(f"{name}[{layer}]", value, self._dtype)
            if array.shape != shape:
                raise ValueError(f"{name}[{layer}] must have shape {shape}, got {array.shape}")
            checked.append(array)
        return checked

    def _write_params(self, weights, biases):
        weight_views, bias_views = self.layer_views(self._params)
        for view, W in zip(weight_views, weights):
            view[...] = W
        for view, b in zip(bias_views or [], biases or []):
            view[...] = b

    def _split(self, flat):
        """Per-layer copies (weights, biases) of a flat parameter-shaped array."""
        weights, biases = self.layer_views(flat)
        return [W.copy() for W in weights], None if biases is None else [b.copy() for b in biases]

    # ----------------------------------------------------------------- inference
    def forward(self, X):
        """Output activations, shape (n_samples, sizes[-1]). Finite inputs that give
        non-finite outputs (the network's values overflow its dtype) give a RuntimeWarning,
        as NumPy warns on overflow."""
        return self._forward_warned(X)

    def predict(self, X):
        """Class index (argmax) for softmax or several outputs; 0/1 (output > 0.5) for one
        sigmoid output; otherwise the raw outputs, shape (n_samples, sizes[-1]). Warns as
        ``forward`` does."""
        out = self._forward_warned(X)
        if self._output == "softmax" or self._sizes[-1] > 1:
            return out.argmax(axis=1)
        if self._output == "sigmoid":
            return (out[:, 0] > 0.5).astype(np.int64)
        return out

    def _forward_warned(self, X):
        out = self._forward(check_inputs("X", X, self._sizes[0], self._dtype))
        if not np.isfinite(out).all():
            warnings.warn(f"finite inputs gave non-finite outputs: the network's values "
                          f"overflow {self._dtype.name}", RuntimeWarning, stacklevel=3)
        return out

    # ----------------------------------------------------------------- loss and gradient
    def loss_and_grad(self, X, Y, loss="squared_error", reduction="mean", l2=0.0,
                      sample_weight=None):
        """(loss, grad_weights, grad_biases): the loss over all rows and its exact gradient,
        laid out like get_params(). With sample weights w_i, the loss is sum_i w_i L_i plus
        the penalty 1/2 l2 sum ||W||^2 (weights only), divided by sum_i w_i for the mean
        reduction ("sum": not divided). FloatingPointError if the loss or the gradient
        overflows."""
        loss = self._check_loss(loss)
        reduction = check_choice("reduction", reduction, reg.REDUCTIONS)
        l2 = self._check_l2(l2)
        X = check_inputs("X", X, self._sizes[0], self._dtype)
        T = self._targets(Y, loss, X.shape[0])
        weights = check_sample_weight(sample_weight, X.shape[0])
        value, _, grad = self.loss_and_grad_unchecked(X, T, loss, reduction, l2, weights)
        if not (np.isfinite(value) and np.isfinite(grad).all()):
            raise FloatingPointError(f"loss_and_grad: the {'loss' if np.isfinite(grad).all() else 'gradient'} "
                                     "overflowed (from finite inputs and parameters)")
        grad_weights, grad_biases = self._split(grad)
        return value, grad_weights, grad_biases

    def _check_l2(self, l2):
        l2 = check_real("l2", l2, 0.0)
        with np.errstate(over="ignore"):
            if not np.isfinite(self._dtype.type(l2)):
                raise ValueError(f"l2={l2} overflows {self._dtype.name}")
        return l2

    def _check_loss(self, loss):
        loss = check_choice("loss", loss, tuple(reg.LOSSES))
        needed = reg.LOSS_REQUIRES_OUTPUT[loss]
        if needed is not None and self._output != needed:
            raise ValueError(f"loss={loss!r} needs output={needed!r}, this network has "
                             f"output={self._output!r}")
        return loss

    def _targets(self, Y, loss, n_samples):
        """Targets as a C-contiguous (n_samples, sizes[-1]) array of the model's dtype."""
        width = self._sizes[-1]
        raw = real_array("Y", Y)
        if raw.ndim == 0 or raw.ndim > 2:
            raise ValueError(f"Y must be 1-D or 2-D, got shape {raw.shape}")
        if raw.shape[0] != n_samples:
            raise ValueError(f"Y has {raw.shape[0]} rows but X has {n_samples}")
        if loss == "cross_entropy" and raw.ndim == 1:
            labels = as_real_array("Y", raw, np.float64)
            if (labels != np.round(labels)).any() or labels.min() < 0 or labels.max() >= width:
                raise ValueError(f"Y: class labels must be integers in [0, {width}); got values "
                                 f"from {labels.min():g} to {labels.max():g}")
            T = np.zeros((n_samples, width), self._dtype)
            T[np.arange(n_samples), labels.astype(np.int64)] = 1
            return T
        T = as_real_array("Y", raw, self._dtype)
        if T.ndim == 1:
            if width != 1:
                raise ValueError(f"Y must be 2-D (n_samples, {width}) for {width} outputs, got shape {T.shape}")
            T = T.reshape(n_samples, 1)
        if T.shape[1] != width:
            raise ValueError(f"Y has {T.shape[1]} columns but the network has {width} outputs")
        if loss == "binary_cross_entropy" and (T.min() < 0 or T.max() > 1):
            raise ValueError("Y: binary_cross_entropy targets must lie in [0, 1]")
        if loss == "cross_entropy" and T.min() < 0:
            raise ValueError("Y: cross_entropy targets must be non-negative (one-hot or probabilities)")
        if loss == "poisson" and T.min() < 0:
            raise ValueError("Y: poisson targets must be non-negative (counts or rates)")
        return T

    # ----------------------------------------------------------------- training
    def fit(self, X, Y, loss="squared_error", optimizer=None, epochs=1, batch_size=32,
            shuffle=True, reduction="mean", l2=0.0, seed=None, verbose=False, callback=None,
            sample_weight=None):
        """Train; returns a History.

        optimizer: an optimizer object (default: a new ``SGD(lr=0.01)``); its state carries
        over between calls. batch_size=1: per-sample path; None: full batch (shuffling a full
        batch would only reorder a sum, so it is skipped). reduction "mean" divides each
        batch's summed loss by its weight (its size without sample_weight), "sum" does not.
        l2: each batch's summed loss gets 1/2 l2 sum ||W||^2 over the weights (not the
        biases), so with the mean reduction the penalty is divided by the batch's weight, as
        scikit-learn's alpha. seed: shuffling (None,
        int or np.random.Generator). verbose: one line per epoch up to 200 epochs, a progress
        bar (tqdm when installed) beyond. callback(epoch, loss) is called after every epoch;
        returning False stops training. sample_weight: one weight >= 0 per row, multiplying
        the row's loss and gradient; the mean reduction divides a batch's weighted sum by the
        batch's weight, and a batch of weight 0 makes no update. If the loss stops being
        finite, the parameters and optimizer state are restored to what they were before this
        call and FloatingPointError is raised.
        """
        loss = self._check_loss(loss)
        if optimizer is None:
            optimizer = SGD(lr=0.01)
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a fastnn optimizer such as fastnn.SGD, got "
                            f"{optimizer!r}")
        optimizer._check()
        epochs = check_int("epochs", epochs, 0)
        batch_size = check_int("batch_size", batch_size, 1, allow_none=True)
        shuffle = check_bool("shuffle", shuffle)
        reduction = check_choice("reduction", reduction, reg.REDUCTIONS)
        l2 = self._check_l2(l2)
        seed = check_seed("seed", seed)
        verbose = check_bool("verbose", verbose)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable or None, got {callback!r}")
        X = check_inputs("X", X, self._sizes[0], self._dtype)
        T = self._targets(Y, loss, X.shape[0])
        weights = check_sample_weight(sample_weight, X.shape[0])

        n = X.shape[0]
        batch_size = n if batch_size is None else min(batch_size, n)
        with self._exclusive():
            return self._fit_checked(X, T, weights, loss, optimizer, epochs, batch_size,
                                     shuffle and batch_size < n, reduction, l2, seed, verbose,
                                     callback)

    def _exclusive(self):
        """Context manager held while this model trains; RuntimeError at once if another
        thread is training it (two runs' updates would mix in one parameter buffer)."""
        return _Exclusive(self._training_lock)

    def _fit_checked(self, X, T, weights, loss, optimizer, epochs, batch_size, shuffled,
                     reduction, l2, seed, verbose, callback):
        """fit's training loop, on checked arguments."""
        n = X.shape[0]
        rng = np.random.default_rng(seed)
        opt = optimizer._bundle(self)
        _, state, _, step = opt
        saved = (self._params.copy(), state.copy(), step.copy())

        history = History()
        started = time.perf_counter()
        with reporter(epochs, n, verbose) as progress:
            chunk, done = 1, 0
            while done < epochs:
                count = min(chunk, epochs - done)
                if shuffled:
                    orders = np.stack([rng.permutation(n) for _ in range(count)])
                else:
                    orders = np.empty((count, 0), np.int64)
                chunk_started = time.perf_counter()
                losses, _ = self._train_epochs(X, T, weights, orders, batch_size, loss, opt,
                                               reg.REDUCTION_CODES[reduction], l2)
                seconds = time.perf_counter() - chunk_started
                if not (np.isfinite(losses[-1]) and np.isfinite(self._params).all()):
                    self._params[...], state[...], step[...] = saved
                    what = (f"the loss became {losses[-1]}" if not np.isfinite(losses[-1])
                            else "the parameters overflowed")
                    raise FloatingPointError(
                        f"training diverged in epoch {done + len(losses) - 1}: {what}; "
                        "parameters and optimizer state are restored to what they were before "
                        "fit (try a smaller lr)")
                progress.update(done, losses, seconds)
                for i, value in enumerate(losses):
                    history.loss.append(float(value))
                    if callback is not None and callback(done + i, float(value)) is False:
                        history.seconds = time.perf_counter() - started
                        return history
                done += count
                if callback is None:
                    chunk = max(1, int(count * CHUNK_SECONDS / max(seconds, 1e-9)))
                    if shuffled:
                        chunk = max(1, min(chunk, MAX_SHUFFLED_CHUNK_ROWS // n))
        history.seconds = time.perf_counter() - started
        return history

    # ----------------------------------------------------------------- persistence
    def save(self, path):
        """Write the model to exactly ``path`` (an .npz container, whatever the suffix)."""
        persistence.save(self, path)

    # ----------------------------------------------------------------- for trainers
    # For code that checks its own input (fastnn's scikit-learn estimators): X and T
    # C-contiguous arrays of the model's dtype, finite, (n, sizes[0]) and (n, sizes[-1]) (T as
    # _targets makes it: one-hot rows for cross_entropy), sample_weight None or (n,) float64
    # weights >= 0, not all zero. Nothing is checked again.
    params = property(lambda self: self._params,
                      doc="The flat parameter vector itself (W_0, b_0, W_1, b_1, ...; views: "
                          "layer_views). Writing into it changes the model.")

    def forward_unchecked(self, X):
        """forward(X) without checks."""
        return self._forward(X)

    def loss_and_grad_unchecked(self, X, T, loss, reduction="mean", l2=0.0,
                                sample_weight=None):
        """(loss, penalty, flat gradient): loss_and_grad without checks, the gradient as one
        flat parameter-shaped vector; ``penalty`` is the l2 part of ``loss``."""
        n = X.shape[0]
        weights = np.ones(n) if sample_weight is None else sample_weight
        total, penalty, weight, grad = self._loss_grad(X, T, weights, loss,
                                                       reg.REDUCTION_CODES[reduction],
                                                       l2)
        if reduction == "mean":
            return (total + penalty) / weight, penalty / weight, grad
        return total + penalty, penalty, grad

    def train_epochs_unchecked(self, X, T, loss, optimizer, orders, batch_size,
                               reduction="mean", l2=0.0, sample_weight=None):
        """(losses, penalties): train len(orders) epochs with ``optimizer`` (a fastnn
        optimizer, bound to this model), epoch e taking rows in orders[e] (int64; no columns:
        storage order), in batches of ``batch_size`` rows; penalties[e] is the l2 part of
        losses[e]. Stops after the first epoch whose loss is not finite (the parameters are
        then left as they are)."""
        n = X.shape[0]
        weights = np.ones(n) if sample_weight is None else sample_weight
        with self._exclusive():
            return self._train_epochs(X, T, weights, orders, batch_size, loss,
                                      optimizer._bundle(self), reg.REDUCTION_CODES[reduction],
                                      l2)

    # ----------------------------------------------------------------- the mathematics
    def _net(self, loss="squared_error"):
        """The network description the kernels take: (sizes, w_off, b_off, activation codes
        (one per layer), loss code)."""
        return (self._layer_sizes, self._w_off, self._b_off, self._activation_codes,
                reg.LOSSES[loss])

    def _optimizer_shapes(self, n_state):
        """(shape of an optimizer's state, shape of its step count) for this model."""
        return (n_state, self.n_params), (1,)

    def _forward(self, X):
        raise NotImplementedError

    def _loss_grad(self, X, T, weights, loss, mean, l2):
        """(weighted loss sum, l2 penalty, sum of the weights, gradient of the sum of both
        times 1/weight (mean) or 1, as a flat parameter-shaped array)."""
        raise NotImplementedError

    def _train_epochs(self, X, T, weights, orders, batch_size, loss, opt, mean, l2):
        """Run len(orders) epochs with the optimizer bundle ``opt`` = (code, state, hyper,
        step); returns their losses and the l2 penalty part of each, stopping after a
        non-finite loss."""
        raise NotImplementedError
