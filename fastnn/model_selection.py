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
scikit-learn's. Any other estimator is searched exactly as scikit-learn searches it.
"""
import contextlib

import joblib
from sklearn import model_selection as sklearn_model_selection
from sklearn.pipeline import Pipeline

from .estimators import BaseMLP
from .threads import one_blas_thread, parts_on_threads

__all__ = ["GridSearchCV", "RandomizedSearchCV"]


def trains_fastnn(estimator):
    """Whether fitting ``estimator`` trains a fastnn estimator (it is one, or a Pipeline
    ending in one)."""
    while isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1]
    return isinstance(estimator, BaseMLP)


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
        threads; returns self."""
        if not trains_fastnn(self.estimator):
            return super().fit(X, y, **params)
        with fits_on_threads(self.n_jobs):
            return super().fit(X, y, **params)


class GridSearchCV(_FitsOnThreads, sklearn_model_selection.GridSearchCV):
    """sklearn.model_selection.GridSearchCV, with fastnn's fits on threads (see the module)."""


class RandomizedSearchCV(_FitsOnThreads, sklearn_model_selection.RandomizedSearchCV):
    """sklearn.model_selection.RandomizedSearchCV, with fastnn's fits on threads (see the
    module)."""
