"""The API shared by fastnn.MLP (compiled) and fastnn.reference.MLP (NumPy).

This layer validates every argument, owns the parameters (one flat buffer with per-layer
views), draws initial weights and shuffles; subclasses supply only the mathematics:
``_forward``, ``_loss_grad`` and ``_train_epochs``.
"""
import time

import numpy as np

from . import _registry as reg
from ._validation import (as_real_array, check_bool, check_choice, check_dtype, check_inputs,
                          check_int, check_random_state, check_real, check_seed, check_sizes,
                          real_array)
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

    loss[e]: mean per-sample training loss of epoch e, each batch's loss taken in its forward
    pass before its update (as Keras, scikit-learn and tutorial 002 report it);
    seconds: wall time of the whole fit call.
    """

    def __init__(self):
        self.loss = []
        self.seconds = 0.0

    def __repr__(self):
        last = f", final loss {self.loss[-1]:.6g}" if self.loss else ""
        return f"History({len(self.loss)} epochs in {self.seconds:.3f} s{last})"


class Network:
    """A multilayer perceptron: ``sizes[0]`` inputs, hidden layers, ``sizes[-1]`` outputs."""

    def __init__(self, sizes, hidden="tanh", output="sigmoid", bias=True, init="xavier",
                 seed=None, dtype="float64"):
        sizes = check_sizes(sizes)
        hidden = check_choice("hidden", hidden, reg.HIDDEN_ACTIVATIONS)
        output = check_choice("output", output, reg.OUTPUT_ACTIVATIONS)
        bias = check_bool("bias", bias)
        init = check_choice("init", init, reg.INITS)
        random_state = check_random_state("seed", seed)
        dtype = check_dtype(dtype)
        if output == "softmax" and sizes[-1] < 2:
            raise ValueError("output='softmax' needs at least 2 output units (sizes[-1] >= 2)")
        self._sizes = sizes
        self._hidden = hidden
        self._output = output
        self._bias = bias
        self._dtype = dtype
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
        self._params = np.zeros(offset, dtype)
        self._write_params(*initial_params(init, sizes, bias, hidden, random_state))

    def __setstate__(self, state):
        """Unpickling (also from read-only memory maps, as joblib loads) gives the model its
        own writable parameter buffer."""
        self.__dict__.update(state)
        self._params = np.array(self._params)

    # ----------------------------------------------------------------- description
    sizes = property(lambda self: self._sizes, doc="Layer widths, input first.")
    hidden = property(lambda self: self._hidden, doc="Hidden activation name.")
    output = property(lambda self: self._output, doc="Output activation name.")
    bias = property(lambda self: self._bias, doc="Whether the layers have biases.")
    dtype = property(lambda self: self._dtype, doc="np.float32 or np.float64.")
    n_params = property(lambda self: self._params.size, doc="Number of parameters.")

    def __repr__(self):
        return (f"{type(self).__module__}.{type(self).__name__}({list(self._sizes)}, "
                f"hidden={self._hidden!r}, output={self._output!r}, bias={self._bias}, "
                f"dtype={self._dtype.name!r})")

    # ----------------------------------------------------------------- parameters
    def _layer_views(self, flat):
        """(weights, biases) as per-layer views of a flat parameter-shaped array; biases None
        when the network has no bias."""
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
        weight_views, bias_views = self._layer_views(self._params)
        for view, W in zip(weight_views, weights):
            view[...] = W
        for view, b in zip(bias_views or [], biases or []):
            view[...] = b

    def _split(self, flat):
        """Per-layer copies (weights, biases) of a flat parameter-shaped array."""
        weights, biases = self._layer_views(flat)
        return [W.copy() for W in weights], None if biases is None else [b.copy() for b in biases]

    # ----------------------------------------------------------------- inference
    def forward(self, X):
        """Output activations, shape (n_samples, sizes[-1])."""
        return self._forward(check_inputs("X", X, self._sizes[0], self._dtype))

    def predict(self, X):
        """Class index (argmax) for softmax or several outputs; 0/1 (output > 0.5) for one
        sigmoid output; otherwise the raw outputs, shape (n_samples, sizes[-1])."""
        out = self.forward(X)
        if self._output == "softmax" or self._sizes[-1] > 1:
            return out.argmax(axis=1)
        if self._output == "sigmoid":
            return (out[:, 0] > 0.5).astype(np.int64)
        return out

    # ----------------------------------------------------------------- loss and gradient
    def loss_and_grad(self, X, Y, loss="squared_error", reduction="mean"):
        """(loss, grad_weights, grad_biases): the loss over all rows (mean or sum of the
        per-sample losses) and its exact gradient, laid out like get_params()."""
        loss = self._check_loss(loss)
        reduction = check_choice("reduction", reduction, reg.REDUCTIONS)
        X = check_inputs("X", X, self._sizes[0], self._dtype)
        T = self._targets(Y, loss, X.shape[0])
        n = X.shape[0]
        scale = 1.0 / n if reduction == "mean" else 1.0
        total, grad = self._loss_grad(X, T, loss, self._dtype.type(scale))
        weights, biases = self._split(grad)
        return (total / n if reduction == "mean" else total), weights, biases

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
        return T

    # ----------------------------------------------------------------- training
    def fit(self, X, Y, loss="squared_error", optimizer=None, epochs=1, batch_size=32,
            shuffle=True, reduction="mean", l2=0.0, seed=None, verbose=False, callback=None):
        """Train; returns a History.

        optimizer: an optimizer object (default: a new ``SGD(lr=0.01)``); its state carries
        over between calls. batch_size=1: per-sample path; None: full batch (shuffling a full
        batch would only reorder a sum, so it is skipped). reduction "mean" divides each
        batch's summed loss by its size, "sum" does not. l2: each batch's summed loss gets
        1/2 l2 sum ||W||^2 over the weights (not the biases), so with the mean reduction the
        penalty is divided by the batch size, as scikit-learn's alpha. seed: shuffling (None,
        int or np.random.Generator). verbose: one line per epoch up to 200 epochs, a progress
        bar (tqdm when installed) beyond. callback(epoch, loss) is called after every epoch;
        returning False stops training. If the loss stops being finite,
        the parameters and optimizer state are restored to what they were before this call
        and FloatingPointError is raised.
        """
        loss = self._check_loss(loss)
        if optimizer is None:
            optimizer = SGD(lr=0.01)
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a fastnn optimizer such as fastnn.SGD, got {optimizer!r}")
        optimizer._check()
        epochs = check_int("epochs", epochs, 0)
        batch_size = check_int("batch_size", batch_size, 1, allow_none=True)
        shuffle = check_bool("shuffle", shuffle)
        reduction = check_choice("reduction", reduction, reg.REDUCTIONS)
        l2 = check_real("l2", l2, 0.0)
        seed = check_seed("seed", seed)
        verbose = check_bool("verbose", verbose)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable or None, got {callback!r}")
        X = check_inputs("X", X, self._sizes[0], self._dtype)
        T = self._targets(Y, loss, X.shape[0])

        n = X.shape[0]
        batch_size = n if batch_size is None else min(batch_size, n)
        shuffled = shuffle and batch_size < n
        rng = np.random.default_rng(seed)
        hyper = optimizer._hyper(self._dtype)
        if not np.isfinite(hyper).all():
            raise ValueError(f"optimizer: {optimizer!r} has a hyperparameter (lr, momentum, "
                             f"...) that overflows {self._dtype.name}")
        with np.errstate(over="ignore"):
            if not np.isfinite(self._dtype.type(l2)):
                raise ValueError(f"l2={l2} overflows {self._dtype.name}")
        state, step = optimizer._bind(self)
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
                losses, _ = self._train_epochs(X, T, orders, shuffled, batch_size,
                                               reduction == "mean", l2, loss, optimizer.code,
                                               state, hyper, step)
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
        from .persistence import save
        save(self, path)

    # ----------------------------------------------------------------- the mathematics
    def _forward(self, X):
        raise NotImplementedError

    def _loss_grad(self, X, T, loss, scale):
        """(sum of per-sample losses, scale * its gradient as a flat parameter-shaped array)."""
        raise NotImplementedError

    def _train_epochs(self, X, T, orders, shuffled, batch_size, mean, l2, loss, opt_code,
                      state, hyper, step):
        """Run len(orders) epochs; returns their losses and the l2 penalty part of each,
        stopping after a non-finite loss."""
        raise NotImplementedError
