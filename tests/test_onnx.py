"""fastnn.to_onnx and skl2onnx's conversion of fastnn's estimators, run by onnxruntime and
compared with fastnn's own outputs: every activation, both dtypes, every kind of target."""
import sys
import warnings
from dataclasses import dataclass

import numpy as np
import pytest

import fastnn
from fastnn import _registry as reg
from fastnn import export

EXTRA = 'the onnx extra (pip install "fastnn[onnx]")'
onnx = pytest.importorskip("onnx", reason=f"ONNX export needs {EXTRA}")
onnxruntime = pytest.importorskip("onnxruntime", reason=f"the exported models run on {EXTRA}")

DTYPES = [np.float64, np.float32]
TOL = {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=1e-5, atol=1e-6)}
"""onnxruntime's outputs against fastnn's (atol: for values near 0 that sums cancel to)."""
X = np.random.default_rng(0).normal(size=(40, 4))


def run(model, X):
    """{output name: value} of the model on X in onnxruntime (checked by onnx first)."""
    onnx.checker.check_model(model, full_check=True)
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return dict(zip([output.name for output in session.get_outputs()],
                    session.run(None, {"X": X})))


def declared(model):
    """(name, element type, shape) of each output, None for a dimension of any size."""
    return [(output.name, output.type.tensor_type.elem_type,
             [dim.dim_value or None for dim in output.type.tensor_type.shape.dim])
            for output in model.graph.output]


# ----------------------------------------------------------------- fastnn.MLP
@dataclass(frozen=True)
class NetCase:
    sizes: tuple
    hidden: object
    output: str
    bias: bool = True

    def __str__(self):
        hidden = self.hidden if isinstance(self.hidden, str) else "+".join(self.hidden)
        bias = "" if self.bias else "_nobias"
        return f"{'-'.join(map(str, self.sizes))}_{hidden}_{self.output}{bias}"


NET_CASES = (
    [NetCase((4, 6, 3), hidden, "linear") for hidden in reg.HIDDEN_ACTIVATIONS]
    + [NetCase((4, 6, 3), "tanh", output) for output in reg.OUTPUT_ACTIVATIONS]
    + [NetCase((4, 1), "tanh", output) for output in reg.OUTPUT_ACTIVATIONS if output != "softmax"]
    + [NetCase((4, 7, 6, 5, 2), ("relu", "softplus", "leaky_relu"), "softmax"),
       NetCase((4, 5, 5, 1), ("sigmoid", "tanh"), "sigmoid", bias=False),
       NetCase((4, 6, 3), "relu", "softmax", bias=False)])
"""Every activation as hidden and as output layer, one and several outputs, no hidden layer,
per-layer activations, a deep network, no biases."""


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", NET_CASES, ids=str)
def test_network_outputs_equal_forward_and_predict(case, dtype):
    net = fastnn.MLP(list(case.sizes), hidden=case.hidden, output=case.output, bias=case.bias,
                     seed=3, dtype=dtype)
    model = fastnn.to_onnx(net)
    assert model.opset_import[0].version == export.OPSET
    assert model.graph.input[0].name == "X"
    out = run(model, X.astype(dtype))
    assert out["forward"].dtype == dtype
    np.testing.assert_allclose(out["forward"], net.forward(X), **TOL[dtype])
    predicted = net.predict(X)
    assert out["predict"].dtype == predicted.dtype and out["predict"].shape == predicted.shape
    if predicted.dtype.kind == "i":
        np.testing.assert_array_equal(out["predict"], predicted)
    else:
        np.testing.assert_allclose(out["predict"], predicted, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("role, name", [("hidden", name) for name in reg.HIDDEN_ACTIVATIONS]
                         + [("output", name) for name in reg.OUTPUT_ACTIVATIONS])
def test_each_activation_keeps_relative_accuracy_at_extreme_inputs(role, name, dtype):
    """A unit of weight 1 on inputs from -700 to 700 (float32: within +-85): outputs to
    fastnn's relative tolerance even where they underflow towards 0."""
    z = np.array([-700, -100, -40, -36, -20, -15, -3, -1e-3, -1e-300, 0, 1e-8, 0.5, 3, 20, 40,
                  80, 700])
    z = z[np.abs(z) < (85 if dtype == np.float32 else np.inf)][:, None].astype(dtype)
    if role == "hidden":
        net = fastnn.MLP([1, 1, 1], hidden=name, output="linear", dtype=dtype)
        net.set_params([np.ones((1, 1))] * 2, [np.zeros(1)] * 2)
    elif name == "softmax":
        net = fastnn.MLP([1, 2], output=name, dtype=dtype)
        net.set_params([np.array([[1.0, -1.0]])], [np.zeros(2)])
    else:
        net = fastnn.MLP([1, 1], output=name, dtype=dtype)
        net.set_params([np.ones((1, 1))], [np.zeros(1)])
    np.testing.assert_allclose(run(fastnn.to_onnx(net), z)["forward"], net.forward(z),
                               rtol=TOL[dtype]["rtol"], atol=0)


def test_every_registered_activation_has_an_onnx_form():
    assert set(reg.ACTIVATIONS) <= set(export.ONNX_ACTIVATIONS)


@pytest.mark.parametrize("dtype", ["float32", np.float32, np.dtype("float64")])
def test_dtype_argument_converts_the_weights(dtype):
    net = fastnn.MLP([4, 6, 3], hidden="softplus", output="softmax", seed=0)
    model = fastnn.to_onnx(net, dtype=dtype)
    out = run(model, X.astype(dtype))
    assert out["forward"].dtype == np.dtype(dtype)
    np.testing.assert_allclose(out["forward"], net.forward(X), **TOL[np.dtype(dtype).type])


# ----------------------------------------------------------------- estimators
TARGETS = {
    "binary": ("Classifier", X[:, 0] + X[:, 1] > 0),
    "multiclass": ("Classifier", (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)),
    "float_classes": ("Classifier", 2.0 * (X[:, 3] > 0)),
    "strings": ("Classifier",
                np.array(["ant", "bee", "cat"])[(X[:, 2] > 0).astype(int) + (X[:, 3] > 0.5)]),
    "multilabel": ("Classifier", np.c_[X[:, 0] > 0, X[:, 1] > 0, X[:, 2] > 0].astype(int)),
    "two_labels": ("Classifier", np.c_[X[:, 0] > 0, X[:, 1] > 0].astype(int)),
    "one_output": ("Regressor", X @ [0.5, -1.0, 0.2, 0.1]),
    "two_outputs": ("Regressor", np.c_[X[:, 0] - X[:, 1], X[:, 2] ** 2]),
    "poisson": ("Regressor", np.random.default_rng(1).poisson(np.exp(0.5 * X[:, 0]))),
}
ACTIVATION = {"binary": "logistic", "multiclass": "relu", "float_classes": "tanh",
              "strings": "tanh", "multilabel": "identity", "two_labels": "relu",
              "one_output": "tanh", "two_outputs": "logistic", "poisson": "relu"}
"""Each hidden activation of scikit-learn's in one case or more."""
HIDDEN = {"multiclass": (), "two_outputs": (6, 5)}
"""No hidden layer, two, else one of 5 units."""
PARAMS = {"poisson": dict(loss="poisson")}


def fitted(task, dtype, library=None):
    """fastnn's estimator (scikit-learn's with library=sklearn.neural_network) for the task,
    fitted for a few epochs on X in dtype."""
    pytest.importorskip("sklearn", reason="the estimators need scikit-learn")
    kind, y = TARGETS[task]
    estimator = getattr(library or fastnn, f"MLP{kind}")(
        hidden_layer_sizes=HIDDEN.get(task, (5,)), activation=ACTIVATION[task], max_iter=5,
        learning_rate_init=0.05, random_state=0, **PARAMS.get(task, {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # did not converge
        return estimator.fit(X.astype(dtype), y)


def expected(estimator, X):
    """{output name: value} as the estimator's predict and predict_proba give them."""
    if hasattr(estimator, "predict_proba"):
        return {"label": estimator.predict(X), "probabilities": estimator.predict_proba(X)}
    return {"variable": estimator.predict(X).reshape(len(X), -1)}


@pytest.fixture(scope="module")
def skl2onnx():
    module = pytest.importorskip("skl2onnx", reason=f"converting through skl2onnx needs {EXTRA}")
    export.register_skl2onnx()
    return module


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("task", sorted(TARGETS))
def test_estimator_outputs_equal_predict_and_predict_proba(task, dtype, skl2onnx):
    """fastnn.to_onnx and skl2onnx.to_onnx give the same outputs: those of predict and
    predict_proba, under the names and types skl2onnx gives scikit-learn's MLPs."""
    from sklearn import neural_network

    estimator = fitted(task, dtype)
    model = fastnn.to_onnx(estimator)
    options = {"zipmap": False} if TARGETS[task][0] == "Classifier" else None
    # skl2onnx has no exp output for scikit-learn's Poisson MLP: its other regressor's names
    like = "one_output" if task == "poisson" else task
    theirs = skl2onnx.to_onnx(fitted(like, dtype, neural_network), X[:1].astype(dtype),
                              options=options)
    assert [(name, kind) for name, kind, _ in declared(model)] == \
           [(name, kind) for name, kind, _ in declared(theirs)]
    out = run(model, X.astype(dtype))
    for name, value in expected(estimator, X.astype(dtype)).items():
        assert out[name].shape == value.shape
        assert declared(model)[list(out).index(name)][2] == [None] + list(value.shape[1:])
        if name == "label":  # int64 or strings, as skl2onnx gives them
            np.testing.assert_array_equal(out[name], value)
        else:
            assert out[name].dtype == dtype
            np.testing.assert_allclose(out[name], value, **TOL[dtype])
    converted = skl2onnx.to_onnx(estimator, X[:1].astype(dtype), options=options)
    assert declared(converted) == declared(model)
    for name, value in run(converted, X.astype(dtype)).items():
        np.testing.assert_array_equal(value, out[name])


def test_skl2onnx_zipmap_by_default_as_for_scikit_learn(skl2onnx):
    estimator = fitted("strings", np.float32)
    out = run(skl2onnx.to_onnx(estimator, X[:1].astype(np.float32)), X.astype(np.float32))
    np.testing.assert_array_equal(out["output_label"], estimator.predict(X))
    probabilities = [[row[c] for c in estimator.classes_] for row in out["output_probability"]]
    np.testing.assert_allclose(probabilities, estimator.predict_proba(X), **TOL[np.float32])


def test_skl2onnx_converts_a_pipeline(skl2onnx):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipeline = make_pipeline(StandardScaler(), fastnn.MLPClassifier((5,), max_iter=5,
                                                                   random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.fit(X, TARGETS["multiclass"][1])
    out = run(skl2onnx.to_onnx(pipeline, X[:1], options={"zipmap": False}), X)
    np.testing.assert_array_equal(out["label"], pipeline.predict(X))
    np.testing.assert_allclose(out["probabilities"], pipeline.predict_proba(X), rtol=1e-12)


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize("model", [None, "net", fastnn.reference])
def test_other_objects_are_refused_by_name(model):
    with pytest.raises(TypeError, match="model must be a fastnn.MLP"):
        fastnn.to_onnx(model)


def test_scikit_learns_own_mlp_is_refused():
    neural_network = pytest.importorskip("sklearn.neural_network", reason="needs scikit-learn")
    with pytest.raises(TypeError, match="model must be .* got sklearn"):
        fastnn.to_onnx(neural_network.MLPClassifier())


@pytest.mark.parametrize("dtype", ["float16", np.int64, "int32"])
def test_bad_dtype(dtype):
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'"):
        fastnn.to_onnx(fastnn.MLP([2, 1]), dtype=dtype)


def test_unfitted_estimator():
    exceptions = pytest.importorskip("sklearn.exceptions", reason="needs scikit-learn")
    with pytest.raises(exceptions.NotFittedError):
        fastnn.to_onnx(fastnn.MLPRegressor())


def test_missing_packages_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r'pip install "fastnn\[onnx\]"'):
        fastnn.to_onnx(fastnn.MLP([2, 1]))
    monkeypatch.setitem(sys.modules, "skl2onnx", None)
    with pytest.raises(ImportError, match=r'pip install "fastnn\[onnx\]"'):
        export.register_skl2onnx()
