"""scikit-learn drop-in estimators on the compiled kernels: MLPClassifier and MLPRegressor.

The parameters, fitted attributes and training procedure are scikit-learn's
(sklearn.neural_network.MLPClassifier / MLPRegressor): the same initial weights for the same
random_state, the same shuffling, batches, L2 penalty (alpha), learning-rate schedules,
stopping rules and early stopping, so ``loss_curve_`` and ``coefs_`` agree with
scikit-learn's to rounding. The mathematics runs on fastnn's kernels through fastnn.MLP's
interface for trainers (``params``, ``layer_views``, ``forward_unchecked``,
``loss_and_grad_unchecked``, ``train_epochs_unchecked``: the L2 penalty is the network's);
the estimator API, label handling, splits and scores come from scikit-learn, which must be
installed (``pip install scikit-learn``).
"""
import contextlib
import copy
import warnings

import numpy as np
import scipy.optimize
from sklearn import neural_network as sklearn_neural_network
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._validation import as_rows, check_choice, check_csr_structure, check_int, is_sparse
from .model import MLP
from .optimizers import SklearnAdam, SklearnSGD

ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
"""scikit-learn's activation names -> fastnn's."""
OUTPUTS = {"identity": ("linear", "squared_error"),
           "exp": ("exp", "poisson"),
           "logistic": ("sigmoid", "binary_cross_entropy"),
           "softmax": ("softmax", "cross_entropy")}
"""scikit-learn's out_activation_ -> fastnn's output activation and loss."""
MIN_ADAPTIVE_LEARNING_RATE = 1e-6
"""learning_rate="adaptive" stops once the learning rate is at or below this (as scikit-learn)."""
FAST_PREDICT_ROWS = 1024
"""Predictions for at most this many rows may skip scikit-learn's validation (_forward)."""
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
MAX_CALL_ROWS = 1 << 20
"""At most this many sample-steps (epochs x samples) train in one compiled call."""
ACCEPT_SPARSE = ["csr", "csc", "coo"]
"""Sparse formats validate_data passes as they are (others it converts to CSR); fastnn.MLP
then takes each as CSR (fastnn.kernels.sparse), never densified."""
DIVERGED = ("Solver produced non-finite parameter weights. The input data may contain large "
            "values and need to be preprocessed.")


def _checked_rows(X, dtype):
    """Validated X as fastnn.MLP's kernels take it (fastnn._validation.as_rows): a sparse X as
    a CSR array whose index arrays are checked to describe its shape (validate_data checks
    its values, not its structure)."""
    rows = as_rows(X, dtype)
    if is_sparse(rows):
        check_csr_structure("X", rows)
    return rows


def _shuffled(rows, random_state):
    """sklearn.utils.shuffle(rows, random_state=random_state), which scikit-learn's MLP calls
    every epoch: the same draw (a RandomState.shuffle of arange), without its argument
    validation, which took 0.1-0.3 ms, a fifth of a W6 epoch."""
    order = np.arange(len(rows))
    random_state.shuffle(order)
    return rows[order]


def is_plain_labels(y):
    """Whether y is a 1-D NumPy array of integers or booleans: labels whose binarization
    fitted_label_binarizer and binarized take directly."""
    return type(y) is np.ndarray and y.ndim == 1 and y.dtype.kind in "iub"


def fitted_label_binarizer(y):
    """LabelBinarizer().fit(y). For plain labels (is_plain_labels) its fitted state is set
    directly: classes_ from np.unique, y_type_ "binary" for at most two labels, else
    "multiclass", as type_of_target says for integers; its checks cost about 0.2 ms a call,
    a large part of a small fit."""
    binarizer = LabelBinarizer()
    if not is_plain_labels(y) or len(y) == 0:
        return binarizer.fit(y)
    binarizer.classes_ = np.unique(y)
    binarizer.y_type_ = "binary" if len(binarizer.classes_) <= 2 else "multiclass"
    binarizer.sparse_input_ = False
    return binarizer


def binarized(binarizer, y, dtype):
    """binarizer.transform(y).astype(dtype) (a fitted LabelBinarizer with the default labels).
    Plain labels (is_plain_labels) of binary or multiclass classes are compared with the
    classes directly, as label_binarize does (one column per class; for two classes, one
    column that is 1 for the second), saving its checks (about 0.4 ms a call)."""
    classes = binarizer.classes_
    if (is_plain_labels(y) and binarizer.y_type_ in ("binary", "multiclass")
            and classes.dtype.kind in "iub" and binarizer.neg_label == 0
            and binarizer.pos_label == 1 and not binarizer.sparse_output):
        if len(classes) >= 3:
            return (y[:, np.newaxis] == classes).astype(dtype)
        if np.isin(y, classes).all():  # at most two labels: label_binarize's binary case
            if len(classes) == 1:
                return np.zeros((len(y), 1), dtype)
            return (y == classes[1]).astype(dtype)[:, np.newaxis]
    return binarizer.transform(y).astype(dtype)


class BaseMLP(BaseEstimator):
    """Shared by MLPClassifier and MLPRegressor; subclasses set the output layer and targets."""

    _network_class = MLP
    """The network the estimator trains (fastnn.reference.MLP in the tests)."""
    _parameter_constraints = dict(sklearn_neural_network.MLPClassifier._parameter_constraints)
    """scikit-learn's own: fit and partial_fit validate the parameters as scikit-learn does
    (InvalidParameterError, a ValueError and a TypeError) before anything changes."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    def __setstate__(self, state):
        """Unpickled arrays (read-only when joblib loads them from a memory map) become the
        estimator's own, so partial_fit and warm starts can update them; estimators pickled
        before the optimizer objects get one holding their optimizer's state."""
        for name in ("coefs_", "intercepts_"):
            if name in state:
                state[name] = [np.array(array) for array in state[name]]
        if "_optimizer_state" in state:
            learning_rate = state.pop("_learning_rate", state["learning_rate_init"])
            optimizer = (SklearnSGD(learning_rate, state["momentum"], state["nesterovs_momentum"])
                         if state["solver"] == "sgd" else
                         SklearnAdam(state["learning_rate_init"], state["beta_1"],
                                     state["beta_2"], state["epsilon"]))
            optimizer.__setstate__(dict(optimizer.__dict__, _state=state.pop("_optimizer_state"),
                                        _step=state.pop("_optimizer_step")))
            state["_optimizer"] = optimizer
        super().__setstate__(state)

    # ----------------------------------------------------------------- parameters
    def _check_params(self):
        """What _parameter_constraints leaves open: hidden_layer_sizes are positive ints;
        returns them as a list."""
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        for size in sizes:
            check_int("hidden_layer_sizes", size, 1)
        return [int(size) for size in sizes]

    def _check_solver(self):
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    # ----------------------------------------------------------------- fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to X (n_samples, n_features) and y, each sample's loss weighted by
        sample_weight (n_samples,) if given; returns self."""
        with self._unchanged_on_error():
            return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    @contextlib.contextmanager
    def _unchanged_on_error(self):
        """A fit that raises leaves every attribute as it was: a copy of each is kept (the
        network's parameters and the optimizer's state too) and put back."""
        before = {name: copy.copy(value) for name, value in vars(self).items()}
        try:
            yield
        except Exception:
            vars(self).clear()
            vars(self).update(before)
            raise

    def _fit(self, X, y, incremental, sample_weight=None):
        hidden = self._check_params()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(_check_sample_weight(sample_weight, X),
                                                 np.float64)
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        layer_units = [X.shape[1]] + hidden + [Y.shape[1]]
        random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(Y, layer_units, X.dtype, random_state)
        elif [W.shape[0] for W in self.coefs_] + [self.coefs_[-1].shape[1]] != layer_units:
            raise ValueError(f"hidden_layer_sizes or the number of outputs changed since the last "
                             f"fit (layers {[W.shape[0] for W in self.coefs_]}); fit from scratch "
                             "with warm_start=False")
        elif self._out_activation() != self.out_activation_:
            raise ValueError(f"the output layer changed since the last fit (out_activation_ "
                             f"{self.out_activation_!r}, now {self._out_activation()!r}); fit "
                             "from scratch with warm_start=False")
        net = self._network(X.dtype)
        X = _checked_rows(X, net.dtype)
        Y = np.ascontiguousarray(Y, net.dtype)
        if self.solver == "lbfgs":
            self._fit_lbfgs(net, X, Y, sample_weight)
        else:
            self._fit_stochastic(net, X, Y, random_state, incremental, sample_weight)
        self._store(net.params)
        return self

    def _initialize(self, Y, layer_units, dtype, random_state):
        """Fitted attributes of a fresh model; initial weights drawn as scikit-learn draws
        them (init="sklearn" from the same RandomState)."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        net = self._network_class(layer_units, hidden=ACTIVATIONS[self.activation],
                                 output=OUTPUTS[self.out_activation_][0], init="sklearn",
                                 seed=random_state, dtype=dtype)
        self.coefs_, self.intercepts_ = net.get_params()
        self._net = net
        if self.solver != "lbfgs":
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _network(self, dtype):
        """The fastnn network holding coefs_ and intercepts_ (as the user may have set them)."""
        net = self._net
        if net.dtype != dtype:
            net = self._net = self._network_class(net.sizes, hidden=net.hidden, output=net.output,
                                                 dtype=dtype)
            if hasattr(self, "_optimizer"):
                self._optimizer.move_to(net)
        weights, biases = net.layer_views(net.params)
        views, arrays = weights + biases, list(self.coefs_) + list(self.intercepts_)
        if len(views) == len(arrays) and all(type(a) is np.ndarray and a.shape == v.shape
                                             for v, a in zip(views, arrays)):
            for view, array in zip(views, arrays):  # the common case, without set_params'
                view[...] = array                   # conversions
            if np.isfinite(net.params).all():
                return net
        net.set_params(list(self.coefs_), list(self.intercepts_))  # checks, names the fault
        return net

    def _store(self, flat):
        """Write a flat parameter vector into coefs_ and intercepts_ (in place, as
        scikit-learn updates them)."""
        weights, biases = self._net.layer_views(flat)
        for target, source in zip(self.coefs_ + self.intercepts_, weights + biases):
            target[...] = source

    def _loss_name(self):
        return OUTPUTS[self.out_activation_][1]

    def _new_optimizer(self):
        """scikit-learn's optimizer for the solver, with the estimator's hyperparameters."""
        if self.solver == "sgd":
            return SklearnSGD(lr=self.learning_rate_init, momentum=self.momentum,
                              nesterov=self.nesterovs_momentum)
        return SklearnAdam(lr=self.learning_rate_init, beta1=self.beta_1, beta2=self.beta_2,
                           eps=self.epsilon)

    def _fit_stochastic(self, net, X, Y, random_state, incremental, sample_weight):
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._new_optimizer()
        weight_val = None
        if self.early_stopping:
            stratify = Y if is_classifier(self) and self.n_outputs_ == 1 else None
            if sample_weight is None:
                X, X_val, Y, y_val = train_test_split(X, Y, random_state=random_state,
                                                      test_size=self.validation_fraction,
                                                      stratify=stratify)
            else:  # scikit-learn splits the weights with the rows
                X, X_val, Y, y_val, sample_weight, weight_val = train_test_split(
                    X, Y, sample_weight, random_state=random_state,
                    test_size=self.validation_fraction, stratify=stratify)
                sample_weight = np.ascontiguousarray(sample_weight)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            X, Y = as_rows(X, net.dtype), np.ascontiguousarray(Y)
            if is_classifier(self):
                y_val = self._label_binarizer.inverse_transform(y_val)
            best_params = net.params.copy()
        n_samples = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                              "going to be clipped")
            batch_size = min(self.batch_size, n_samples)
        sample_idx = np.arange(n_samples, dtype=np.int64)
        try:
            self.n_iter_ = 0
            while self.n_iter_ < self.max_iter:
                count = self._epochs_per_call(incremental, n_samples)
                orders = np.empty((count, n_samples if self.shuffle else 0), np.int64)
                for epoch in range(count if self.shuffle else 0):  # scikit-learn's draws
                    sample_idx = _shuffled(sample_idx, random_state)
                    orders[epoch] = sample_idx
                losses, penalties = net.train_epochs_unchecked(
                    X, Y, self._loss_name(), self._optimizer, orders, batch_size,
                    "batch_means", self.alpha, sample_weight)
                if not (len(losses) == count and np.isfinite(losses).all()
                        and np.isfinite(net.params).all()):  # fit puts everything back
                    raise ValueError(f"{DIVERGED} (training diverged in iteration "
                                     f"{self.n_iter_ + len(losses)}; coefs_ are left as they "
                                     "were)")
                stop = False
                for loss, penalty in zip(losses, penalties):
                    self.n_iter_ += 1
                    self.loss_ = self._reported_loss(loss, penalty)
                    self.t_ += n_samples
                    self.loss_curve_.append(self.loss_)
                    if self.verbose:
                        print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                    if self.early_stopping:
                        if self._update_validation(net, X_val, y_val, weight_val):
                            best_params[...] = net.params
                    else:
                        self._update_training_loss()
                if self.learning_rate == "invscaling" and self.solver == "sgd":
                    self._optimizer.lr = self.learning_rate_init / (self.t_ + 1) ** self.power_t
                if self._no_improvement_count > self.n_iter_no_change:
                    what = ("Validation score did not improve" if self.early_stopping
                            else "Training loss did not improve")
                    message = (f"{what} more than tol={self.tol:f} for "
                               f"{self.n_iter_no_change} consecutive epochs.")
                    stop = self._stop_or_slow_down(message)
                    if not stop:
                        self._no_improvement_count = 0
                if stop or incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                                  "reached and the optimization hasn't converged yet.",
                                  ConvergenceWarning)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        if self.early_stopping:
            net.params[...] = best_params

    def _epochs_per_call(self, incremental, n_samples):
        """Epochs to train in one compiled call: one where Python decides something after
        every epoch (partial_fit, early stopping's validation score, invscaling's learning
        rate); else every epoch up to the first after which the no-improvement rule could
        fire (its count grows by at most 1 an epoch), so stopping, and adaptive's slower
        learning rate, come exactly where scikit-learn has them. At most MAX_CALL_ROWS
        sample-steps a call."""
        if (incremental or self.early_stopping
                or (self.solver == "sgd" and self.learning_rate == "invscaling")):
            return 1
        return max(1, min(self.max_iter - self.n_iter_,
                          self.n_iter_no_change + 1 - self._no_improvement_count,
                          MAX_CALL_ROWS // n_samples))

    def _reported_loss(self, loss, penalty):
        """scikit-learn's loss: the data loss (averaged over outputs too for squared error)
        plus the penalty."""
        if self.out_activation_ == "identity":
            return float((loss - penalty) / self.n_outputs_ + penalty)
        return float(loss)

    def _update_training_loss(self):
        if self.loss_curve_[-1] > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if self.loss_curve_[-1] < self.best_loss_:
            self.best_loss_ = self.loss_curve_[-1]

    def _update_validation(self, net, X_val, y_val, weight_val):
        """Record the validation score (weighted by weight_val, if given); True when it is the
        best so far."""
        y_pred = self._decode(net.forward_unchecked(as_rows(X_val, net.dtype)))
        score = np.nan if (np.issubdtype(y_pred.dtype, np.floating)
                           and not np.isfinite(y_pred).all()) else self._score_function(
                               y_val, y_pred, sample_weight=weight_val)
        self.validation_scores_.append(score)
        if self.verbose:
            print("Validation score: %f" % score)
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            return True
        return False

    def _stop_or_slow_down(self, message):
        """scikit-learn's trigger_stopping: True to stop; "adaptive" SGD divides the learning
        rate by 5 instead until it is at most 1e-6."""
        if self.solver != "sgd" or self.learning_rate != "adaptive":
            if self.verbose:
                print(message + " Stopping.")
            return True
        if self._optimizer.lr <= MIN_ADAPTIVE_LEARNING_RATE:
            if self.verbose:
                print(message + " Learning rate too small. Stopping.")
            return True
        self._optimizer.lr /= 5.0
        if self.verbose:
            print(message + " Setting learning rate to %f" % self._optimizer.lr)
        return False

    def _fit_lbfgs(self, net, X, Y, sample_weight):
        """scipy's L-BFGS-B on the full-batch loss and its compiled gradient, as scikit-learn."""
        loss_name = self._loss_name()

        def loss_and_grad(flat):
            net.params[...] = flat
            loss, penalty, grad = net.loss_and_grad_unchecked(X, Y, loss_name, "mean",
                                                              self.alpha, sample_weight)
            return self._reported_loss(loss, penalty), grad

        result = scipy.optimize.minimize(
            loss_and_grad, net.params.copy(), method="L-BFGS-B", jac=True,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol})
        if result.status != 0:
            warnings.warn(f"lbfgs failed to converge after {result.nit} iteration(s) "
                          f"(status={result.status}): {result.message}", ConvergenceWarning)
        self.n_iter_ = min(result.nit, self.max_iter)
        self.loss_ = float(result.fun)
        net.params[...] = result.x
        if not np.isfinite(net.params).all():
            raise ValueError(DIVERGED)

    # ----------------------------------------------------------------- prediction
    def _forward(self, X):
        """Output activations for X, validated against the fitted model. A small, finite,
        C-contiguous float array of the fitted width, the estimator fitted without feature
        names, passes scikit-learn's validation as it is, so it skips it (a one-row predict
        takes a few microseconds, not the validation's tens). Sparse X never takes that way."""
        fast = (type(X) is np.ndarray and X.ndim == 2 and X.dtype in FLOAT_DTYPES
                and X.flags.c_contiguous and 0 < X.shape[0] <= FAST_PREDICT_ROWS
                and "_net" in vars(self) and X.shape[1] == getattr(self, "n_features_in_", -1)
                and not hasattr(self, "feature_names_in_") and np.isfinite(X).all())
        if not fast:
            check_is_fitted(self)
            X = validate_data(self, X, reset=False,  # numbers only, as scikit-learn's predict
                              accept_sparse=ACCEPT_SPARSE)
        net = self._network(self._net.dtype)
        return net.forward_unchecked(np.ascontiguousarray(X, net.dtype) if fast
                                     else _checked_rows(X, net.dtype))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's MLPClassifier (same parameters,
    attributes and results) trained by fastnn's compiled kernels.

    Softmax output and cross-entropy for several classes; a sigmoid output per label and
    binary cross-entropy for two classes and multilabel targets. See
    sklearn.neural_network.MLPClassifier for the parameters.
    """

    def _out_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, multi_output=True, dtype=(np.float64, np.float32),
                             accept_sparse=ACCEPT_SPARSE, reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = fitted_label_binarizer(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = np.unique(y) if is_plain_labels(y) else unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes "
                                     f"as in the previous call to fit. Previously got "
                                     f"{self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        return X, binarized(self._label_binarizer, y, X.dtype)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), weighted by sample_weight if given; ``classes`` (all
        labels) is required on the first call."""
        with self._unchanged_on_error():
            return self._partial_fit(X, y, sample_weight, classes)

    def _partial_fit(self, X, y, sample_weight, classes):
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
            self.classes_ = self._label_binarizer.classes_
        elif classes is not None and not np.array_equal(self.classes_, unique_labels(classes)):
            raise ValueError(f"`classes={classes!r}` is not the same as on the last call to "
                             f"partial_fit, was: {self.classes_!r}")
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _decode(self, out):
        """The labels of the outputs, as the label binarizer's inverse_transform gives them:
        the class of the largest output (multiclass) or of an output above 0.5 (binary),
        taken directly; multilabel through it."""
        kind = self._label_binarizer.y_type_
        if kind == "multiclass":
            return self.classes_.take(out.argmax(axis=1))
        if kind == "binary":
            return self.classes_.take((out.ravel() > 0.5).astype(np.intp))
        if self.n_outputs_ == 1:
            out = out.ravel()
        return self._label_binarizer.inverse_transform(out)

    _score_function = staticmethod(accuracy_score)

    def predict(self, X):
        """Predicted class labels (n_samples,), or label indicators for multilabel fits."""
        return self._decode(self._forward(X))

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes), columns in the order of classes_."""
        out = self._forward(X)
        if self.n_outputs_ == 1:
            return np.hstack([1 - out, out])
        return out

    def predict_log_proba(self, X):
        """log(predict_proba(X))."""
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's MLPRegressor (same parameters,
    attributes and results) trained by fastnn's compiled kernels: an identity output and
    half the squared error (``loss="squared_error"``), or an exp output and half the Poisson
    deviance (``loss="poisson"``, targets >= 0).
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, loss="squared_error",
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000):
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha,
                         batch_size=batch_size, learning_rate=learning_rate,
                         learning_rate_init=learning_rate_init, power_t=power_t,
                         max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
                         verbose=verbose, warm_start=warm_start, momentum=momentum,
                         nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun)
        self.loss = loss

    _parameter_constraints = dict(sklearn_neural_network.MLPRegressor._parameter_constraints)

    def _out_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X, y, incremental, reset):
        """As scikit-learn's, and negative targets refused for the Poisson loss (where
        scikit-learn's MLP trains to a NaN loss; the message is its PoissonRegressor's)."""
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32), accept_sparse=ACCEPT_SPARSE,
                             reset=reset)
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError("Some value(s) of y are negative which is not allowed for "
                             "Poisson regression.")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), weighted by sample_weight if given."""
        with self._unchanged_on_error():
            return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _decode(self, out):
        return out.ravel() if out.shape[1] == 1 else out

    _score_function = staticmethod(r2_score)

    def predict(self, X):
        """Predicted values, (n_samples,) for one output, else (n_samples, n_outputs)."""
        return self._decode(self._forward(X))
