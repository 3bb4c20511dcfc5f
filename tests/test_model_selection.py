"""fastnn.model_selection against scikit-learn's searches over the same estimator: the same
cv_results_ scores, best parameters and refitted model, with the fits on threads, each on
one core."""
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the searches need scikit-learn")

from scipy.stats import loguniform  # noqa: E402
from sklearn import model_selection as sklearn_model_selection  # noqa: E402
from sklearn.datasets import load_digits, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import fastnn  # noqa: E402
from fastnn import model_selection, threads  # noqa: E402

digits_X, digits_y = load_digits(return_X_y=True)
CLASSIFICATION = (digits_X[:300] / 16, digits_y[:300])
REGRESSION = make_regression(200, 8, noise=1.0, random_state=0)
REGRESSION = (REGRESSION[0], REGRESSION[1] / 100)

GRID = {"hidden_layer_sizes": [(8,), (16,)], "alpha": [1e-4, 1e-2]}
CASES = {
    # name: (estimator, data, search keyword arguments)
    "adam": (fastnn.MLPClassifier(max_iter=8, random_state=0), CLASSIFICATION, {}),
    "sgd": (fastnn.MLPClassifier(solver="sgd", learning_rate_init=0.1, max_iter=8,
                                 random_state=0), CLASSIFICATION, {}),
    "lbfgs": (fastnn.MLPClassifier(solver="lbfgs", max_iter=8, random_state=0),
              CLASSIFICATION, {}),
    "early_stopping": (fastnn.MLPClassifier(early_stopping=True, max_iter=8, random_state=0),
                       CLASSIFICATION, {}),
    "regressor": (fastnn.MLPRegressor(max_iter=8, random_state=0), REGRESSION, {}),
    "train_scores": (fastnn.MLPClassifier(max_iter=8, random_state=0), CLASSIFICATION,
                     dict(return_train_score=True)),
    "multimetric": (fastnn.MLPClassifier(max_iter=8, random_state=0), CLASSIFICATION,
                    dict(scoring=["accuracy", "neg_log_loss"], refit="neg_log_loss")),
    "no_refit": (fastnn.MLPClassifier(max_iter=8, random_state=0), CLASSIFICATION,
                 dict(refit=False)),
    "one_job": (fastnn.MLPClassifier(max_iter=8, random_state=0), CLASSIFICATION,
                dict(n_jobs=1)),
    "pipeline": (make_pipeline(StandardScaler(), fastnn.MLPRegressor(max_iter=8,
                                                                     random_state=0)),
                 REGRESSION, dict(param_grid={"mlpregressor__alpha": [1e-4, 1e-2]})),
    "not_fastnn": (Ridge(), REGRESSION, dict(param_grid={"alpha": [0.1, 1.0]})),
}
SCORE_KEYS = ("mean_test_score", "std_test_score", "rank_test_score", "split0_test_score",
              "mean_train_score", "mean_test_accuracy", "mean_test_neg_log_loss")


@pytest.fixture(autouse=True)
def fits_on_threads_however_small(monkeypatch):
    """The searches here train small fits, which run on threads only with no minimum."""
    monkeypatch.setattr(model_selection, "MIN_THREADED_FLOPS", 0)


def searched(search_class, estimator, data, **arguments):
    arguments = dict(dict(cv=3, n_jobs=2), **arguments)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return search_class(estimator, **arguments).fit(*data)


def assert_same_search(ours, theirs):
    assert set(ours.cv_results_) == set(theirs.cv_results_)
    for key in SCORE_KEYS:
        if key in theirs.cv_results_:
            np.testing.assert_allclose(ours.cv_results_[key], theirs.cv_results_[key],
                                       rtol=1e-10, atol=1e-12, err_msg=key)
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]
    assert ours.n_splits_ == theirs.n_splits_
    if hasattr(theirs, "best_params_"):
        assert ours.best_params_ == theirs.best_params_
        assert ours.best_index_ == theirs.best_index_
    if hasattr(theirs, "best_score_"):
        assert ours.best_score_ == pytest.approx(theirs.best_score_, rel=1e-10)
    assert hasattr(ours, "best_estimator_") == hasattr(theirs, "best_estimator_")
    if hasattr(theirs, "best_estimator_"):
        X = REGRESSION[0][:5] if ours.best_estimator_.n_features_in_ == 8 else \
            CLASSIFICATION[0][:5]
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-10)


@pytest.mark.parametrize("case", CASES)
def test_grid_search_gives_scikit_learns_results(case):
    estimator, data, arguments = CASES[case]
    arguments = dict(dict(param_grid=GRID), **arguments)
    ours = searched(model_selection.GridSearchCV, estimator, data, **arguments)
    theirs = searched(sklearn_model_selection.GridSearchCV, estimator, data, **arguments)
    assert type(ours).__mro__[1:3] == (model_selection._FitsOnThreads,
                                      sklearn_model_selection.GridSearchCV)
    assert_same_search(ours, theirs)


@pytest.mark.parametrize("estimator, data", [CASES["adam"][:2], CASES["regressor"][:2]])
def test_randomized_search_gives_scikit_learns_results(estimator, data):
    arguments = dict(param_distributions={"alpha": loguniform(1e-5, 1e-1),
                                          "hidden_layer_sizes": [(8,), (16,)]},
                     n_iter=4, random_state=0)
    ours = searched(model_selection.RandomizedSearchCV, estimator, data, **arguments)
    theirs = searched(sklearn_model_selection.RandomizedSearchCV, estimator, data, **arguments)
    assert_same_search(ours, theirs)


def test_sample_weight_goes_to_the_fits_as_in_scikit_learn():
    estimator, (X, y), _ = CASES["adam"]
    weight = np.random.default_rng(0).random(len(y))
    ours, theirs = [search(estimator, GRID, cv=3, n_jobs=2).fit(X, y, sample_weight=weight)
                    for search in (model_selection.GridSearchCV,
                                   sklearn_model_selection.GridSearchCV)]
    assert_same_search(ours, theirs)
    unweighted = searched(model_selection.GridSearchCV, estimator, (X, y), param_grid=GRID)
    assert not np.array_equal(ours.best_estimator_.coefs_[0],
                              unweighted.best_estimator_.coefs_[0])


def test_failing_candidates_score_error_score_as_in_scikit_learn():
    estimator, data, _ = CASES["adam"]
    grid = {"hidden_layer_sizes": [(8,), (0,)]}
    with pytest.warns(FitFailedWarning):
        ours = searched(model_selection.GridSearchCV, estimator, data, param_grid=grid)
    with pytest.warns(FitFailedWarning):
        theirs = searched(sklearn_model_selection.GridSearchCV, estimator, data, param_grid=grid)
    assert np.isnan(ours.cv_results_["mean_test_score"][1])
    assert_same_search(ours, theirs)


class RecordingClassifier(fastnn.MLPClassifier):
    """Records, in each fit, the way parts run and the BLAS thread counts."""

    seen = []

    def fit(self, X, y, sample_weight=None):
        blas = [library.num_threads for library in threads._blas_libraries()]
        RecordingClassifier.seen.append((threads.forced_way(), blas))
        return super().fit(X, y, sample_weight)


@pytest.mark.parametrize("n_jobs, one_core_each", [(2, True), (1, False), (None, False)])
def test_fits_run_on_threads_one_core_each_with_more_than_one_job(n_jobs, one_core_each):
    RecordingClassifier.seen = []
    estimator = RecordingClassifier(max_iter=2, random_state=0)
    blas_before = [library.num_threads for library in threads._blas_libraries()]
    searched(model_selection.GridSearchCV, estimator, CLASSIFICATION, param_grid=GRID,
             n_jobs=n_jobs)
    assert len(RecordingClassifier.seen) == 4 * 3 + 1  # in this process: on threads
    for forced, blas in RecordingClassifier.seen:
        assert (forced is False) == one_core_each
        assert (blas == [1] * len(blas)) == (one_core_each or blas_before == [1] * len(blas))
    assert threads.forced_way() is None
    assert [library.num_threads for library in threads._blas_libraries()] == blas_before


def test_a_search_that_raises_leaves_the_thread_settings_as_they_were():
    blas_before = [library.num_threads for library in threads._blas_libraries()]
    search = model_selection.GridSearchCV(fastnn.MLPClassifier(), {"alpha": [1e-4]}, n_jobs=2,
                                          error_score="raise")
    with pytest.raises(ValueError, match="n_samples"):
        search.fit(CLASSIFICATION[0][:2], CLASSIFICATION[1][:2])
    assert threads.forced_way() is None
    assert [library.num_threads for library in threads._blas_libraries()] == blas_before


@pytest.mark.parametrize("estimator, expected", [
    (fastnn.MLPClassifier(), True), (fastnn.MLPRegressor(), True),
    (make_pipeline(StandardScaler(), fastnn.MLPClassifier()), True),
    (make_pipeline(make_pipeline(StandardScaler(), fastnn.MLPRegressor())), True),
    (Ridge(), False), (make_pipeline(fastnn.MLPRegressor(), Ridge()), False)])
def test_trained_mlp_finds_the_fastnn_estimator(estimator, expected):
    assert (model_selection.trained_mlp(estimator) is not None) is expected


@pytest.mark.parametrize("search, expected", [
    # digits: 1797 rows x 64 features; 6 flops per weight, row and epoch
    (model_selection.GridSearchCV(fastnn.MLPClassifier(max_iter=30),
                                  {"hidden_layer_sizes": [(32,), (128,)]}), True),
    (model_selection.GridSearchCV(fastnn.MLPClassifier(max_iter=30),
                                  {"hidden_layer_sizes": [(1,), (128,)]}), False),  # 20 MFLOP
    (model_selection.GridSearchCV(fastnn.MLPClassifier(max_iter=2), {"alpha": [1e-4]}), True),
    (model_selection.GridSearchCV(fastnn.MLPClassifier((8,), max_iter=5), {"alpha": [1.0]}),
     False),
    (model_selection.GridSearchCV(make_pipeline(StandardScaler(), fastnn.MLPClassifier()),
                                  {"mlpclassifier__max_iter": [10, 20]}), True),
    (model_selection.GridSearchCV(make_pipeline(StandardScaler(), fastnn.MLPClassifier()),
                                  {"mlpclassifier": [fastnn.MLPClassifier(), Ridge()]}), False),
    (model_selection.RandomizedSearchCV(fastnn.MLPClassifier(), {"alpha": loguniform(1e-5, 1)},
                                        n_iter=2), True),
    (model_selection.GridSearchCV(Ridge(), {"alpha": [1.0]}), False),
    (model_selection.GridSearchCV(fastnn.MLPClassifier(), {"no_such": [1]}), False),
    (model_selection.GridSearchCV(fastnn.MLPClassifier(), "not a grid"), False),
])
def test_fits_go_to_threads_when_they_repay_it(monkeypatch, search, expected):
    monkeypatch.setattr(model_selection, "MIN_THREADED_FLOPS", 1e8)
    assert search._fits_repay_threads(digits_X) is expected


def test_small_fits_are_searched_as_scikit_learn_searches_them(monkeypatch):
    monkeypatch.setattr(model_selection, "MIN_THREADED_FLOPS", 1e8)
    RecordingClassifier.seen = []
    searched(model_selection.GridSearchCV, RecordingClassifier(max_iter=2, random_state=0),
             CLASSIFICATION, param_grid=GRID, n_jobs=1)
    assert [forced for forced, _ in RecordingClassifier.seen] == [None] * (4 * 3 + 1)


@pytest.mark.parametrize("grid", [{"no_such": [1]}, "not a grid"])
def test_a_bad_grid_raises_scikit_learns_error(grid):
    errors = []
    for search in (model_selection.GridSearchCV, sklearn_model_selection.GridSearchCV):
        with pytest.raises((ValueError, TypeError)) as error:
            search(fastnn.MLPClassifier(max_iter=1), grid, n_jobs=2).fit(*CLASSIFICATION)
        errors.append((error.type, str(error.value)))
    assert errors[0] == errors[1]
