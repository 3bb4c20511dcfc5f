"""Optimizers: hyperparameters and the state they carry from one fit call to the next.

SGD and Adam follow torch.optim; SklearnSGD and SklearnAdam are scikit-learn's update rules,
which fastnn.MLPClassifier and MLPRegressor train with. Each reaches the kernels as one bundle
(code, state, hyper, step): fastnn.kernels.updates.
"""
import weakref
from collections.abc import Sequence

import numpy as np

from .kernels.codes import OPT_ADAM, OPT_SGD, OPT_SKLEARN_ADAM, OPT_SKLEARN_SGD
from ._validation import check_bool, check_real


class Optimizer:
    """Holds the optimizer's state (one row per state vector) for the one model it serves."""

    code = None
    n_state = 0

    def __init__(self):
        self._state = None
        self._step = np.zeros(1, np.int64)
        self._model = None

    def _bind(self, model):
        """The state arrays for ``model``, created (zero) on first use."""
        owner = self._model() if self._model is not None else None
        if owner is not None and owner is not model:
            raise ValueError(f"optimizer: this {type(self).__name__} already holds the state of "
                             "another model; use one optimizer per model")
        shape, steps = model._optimizer_shapes(self.n_state)
        orphaned = self._model is not None and owner is None  # its model was garbage-collected
        if (orphaned or self._state is None or self._state.shape != shape
                or self._state.dtype != model.dtype or self._step.shape != steps):
            self._state = np.zeros(shape, model.dtype)
            self._step = np.zeros(steps, np.int64)
        self._model = weakref.ref(model)
        return self._state, self._step

    def __getstate__(self):
        """Pickled without the reference to its model (a weak reference, which does not
        pickle); the state binds to the first model it serves after loading."""
        state = dict(self.__dict__)
        state["_model"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self._state is not None:  # writable, also from joblib's read-only memory maps
            self._state = np.array(self._state)
        self._step = np.array(self._step)

    def _bundle(self, model):
        """(code, state, hyper, step) for the kernels (fastnn.kernels.updates), bound to
        ``model``, hyperparameters in its dtype (in the kernels' order: _hyperparameters);
        ValueError naming a hyperparameter that overflows that dtype, or that is not 0 but
        falls below its smallest normal number (it would act as 0, or lose its precision)."""
        hyper = self._hyper(model.dtype)
        state, step = self._bind(model)
        return self.code, state, hyper, step

    def _hyper(self, dtype, name="optimizer"):
        """The hyperparameters as an array of ``dtype``, checked as _bundle says (errors
        start with ``name``)."""
        values = self._hyperparameters()
        with np.errstate(over="ignore"):  # an overflow is reported below, naming it
            hyper = np.array(list(values.values()), dtype)
        tiny = np.finfo(dtype).tiny
        for (key, value), cast in zip(values.items(), hyper):
            if not np.isfinite(cast):
                raise ValueError(f"{name}: {key}={value} overflows {dtype.name}, "
                                 f"the model's dtype ({self!r})")
            if value != 0 and abs(cast) < tiny:
                raise ValueError(f"{name}: {key}={value} underflows {dtype.name}, "
                                 f"the model's dtype (its smallest normal number is "
                                 f"{tiny:.3g}; {self!r})")
        return hyper

    def move_to(self, model):
        """Serve ``model`` (a fastnn.MLP or MLPStack) from now on with the state kept so far
        (cast to its dtype): for a model rebuilt with the same parameters in another dtype.
        ValueError if the state has another shape than ``model`` needs (other parameters, or
        another number of models)."""
        if self._state is not None:
            shape, steps = model._optimizer_shapes(self.n_state)
            if self._state.shape != shape or self._step.shape != steps:
                raise ValueError(f"model: its {type(self).__name__} state would have shape "
                                 f"{shape}, this one's has {self._state.shape}")
            self._state = self._state.astype(model.dtype)
        self._model = weakref.ref(model)

    def reset(self):
        """Forget the state (momentum buffers, step count)."""
        self._state = None
        self._step = np.zeros(1, np.int64)

    def _state_copy(self, row):
        """Copy of state row ``row`` (a flat parameter-shaped vector), or None before the first
        step."""
        return None if self._state is None else self._state[row].copy()

    @property
    def steps(self):
        """Number of updates taken since creation or the last reset() (serving a
        fastnn.MLPStack: an int64 array, one count per model)."""
        return int(self._step[0]) if self._step.shape == (1,) else self._step.copy()


class SGD(Optimizer):
    """Stochastic gradient descent exactly as ``torch.optim.SGD`` (dampening 0).

    g += weight_decay p;  b = momentum b + g (b = g on the first step);
    g = g + momentum b if nesterov else b;  p -= lr g.
    The momentum buffer lives in this object and carries over between fit calls.
    """

    code = OPT_SGD
    n_state = 1

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__()
        self.lr = lr
        self.momentum = momentum
        self.nesterov = nesterov
        self.weight_decay = weight_decay
        self._check()

    def _check(self):
        check_real("lr", self.lr, 0.0, strict=True)
        check_real("momentum", self.momentum, 0.0)
        check_bool("nesterov", self.nesterov)
        check_real("weight_decay", self.weight_decay, 0.0)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")

    def _hyperparameters(self):
        return {"lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay,
                "nesterov": float(self.nesterov)}

    @property
    def velocity(self):
        """Copy of the flat momentum buffer, or None before the first step."""
        return self._state_copy(0)

    def __repr__(self):
        return (f"SGD(lr={self.lr}, momentum={self.momentum}, nesterov={self.nesterov}, "
                f"weight_decay={self.weight_decay})")


class Adam(Optimizer):
    """Adam exactly as ``torch.optim.Adam`` (amsgrad=False, maximize=False; weight_decay is
    L2 added to the gradient, not AdamW's decoupled decay). At step t = 1, 2, ...:

    g += weight_decay p;  m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;
    p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
    m, v (zero at first) and t live in this object and carry over between fit calls.
    """

    code = OPT_ADAM
    n_state = 2

    def __init__(self, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__()
        self.lr = lr
        self.betas = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self._check()
        self.betas = tuple(self.betas)

    def _check(self):
        check_real("lr", self.lr, 0.0, strict=True)
        if isinstance(self.betas, (str, bytes)) or not isinstance(self.betas, (Sequence, np.ndarray)):
            raise TypeError(f"betas must be a pair (beta1, beta2) of real numbers, got {self.betas!r}")
        if len(self.betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {len(self.betas)} values")
        for i, beta in enumerate(self.betas):
            if check_real(f"betas[{i}]", beta, 0.0) >= 1:
                raise ValueError(f"betas[{i}] must be < 1, got {float(beta)}")
        check_real("eps", self.eps, 0.0, strict=True)
        check_real("weight_decay", self.weight_decay, 0.0)

    def _hyperparameters(self):
        beta1, beta2 = self.betas
        return {"lr": self.lr, "betas[0]": beta1, "betas[1]": beta2, "eps": self.eps,
                "weight_decay": self.weight_decay}

    @property
    def exp_avg(self):
        """Copy of the flat first-moment estimate m, or None before the first step."""
        return self._state_copy(0)

    @property
    def exp_avg_sq(self):
        """Copy of the flat second-moment estimate v, or None before the first step."""
        return self._state_copy(1)

    def __repr__(self):
        return (f"Adam(lr={self.lr}, betas={tuple(self.betas)}, eps={self.eps}, "
                f"weight_decay={self.weight_decay})")


class SklearnSGD(Optimizer):
    """scikit-learn's SGDOptimizer (sklearn.neural_network), as fastnn.MLPClassifier and
    MLPRegressor train: the velocity holds lr-scaled steps, so a changing lr (its adaptive
    and invscaling schedules set ``lr`` between calls) acts differently from torch's SGD:

    v = momentum v - lr g;  p += momentum v - lr g if nesterov else v.
    """

    code = OPT_SKLEARN_SGD
    n_state = 1

    def __init__(self, lr=0.1, momentum=0.9, nesterov=True):
        super().__init__()
        self.lr = lr
        self.momentum = momentum
        self.nesterov = nesterov
        self._check()

    def _check(self):
        check_real("lr", self.lr, 0.0, strict=True)
        if check_real("momentum", self.momentum, 0.0) > 1:
            raise ValueError(f"momentum must be <= 1, got {self.momentum}")
        check_bool("nesterov", self.nesterov)

    def _hyperparameters(self):
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": float(self.nesterov)}

    def __repr__(self):
        return f"SklearnSGD(lr={self.lr}, momentum={self.momentum}, nesterov={self.nesterov})"


class SklearnAdam(Optimizer):
    """scikit-learn's AdamOptimizer (sklearn.neural_network), as fastnn.MLPClassifier and
    MLPRegressor train; at step t = 1, 2, ...:

    m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;
    p -= lr sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)
    (eps is added to sqrt(v) before the bias correction, unlike torch.optim.Adam).
    """

    code = OPT_SKLEARN_ADAM
    n_state = 2

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__()
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self._check()

    def _check(self):
        check_real("lr", self.lr, 0.0, strict=True)
        for name in ("beta1", "beta2"):
            if check_real(name, getattr(self, name), 0.0) >= 1:
                raise ValueError(f"{name} must be < 1, got {getattr(self, name)}")
        check_real("eps", self.eps, 0.0, strict=True)

    def _hyperparameters(self):
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def __repr__(self):
        return (f"SklearnAdam(lr={self.lr}, beta1={self.beta1}, beta2={self.beta2}, "
                f"eps={self.eps})")
