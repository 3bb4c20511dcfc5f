"""Hyperparameter searches for fastnn's estimators: scikit-learn's GridSearchCV and
RandomizedSearchCV, with the fits side by side on the threads of one process.

The classes are scikit-learn's own, subclassed (sklearn.model_selection): the same
constructors, candidates, splits, fits, scores, ``cv_results_``, ``best_params_``,
``best_score_``, ``best_estimator_``, ``refit`` and ``n_splits_``. What changes is where the
fits run when the estimator is fastnn's (alone or as a Pipeline's last step) and ``n_jobs``
asks for more than one: fastnn's kernels release the GIL, so the fits go to joblib's threads
(joblib's ``prefer="threads"``) instead of worker processes, each fit on one core with BLAS
on one thread. No worker processes start, X is not copied to them, and the kernels are
compiled or loaded from Numba's cache once, not once per worker. A joblib backend chosen by
the caller, ``joblib.parallel_backend("dask")`` say, takes the fits as it takes
scikit-learn's. Fits too small to repay threads (under MIN_THREADED_FLOPS of training
each: their Python, scikit-learn's validation and scoring, would take turns for the GIL), and
any other estimator, are searched exactly as scikit-learn searches them.
"""
import contextlib
import numbers

import joblib
from sklearn import model_selection as sklearn_model_selection
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid
from sklearn.pipeline import Pipeline

from .estimators import BaseMLP
from .threads import one_blas_thread, parts_on_threads

__all__ = ["GridSearchCV", "RandomizedSearchCV"]


MIN_THREADED_FLOPS = 1e8
"""A fit with less training than this (at most max_iter epochs; a few milliseconds of
compiled code) spends as long in Python as in its kernels, and threads, which take turns for
the GIL there, ran such searches slower than joblib's worker processes."""


def trained_mlp(estimator):
    """The fastnn estimator fitting ``estimator`` trains (it, or a Pipeline's last step), or
    None."""
    while isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1]
    return estimator if isinstance(estimator, BaseMLP) else None


def training_flops(estimator, n_samples, n_features):
    """Floating-point operations of at most max_iter epochs over n_samples rows of
    ``estimator`` (a fastnn estimator) with one output: 6 per weight and row (forward,
    gradient and the error passed back)."""
    hidden = estimator.hidden_layer_sizes
    hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
    sizes = [n_features, *hidden, 1]
    if not all(isinstance(size, numbers.Integral) for size in sizes) or \
            not isinstance(estimator.max_iter, numbers.Integral):
        return float("inf")  # the fit will reject them; scikit-learn's search reports it
    weights = sum(k * n for k, n in zip(sizes[:-1], sizes[1:]))
    return 6.0 * weights * n_samples * estimator.max_iter


@contextlib.contextmanager
def fits_on_threads(n_jobs):
    """Context manager for a search over a fastnn estimator: joblib prefers threads, and with
    more than one job every fastnn fit and prediction runs on one thread, BLAS too, so that
    ``n_jobs`` fits side by side take one core each (a fit that split its batches over
    the cores would take them from the others)."""
    with joblib.parallel_config(prefer="threads"):
        if joblib.effective_n_jobs(n_jobs) == 1:
            yield
            return
        with parts_on_threads(False), one_blas_thread():
            yield


class _FitsOnThreads:
    def fit(self, X, y=None, **params):
        """scikit-learn's fit (run fit with all sets of parameters; ``params`` go to the
        estimator's fit, the scorer and the splitter), the fits of a fastnn estimator on
        threads where they repay it; returns self."""
        if not self._fits_repay_threads(X):
            return super().fit(X, y, **params)
        with fits_on_threads(self.n_jobs):
            return super().fit(X, y, **params)

    def _fits_repay_threads(self, X):
        """Whether the estimator is fastnn's and its smallest candidate's fit trains at
        least MIN_THREADED_FLOPS over all of X's rows."""
        shape = getattr(X, "shape", ())
        if trained_mlp(self.estimator) is None or len(shape) != 2:
            return False
        smallest = float("inf")
        try:
            for candidate in self._candidates_to_size():
                estimator = trained_mlp(clone(self.estimator).set_params(**candidate))
                if estimator is None:  # a candidate replaces the fastnn step
                    return False
                smallest = min(smallest, training_flops(estimator, shape[0], shape[1]))
        except Exception:  # a bad grid: scikit-learn's search raises its own error
            return False
        return smallest >= MIN_THREADED_FLOPS


class GridSearchCV(_FitsOnThreads, sklearn_model_selection.GridSearchCV):
    """sklearn.model_selection.GridSearchCV, with fastnn's fits on threads (see the module)."""

    def _candidates_to_size(self):
        return ParameterGrid(self.param_grid)


class RandomizedSearchCV(_FitsOnThreads, sklearn_model_selection.RandomizedSearchCV):
    """sklearn.model_selection.RandomizedSearchCV, with fastnn's fits on threads (see the
    module); the estimator's own settings size the fits (drawing candidates would take
    draws from the search's random state)."""

    def _candidates_to_size(self):
        return [{}]
