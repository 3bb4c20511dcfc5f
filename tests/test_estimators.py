"""fastnn.MLPClassifier / MLPRegressor against scikit-learn's own: same loss curves, weights
and predictions; scikit-learn's estimator checks; model selection tools; bad input."""
import copy
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="the estimators need scikit-learn")

from sklearn import neural_network  # noqa: E402
from sklearn.datasets import load_iris, make_multilabel_classification, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastnn  # noqa: E402

RTOL = 1e-10
IRIS = load_iris(return_X_y=True)


def regression_data(n_targets):
    X, y = make_regression(160, 6, n_targets=n_targets, noise=1.0, random_state=0)
    return X, y / 100


def count_data(n_targets):
    """Poisson counts (zeros among them) whose log-rate is linear in X."""
    X = regression_data(1)[0]
    rng = np.random.default_rng(0)
    y = rng.poisson(np.exp(0.3 * X @ rng.normal(size=(6, n_targets)))).astype(np.float64)
    return X, y[:, 0] if n_targets == 1 else y


DATA = {
    "multiclass": IRIS,
    "binary": (IRIS[0], IRIS[1] == 1),
    "multilabel": make_multilabel_classification(160, 8, n_classes=3, random_state=0),
    "one_output": regression_data(1),
    "three_outputs": regression_data(3),
    "poisson_one_output": count_data(1),
    "poisson_three_outputs": count_data(3),
}
CLASSIFICATION = ("multiclass", "binary", "multilabel")
TASK_PARAMS = {"poisson_one_output": dict(loss="poisson"),
               "poisson_three_outputs": dict(loss="poisson")}

SOLVERS = {
    "sgd": dict(solver="sgd", momentum=0.0),
    "momentum": dict(solver="sgd", momentum=0.9, nesterovs_momentum=False),
    "nesterov": dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
    "invscaling": dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.05),
    "adaptive": dict(solver="sgd", learning_rate="adaptive", tol=1e-2, n_iter_no_change=2),
    "adam": dict(solver="adam"),
    "lbfgs": dict(solver="lbfgs", max_iter=15),  # longer runs amplify rounding (line searches)
}
COMMON = dict(hidden_layer_sizes=(7, 5), random_state=1, max_iter=40, batch_size=16,
              learning_rate_init=0.01, alpha=0.01)


def estimator_pair(task, **params):
    """(fastnn's, scikit-learn's) estimator for the task with identical parameters."""
    kind = "Classifier" if task in CLASSIFICATION else "Regressor"
    params = dict(COMMON, **TASK_PARAMS.get(task, {}), **params)
    return (getattr(fastnn, f"MLP{kind}")(**params),
            getattr(neural_network, f"MLP{kind}")(**params))


def fit_quietly(estimator, X, y, method="fit", **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        return getattr(estimator, method)(X, y, **kwargs)


def assert_same_fit(ours, theirs, X, rtol=RTOL):
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    assert ours.n_layers_ == theirs.n_layers_ and ours.n_outputs_ == theirs.n_outputs_
    assert ours.out_activation_ == theirs.out_activation_
    assert ours.n_features_in_ == theirs.n_features_in_
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=rtol)
    if hasattr(theirs, "loss_curve_"):
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
        if theirs.best_loss_ is None:
            assert ours.best_loss_ is None
        else:
            np.testing.assert_allclose(ours.best_loss_, theirs.best_loss_, rtol=rtol)
        if theirs.validation_scores_ is None:
            assert ours.validation_scores_ is None
        else:
            np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_,
                                       rtol=rtol)
    for layer, (coefs, intercepts) in enumerate(zip(theirs.coefs_, theirs.intercepts_)):
        # A layer's rounding differences follow its parameters' scale: an intercept far
        # smaller than its layer's weights (a single output's, say) is compared on that scale.
        scale = max(np.abs(coefs).max(), np.abs(intercepts).max())
        for a, b in ((ours.coefs_[layer], coefs), (ours.intercepts_[layer], intercepts)):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale)
    if hasattr(theirs, "predict_proba"):
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
        np.testing.assert_array_equal(ours.classes_, theirs.classes_)
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=rtol,
                                   atol=rtol)
    else:
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("task", sorted(DATA))
@pytest.mark.parametrize("solver", sorted(SOLVERS))
@pytest.mark.parametrize("shuffle", [False, True])
def test_same_training_as_scikit_learn(task, solver, shuffle):
    X, y = DATA[task]
    ours, theirs = estimator_pair(task, shuffle=shuffle, **SOLVERS[solver])
    fit_quietly(ours, X, y)
    fit_quietly(theirs, X, y)
    assert_same_fit(ours, theirs, X)


def weights_for(X, seed=7):
    """Positive sample weights, far from uniform."""
    return np.random.default_rng(seed).uniform(0.1, 3.0, len(X))


@pytest.mark.parametrize("task", sorted(DATA))
@pytest.mark.parametrize("solver", sorted(SOLVERS))
@pytest.mark.parametrize("shuffle", [False, True])
def test_same_weighted_training_as_scikit_learn(task, solver, shuffle):
    X, y = DATA[task]
    weights = weights_for(X)
    ours, theirs = estimator_pair(task, shuffle=shuffle, **SOLVERS[solver])
    fit_quietly(ours, X, y, sample_weight=weights)
    fit_quietly(theirs, X, y, sample_weight=weights)
    assert_same_fit(ours, theirs, X)
    assert ours.score(X, y, sample_weight=weights) == pytest.approx(
        theirs.score(X, y, sample_weight=weights), rel=RTOL)


@pytest.mark.parametrize("task", ["multiclass", "binary", "three_outputs", "poisson_three_outputs"])
def test_same_weighted_early_stopping_as_scikit_learn(task):
    X, y = DATA[task]
    ours, theirs = estimator_pair(task, early_stopping=True, validation_fraction=0.2,
                                  n_iter_no_change=3, max_iter=60, **SOLVERS["adam"])
    fit_quietly(ours, X, y, sample_weight=weights_for(X))
    fit_quietly(theirs, X, y, sample_weight=weights_for(X))
    assert_same_fit(ours, theirs, X)


@pytest.mark.parametrize("task", ["multiclass", "one_output", "poisson_one_output"])
def test_same_weighted_partial_fit_and_warm_start_as_scikit_learn(task):
    X, y = DATA[task]
    weights = weights_for(X)
    extra = {"classes": np.unique(y)} if task == "multiclass" else {}
    ours, theirs = estimator_pair(task, **SOLVERS["momentum"])
    for _ in range(3):
        fit_quietly(ours, X, y, method="partial_fit", sample_weight=weights, **extra)
        fit_quietly(theirs, X, y, method="partial_fit", sample_weight=weights, **extra)
    assert_same_fit(ours, theirs, X)
    ours, theirs = estimator_pair(task, warm_start=True, max_iter=5, **SOLVERS["adam"])
    for _ in range(2):
        fit_quietly(ours, X, y, sample_weight=weights)
        fit_quietly(theirs, X, y, sample_weight=weights)
    assert_same_fit(ours, theirs, X)


def test_sample_weight_through_pipeline_and_cross_validate():
    from sklearn.model_selection import cross_validate
    X, y = IRIS
    weights = weights_for(X)
    ours = make_pipeline(StandardScaler(), fastnn.MLPClassifier((6,), max_iter=20,
                                                                random_state=0))
    theirs = make_pipeline(StandardScaler(), neural_network.MLPClassifier((6,), max_iter=20,
                                                                          random_state=0))
    fit_quietly(ours, X, y, mlpclassifier__sample_weight=weights)
    fit_quietly(theirs, X, y, mlpclassifier__sample_weight=weights)
    np.testing.assert_allclose(ours[-1].loss_curve_, theirs[-1].loss_curve_, rtol=RTOL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        scores = [cross_validate(model, X, y, cv=3,
                                 params={"mlpclassifier__sample_weight": weights})["test_score"]
                  for model in (ours, theirs)]
    np.testing.assert_allclose(scores[0], scores[1], rtol=RTOL)


def test_unit_weights_train_as_no_weights():
    X, y = IRIS
    plain, weighted = (fastnn.MLPClassifier((6,), max_iter=20, random_state=0)
                       for _ in range(2))
    fit_quietly(plain, X, y)
    fit_quietly(weighted, X, y, sample_weight=np.ones(len(X)))
    assert plain.loss_curve_ == weighted.loss_curve_
    for a, b in zip(plain.coefs_, weighted.coefs_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("task", ["multiclass", "one_output"])
def test_epochs_run_in_chunks_and_stop_where_scikit_learn_stops(task, monkeypatch):
    """Without a per-epoch decision the epochs up to where the no-improvement rule could fire
    run in one compiled call; training still stops at scikit-learn's epoch."""
    calls = []
    train_epochs = fastnn.MLP.train_epochs_unchecked
    monkeypatch.setattr(fastnn.MLP, "train_epochs_unchecked",
                        lambda net, X, T, loss, optimizer, orders, *args:
                        calls.append(len(orders))
                        or train_epochs(net, X, T, loss, optimizer, orders, *args))
    X, y = DATA[task]
    for params, chunk in ((dict(tol=0.0), 11), (dict(tol=1e-2, n_iter_no_change=4), 5)):
        calls.clear()
        ours, theirs = estimator_pair(task, **SOLVERS["momentum"], **params)
        fit_quietly(ours, X, y)
        fit_quietly(theirs, X, y)
        assert_same_fit(ours, theirs, X)
        assert calls[0] == chunk and sum(calls) == ours.n_iter_
    assert ours.n_iter_ < COMMON["max_iter"]  # the rule fired


@pytest.mark.parametrize("task", ["multiclass", "binary", "three_outputs", "poisson_one_output"])
@pytest.mark.parametrize("solver", ["nesterov", "adam"])
def test_same_early_stopping_as_scikit_learn(task, solver):
    X, y = DATA[task]
    ours, theirs = estimator_pair(task, early_stopping=True, validation_fraction=0.2,
                                  n_iter_no_change=3, max_iter=60, **SOLVERS[solver])
    fit_quietly(ours, X, y)
    fit_quietly(theirs, X, y)
    assert_same_fit(ours, theirs, X)


@pytest.mark.parametrize("task", ["multiclass", "three_outputs", "poisson_three_outputs"])
def test_same_partial_fit_and_warm_start_as_scikit_learn(task):
    X, y = DATA[task]
    extra = {"classes": np.unique(y)} if task in CLASSIFICATION else {}
    ours, theirs = estimator_pair(task, **SOLVERS["nesterov"])
    for estimator in (ours, theirs):
        for i in range(3):
            fit_quietly(estimator, X, y, "partial_fit", **(extra if i == 0 else {}))
    assert_same_fit(ours, theirs, X)
    ours, theirs = estimator_pair(task, warm_start=True, max_iter=5, **SOLVERS["adam"])
    for estimator in (ours, theirs):
        fit_quietly(estimator, X, y)
        estimator.set_params(learning_rate_init=0.002)
        fit_quietly(estimator, X, y)
    assert_same_fit(ours, theirs, X)


def test_float32_stays_float32_and_close_to_scikit_learn():
    X, y = IRIS
    ours, theirs = estimator_pair("multiclass", **SOLVERS["nesterov"])
    fit_quietly(ours, X.astype(np.float32), y)
    fit_quietly(theirs, X.astype(np.float32), y)
    assert all(W.dtype == np.float32 for W in ours.coefs_ + ours.intercepts_)
    assert_same_fit(ours, theirs, X.astype(np.float32), rtol=1e-4)


@pytest.mark.parametrize("solver", ["momentum", "invscaling", "adam"])
@pytest.mark.parametrize("task", ["multiclass", "three_outputs", "poisson_three_outputs"])
def test_compiled_kernels_match_the_reference(monkeypatch, solver, task):
    """The scikit-learn update kernels and the L2 penalty against fastnn.reference (1e-12)."""
    X, y = DATA[task]
    ours, _ = estimator_pair(task, shuffle=True, **SOLVERS[solver])
    reference, _ = estimator_pair(task, shuffle=True, **SOLVERS[solver])
    monkeypatch.setattr(reference, "_network_class", fastnn.reference.MLP)
    fit_quietly(ours, X, y)
    fit_quietly(reference, X, y)
    assert isinstance(reference._net, fastnn.reference.MLP)
    assert_same_fit(ours, reference, X, rtol=1e-12)


@parametrize_with_checks([fastnn.MLPClassifier(), fastnn.MLPRegressor()])
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        check(estimator)


def test_model_selection_tools():
    X, y = IRIS
    model = make_pipeline(StandardScaler(), fastnn.MLPClassifier((10,), solver="sgd",
                                                                 learning_rate_init=0.1,
                                                                 max_iter=300, random_state=0))
    scores = cross_val_score(model, X, y, cv=3)
    assert scores.min() > 0.8
    search = GridSearchCV(model, {"mlpclassifier__alpha": [1e-4, 1e-2],
                                  "mlpclassifier__hidden_layer_sizes": [(5,), (10,)]}, cv=3)
    fit_quietly(search, X, y)
    assert search.best_score_ > 0.8
    assert isinstance(search.best_estimator_[-1], fastnn.MLPClassifier)
    X, y = DATA["one_output"]
    regressor = make_pipeline(StandardScaler(), fastnn.MLPRegressor((20,), max_iter=500,
                                                                    learning_rate_init=0.01,
                                                                    random_state=0))
    assert fit_quietly(regressor, X, y).score(X, y) > 0.9


def test_pickle_round_trip_keeps_predictions_and_training_state():
    X, y = IRIS
    model = fit_quietly(fastnn.MLPClassifier((6,), solver="sgd", max_iter=5, random_state=0), X, y)
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))
    fit_quietly(model, X, y, "partial_fit")
    fit_quietly(copy, X, y, "partial_fit")
    np.testing.assert_array_equal(copy.coefs_[0], model.coefs_[0])


def test_a_model_loaded_from_a_read_only_memory_map_gets_writable_arrays(tmp_path):
    """joblib loads arrays from a memory map read-only (as it passes large arguments to its
    workers): the unpickled estimator's network holds writable copies of every array, so it
    predicts and trains on the kernels compiled for writable arrays."""
    joblib = pytest.importorskip("joblib")
    X, y = IRIS
    model = fit_quietly(fastnn.MLPClassifier((6,), solver="sgd", max_iter=5, random_state=0), X, y)
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib", mmap_mode="r")
    arrays = {name: value for name, value in vars(loaded._net).items()
              if isinstance(value, np.ndarray)}
    assert "_params" in arrays and "_activation_codes" in arrays
    assert all(array.flags.writeable and type(array) is np.ndarray for array in arrays.values())
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    fit_quietly(model, X, y, "partial_fit")
    fit_quietly(loaded, X, y, "partial_fit")
    np.testing.assert_array_equal(loaded.coefs_[0], model.coefs_[0])


def as_pickled_by_the_previous_version(model):
    """A copy of a fitted estimator laid out as fastnn pickled it before per-layer
    activations and optimizer objects: optimizer state as arrays, the net without its
    activation codes."""
    state = dict(model.__dict__)
    optimizer = state.pop("_optimizer")
    state.update(_optimizer_state=optimizer._state.copy(), _optimizer_step=optimizer._step.copy(),
                 _learning_rate=getattr(optimizer, "lr", model.learning_rate_init))
    net = fastnn.MLP.__new__(fastnn.MLP)
    net.__dict__.update({key: value for key, value in model._net.__dict__.items()
                         if key not in ("_activations", "_activation_codes")})
    state["_net"] = net
    old = type(model).__new__(type(model))
    old.__dict__.update(state)
    return old


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_pickles_of_the_previous_version_keep_predicting_and_training(solver):
    X, y = IRIS
    model = fit_quietly(fastnn.MLPClassifier((6,), solver=solver, learning_rate="adaptive",
                                             max_iter=5, random_state=0), X, y)
    copy = pickle.loads(pickle.dumps(as_pickled_by_the_previous_version(model)))
    np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))
    for _ in range(3):
        fit_quietly(model, X, y, "partial_fit")
        fit_quietly(copy, X, y, "partial_fit")
    np.testing.assert_array_equal(copy.coefs_[0], model.coefs_[0])


def test_coefs_set_by_the_user_are_used():
    X, y = IRIS
    model = fit_quietly(fastnn.MLPClassifier((6,), max_iter=5, random_state=0), X, y)
    model.coefs_[-1][...] = 0
    model.intercepts_[-1][...] = 0
    np.testing.assert_allclose(model.predict_proba(X), 1 / 3)


def test_verbose_prints_like_scikit_learn(capsys):
    X, y = IRIS
    ours, theirs = estimator_pair("multiclass", max_iter=3, verbose=True, **SOLVERS["nesterov"])
    fit_quietly(ours, X, y)
    printed_by_ours = capsys.readouterr().out
    fit_quietly(theirs, X, y)
    assert printed_by_ours == capsys.readouterr().out
    assert printed_by_ours.startswith("Iteration 1, loss = ")


def test_partial_fit_rules():
    X, y = IRIS
    with pytest.raises(ValueError, match="classes"):
        fastnn.MLPClassifier().partial_fit(X, y)
    assert not hasattr(fastnn.MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(fastnn.MLPRegressor(solver="lbfgs"), "partial_fit")
    with pytest.raises(ValueError, match="early_stopping"):
        fastnn.MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


def test_divergence_raises_and_leaves_the_weights():
    X, y = DATA["one_output"]
    model = fit_quietly(fastnn.MLPRegressor((8,), solver="sgd", max_iter=2, random_state=0), X, y)
    before = [W.copy() for W in model.coefs_]
    state = (model.n_iter_, model.t_, list(model.loss_curve_), model.best_loss_)
    model.set_params(learning_rate_init=1e3, warm_start=True, max_iter=50)
    with pytest.raises(ValueError, match="non-finite"):
        fit_quietly(model, X * 1e3, y)
    for W, old in zip(model.coefs_, before):
        np.testing.assert_array_equal(W, old)
    assert (model.n_iter_, model.t_, model.loss_curve_, model.best_loss_) == state


BAD_PARAMS = [
    ("hidden_layer_sizes", 0, ValueError), ("hidden_layer_sizes", (5, -1), ValueError),
    ("hidden_layer_sizes", "5", TypeError), ("hidden_layer_sizes", (2.5,), TypeError),
    ("activation", "softmax", ValueError), ("solver", "rmsprop", ValueError),
    ("alpha", -1.0, ValueError), ("batch_size", 0, ValueError), ("batch_size", "all", TypeError),
    ("learning_rate", "cosine", ValueError), ("learning_rate_init", 0.0, ValueError),
    ("power_t", -0.5, ValueError), ("max_iter", 0, ValueError), ("shuffle", "yes", TypeError),
    ("tol", float("nan"), ValueError), ("verbose", "loud", TypeError),
    ("warm_start", None, TypeError), ("momentum", 1.5, ValueError),
    ("nesterovs_momentum", 1.0, TypeError), ("early_stopping", "no", TypeError),
    ("validation_fraction", 1.0, ValueError), ("beta_1", 1.0, ValueError),
    ("beta_2", -0.1, ValueError), ("epsilon", 0.0, ValueError),
    ("n_iter_no_change", 0, ValueError), ("max_fun", 0, ValueError),
]


@pytest.mark.parametrize("name, value, error", BAD_PARAMS,
                         ids=[f"{name}={value!r}" for name, value, _ in BAD_PARAMS])
@pytest.mark.parametrize("kind", ["MLPClassifier", "MLPRegressor"])
def test_bad_parameters_are_named(kind, name, value, error):
    X, y = IRIS
    model = fit_quietly(getattr(fastnn, kind)((4,), max_iter=2, random_state=0, warm_start=True),
                        X, y)
    before = [W.copy() for W in model.coefs_]
    model.set_params(**{name: value})
    with pytest.raises(error, match=name):
        model.fit(X, y)
    for W, old in zip(model.coefs_, before):
        np.testing.assert_array_equal(W, old)


SKLEARN_PARAM_CASES = [(name, value) for name, value, _ in BAD_PARAMS] + [
    ("shuffle", 1), ("max_iter", 1.5), ("alpha", "0"), ("batch_size", "x"),
    ("random_state", -1), ("random_state", "seed"), ("tol", -1e-4), ("verbose", -1),
    ("validation_fraction", 0.0), ("n_iter_no_change", np.inf), ("momentum", 1),
    ("verbose", 0), ("batch_size", np.int64(5)), ("alpha", np.float32(1e-3)),
]


def outcome(estimator, X, y):
    """The exception type fit raises, or None when it fits."""
    try:
        fit_quietly(estimator, X, y)
    except Exception as error:  # noqa: BLE001  (compared below)
        return type(error)
    return None


@pytest.mark.parametrize("name, value", SKLEARN_PARAM_CASES,
                         ids=[f"{name}={value!r}" for name, value in SKLEARN_PARAM_CASES])
@pytest.mark.parametrize("kind", ["MLPClassifier", "MLPRegressor"])
def test_parameters_accepted_and_refused_as_scikit_learn(kind, name, value):
    """The same parameter value: both fit, or both raise the same exception type
    (InvalidParameterError, a ValueError and a TypeError, for what the constraints refuse)."""
    X, y = IRIS
    y = y if kind == "MLPClassifier" else y.astype(float)
    settings = dict(hidden_layer_sizes=(4,), max_iter=2, random_state=0, early_stopping=False)
    settings[name] = value
    theirs = outcome(getattr(neural_network, kind)(**settings), X, y)
    ours = outcome(getattr(fastnn, kind)(**settings), X, y)
    assert ours == theirs


def test_a_refused_fit_leaves_the_fitted_estimator_as_it_was():
    """Parameters are validated before anything changes, and a fit that fails later (a
    diverging warm start, a validation split too small) puts every attribute back."""
    X, y = IRIS
    model = fit_quietly(fastnn.MLPClassifier((4,), max_iter=5, random_state=0), X, y)
    before = {name: copy.deepcopy(value) for name, value in vars(model).items()
              if name.endswith("_") and not name.startswith("_")}
    predictions = model.predict(X)

    def refused(**params):
        model.set_params(**params)
        with pytest.raises(ValueError):
            fit_quietly(model, X[:, :3], y + 5)
        model.set_params(random_state=0, warm_start=False, early_stopping=False,
                         validation_fraction=0.1, learning_rate_init=0.001)
        for name, value in before.items():
            assert_same_attribute(getattr(model, name), value)
        np.testing.assert_array_equal(model.predict(X), predictions)
    refused(random_state=-1)
    refused(early_stopping=True, validation_fraction=0.0)


def assert_same_attribute(actual, expected):
    if isinstance(expected, list) and expected and isinstance(expected[0], np.ndarray):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            np.testing.assert_array_equal(a, e)
    elif isinstance(expected, np.ndarray):
        np.testing.assert_array_equal(actual, expected)
    else:
        assert actual == expected


def test_predict_refuses_strings_as_scikit_learn():
    X, y = IRIS
    model = fit_quietly(fastnn.MLPClassifier((4,), max_iter=2, random_state=0), X, y)
    with pytest.raises(ValueError):
        model.predict(X.astype(str))
    with pytest.raises(ValueError):
        fit_quietly(neural_network.MLPClassifier((4,), max_iter=2, random_state=0), X,
                    y).predict(X.astype(str))


def test_poisson_refuses_negative_targets_before_anything_changes():
    X, y = DATA["poisson_one_output"]
    with pytest.raises(ValueError, match="negative"):
        fastnn.MLPRegressor(loss="poisson").fit(X, y - 1)
    fitted = fit_quietly(fastnn.MLPRegressor((4,), loss="poisson", max_iter=2, random_state=0),
                         X, y)
    coefs = copy.deepcopy(fitted.coefs_)
    with pytest.raises(ValueError, match="negative"):
        fitted.partial_fit(X, y - 1)
    for a, b in zip(fitted.coefs_, coefs):
        np.testing.assert_array_equal(a, b)


def test_warm_start_after_the_loss_changed_is_refused():
    """The output layer is fixed by the first fit (scikit-learn would keep the exp output
    and train it with squared error)."""
    X, y = DATA["poisson_one_output"]
    model = fit_quietly(fastnn.MLPRegressor((4,), loss="poisson", max_iter=2, random_state=0,
                                            warm_start=True), X, y)
    model.set_params(loss="squared_error")
    with pytest.raises(ValueError, match="output layer changed"):
        model.fit(X, y)
    assert model.out_activation_ == "exp"


def test_fastnn_imports_without_scikit_learn():
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import fastnn\n"
            "try:\n    fastnn.MLPClassifier\nexcept ImportError as e:\n    print('ImportError:', e)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "ImportError: fastnn.MLPClassifier needs scikit-learn" in result.stdout


# ---------------------------------------------------------------------------- fast predict
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("task", sorted(DATA))
def test_small_predictions_skip_validation_and_agree_with_scikit_learn(task, dtype):
    """A few C-contiguous float rows take the fast path; its results equal scikit-learn's
    (and the validated path's: the same rows as a list)."""
    ours, theirs = estimator_pair(task, max_iter=5, **SOLVERS["adam"])
    X, y = DATA[task]
    fit_quietly(ours, X, y)
    fit_quietly(theirs, X, y)
    rtol = 1e-5 if dtype == np.float32 else RTOL
    for rows in (X[:1], X[:7]):
        rows = np.ascontiguousarray(rows, dtype)
        np.testing.assert_array_equal(ours.predict(rows), ours.predict(rows.tolist()))
        if task in CLASSIFICATION:
            np.testing.assert_array_equal(ours.predict(rows), theirs.predict(rows))
            np.testing.assert_allclose(ours.predict_proba(rows), theirs.predict_proba(rows),
                                       rtol=rtol)
        else:
            np.testing.assert_allclose(ours.predict(rows), theirs.predict(rows), rtol=rtol)


def test_small_predictions_are_still_validated():
    X, y = IRIS
    model = fit_quietly(fastnn.MLPClassifier((4,), max_iter=2, random_state=0), X, y)
    for bad in (np.full((1, 4), np.nan), np.ones((1, 3)), np.ones((1, 5))):
        with pytest.raises(ValueError):
            model.predict(bad)
    with pytest.raises(Exception, match="not fitted"):
        fastnn.MLPClassifier().predict(np.ones((1, 4)))
    model.coefs_[0][0, 0] = np.nan  # coefs_ as the user set them are used, and checked
    with pytest.raises(ValueError, match="NaN"):
        model.predict(X[:1].copy())


def test_small_predictions_of_a_model_fitted_on_a_dataframe_warn_as_scikit_learn():
    pandas = pytest.importorskip("pandas")
    X, y = IRIS
    frame = pandas.DataFrame(X, columns=list("abcd"))
    model = fit_quietly(fastnn.MLPClassifier((4,), max_iter=2, random_state=0), frame, y)
    with pytest.warns(UserWarning, match="feature names"):
        model.predict(X[:1].copy())


LABELS = {
    "binary": np.array([0, 1, 1, 0]),
    "multiclass int32": np.array([3, 1, 2, 2], np.int32),
    "one class": np.array([5, 5, 5]),
    "booleans": np.array([True, False, True]),
    "negative int16": np.array([-1, 7], np.int16),
    "ten uint8": np.arange(10, dtype=np.uint8),
    "strings": np.array(["b", "a", "c"]),           # LabelBinarizer's own way
    "floats": np.array([0.0, 1.0, 2.0]),
}
LATER = {  # labels transformed after fitting on LABELS[key]
    "binary": [np.array([1, 1]), np.array([0, 2]), np.array([0, 1, 2])],
    "multiclass int32": [np.array([2], np.int32), np.array([1, 3, 9])],
    "one class": [np.array([5]), np.array([5, 6])],
    "booleans": [np.array([False])],
}


@pytest.mark.parametrize("name", LABELS)
def test_labels_binarize_as_label_binarizer_does(name):
    """The classifier's own binarization of integer and boolean labels (estimators.
    fitted_label_binarizer and binarized) gives LabelBinarizer's fitted state and columns."""
    from sklearn.preprocessing import LabelBinarizer
    from fastnn.estimators import binarized, fitted_label_binarizer
    y = LABELS[name]
    ours, theirs = fitted_label_binarizer(y), LabelBinarizer().fit(y)
    assert vars(ours).keys() == vars(theirs).keys()
    assert ours.y_type_ == theirs.y_type_ and ours.sparse_input_ == theirs.sparse_input_
    assert ours.classes_.dtype == theirs.classes_.dtype
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    for labels in [y] + LATER.get(name, []):
        for dtype in (np.float32, np.float64):
            expected = theirs.transform(labels).astype(dtype)
            got = binarized(ours, labels, dtype)
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(got, expected)
