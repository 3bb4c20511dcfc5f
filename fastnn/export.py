"""Export to ONNX: ``to_onnx`` gives a fastnn.MLP, MLPClassifier or MLPRegressor as an
onnx.ModelProto (for onnxruntime or any ONNX runtime); ``register_skl2onnx`` lets
skl2onnx convert the estimators, alone or inside a Pipeline, into the same graph.

Each layer is a Gemm (x W + b) and its activation, built from ONNX_ACTIVATIONS. Where
onnxruntime lacks a double kernel (LeakyRelu, Softplus) or its kernel loses relative accuracy
(Sigmoid, for large negative inputs), the entry writes fastnn's formula out in elementary
operators, so the exported model gives fastnn's outputs to rounding in both dtypes.

The estimators' graphs are built here too, not by skl2onnx's MLP converter, which (in
skl2onnx 1.20) reshapes several regression outputs into one column, gives two-label
multilabel models four probability columns, and labels multilabel rows with Binarizer, which
onnxruntime lacks for double.

onnx (and skl2onnx for register_skl2onnx) are imported on first use: they are an optional
extra, ``pip install "fastnn[onnx]"``.
"""
import sys

import numpy as np

from . import _registry as reg
from ._validation import check_dtype
from .network import Network

OPSET = 18
"""The ONNX operator set of the exported models (onnx >= 1.13, onnxruntime >= 1.14). Every
operator used is unchanged since opset 13, so skl2onnx may target any opset from 13 on."""
INSTALL = 'pip install "fastnn[onnx]"'


def _import_onnx():
    try:
        import onnx.helper
        import onnx.numpy_helper
    except ImportError as error:
        raise ImportError(f"exporting to ONNX needs the onnx package: {INSTALL} "
                          f"({error})") from error
    return onnx


class _Graph:
    """An ONNX graph under construction, in one float dtype: nodes, initializers (the
    weights and constants), its input and outputs, each value named uniquely."""

    def __init__(self, dtype):
        self.onnx = _import_onnx()
        self.dtype = np.dtype(dtype)
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []
        self._counts = {}
        self._scalars = {}

    def name(self, prefix):
        count = self._counts[prefix] = self._counts.get(prefix, 0) + 1
        return prefix if count == 1 else f"{prefix}_{count - 1}"

    def constant(self, value, prefix, dtype=None):
        name = self.name(prefix)
        array = np.asarray(value, self.dtype if dtype is None else dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def scalar(self, value):
        """A scalar of the graph's dtype, one initializer per value."""
        if value not in self._scalars:
            self._scalars[value] = self.constant(value, f"c{value:g}".replace(".", "_"))
        return self._scalars[value]

    def op(self, op_type, *inputs, **attributes):
        """The output of a new node ``op_type`` on ``inputs``."""
        output = self.name(op_type.lower())
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), [output],
                                                     name=output, **attributes))
        return output

    def input(self, name, n_features):
        self.inputs.append(self._value_info(name, self.dtype, [None, n_features]))
        return name

    def output(self, value, name, dtype, shape):
        """``value`` as the graph's output ``name`` (of numpy ``dtype``, object for strings;
        None in ``shape`` for the rows)."""
        self.nodes.append(self.onnx.helper.make_node("Identity", [value], [name], name=name))
        self.outputs.append(self._value_info(name, dtype, shape))

    def _value_info(self, name, dtype, shape):
        helper = self.onnx.helper
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(dtype)),
                                             shape)

    def model(self, name):
        from . import __version__

        helper = self.onnx.helper
        graph = helper.make_graph(self.nodes, name, self.inputs, self.outputs, self.initializers)
        opsets = [helper.make_opsetid("", OPSET)]
        return helper.make_model(graph, opset_imports=opsets, producer_name="fastnn",
                                 producer_version=__version__,
                                 ir_version=helper.find_min_ir_version_for(opsets))


# ----------------------------------------------------------------- activations
def _operator(op_type, **attributes):
    """An activation that is one ONNX operator."""
    return lambda graph, z: graph.op(op_type, z, **attributes)


def _sigmoid(graph, z):
    """1 / (1 + exp(-z)), fastnn's formula: onnxruntime's Sigmoid is accurate to about 1e-16
    (double) or 1e-7 (float) absolute, not relative; it gives 0 below z = -36 in double."""
    return graph.op("Reciprocal", graph.op("Add", graph.scalar(1.0),
                                           graph.op("Exp", graph.op("Neg", z))))


def _leaky_relu(graph, z):
    """max(z, slope z): onnxruntime has no double LeakyRelu kernel (it runs the operator's
    ONNX function for opsets 16 to 18, with the slope rounded to float)."""
    return graph.op("Max", z, graph.op("Mul", z, graph.scalar(reg.LEAKY_RELU_SLOPE)))


def _softplus(graph, z):
    """max(z, 0) + log1p(exp(-|z|)), fastnn's formula: onnxruntime has no double Softplus
    kernel (it runs the operator's ONNX function, log(exp(z) + 1), for opset 18, which
    loses the digits of outputs far below 1). ONNX has no log1p: log1p(e) = log(u) +
    (e - (u - 1)) / u for u = 1 + e rounded, the second term being u's rounding error."""
    one = graph.scalar(1.0)
    e = graph.op("Exp", graph.op("Neg", graph.op("Abs", z)))
    u = graph.op("Add", one, e)
    rounding = graph.op("Div", graph.op("Sub", e, graph.op("Sub", u, one)), u)
    return graph.op("Add", graph.op("Relu", z), graph.op("Add", graph.op("Log", u), rounding))


ONNX_ACTIVATIONS = {
    "sigmoid": _sigmoid,
    "tanh": _operator("Tanh"),
    "relu": _operator("Relu"),
    "leaky_relu": _leaky_relu,
    "linear": _operator("Identity"),
    "softplus": _softplus,
    "softmax": _operator("Softmax", axis=1),
    "exp": _operator("Exp"),
}
"""Each activation name (fastnn._registry) -> a function (graph, z) that adds its nodes on z
and returns the activation's value."""


def _layers(graph, x, weights, biases, activations):
    """The network's output activations on x: each layer a Gemm (x W + b) and its activation."""
    a = x
    for layer, (W, activation) in enumerate(zip(weights, activations)):
        inputs = [a, graph.constant(W, f"W{layer}")]
        if biases is not None:
            inputs.append(graph.constant(biases[layer], f"b{layer}"))
        a = ONNX_ACTIVATIONS[activation](graph, graph.op("Gemm", *inputs))
    return a


# ----------------------------------------------------------------- models
def _network_graph(net, dtype):
    """fastnn.MLP: outputs "forward" and "predict" (the methods' results)."""
    graph = _Graph(dtype)
    weights, biases = net.get_params()
    out = _layers(graph, graph.input("X", net.sizes[0]), weights, biases, net.layer_activations)
    graph.output(out, "forward", dtype, [None, net.sizes[-1]])
    if net.output == "softmax" or net.sizes[-1] > 1:
        graph.output(graph.op("ArgMax", out, axis=1, keepdims=0), "predict", np.int64, [None])
    elif net.output == "sigmoid":
        flat = graph.op("Reshape", out, graph.constant([-1], "rows", np.int64))
        above = graph.op("Greater", flat, graph.scalar(0.5))
        graph.output(graph.op("Cast", above, to=graph.onnx.TensorProto.INT64), "predict",
                     np.int64, [None])
    else:
        graph.output(out, "predict", dtype, [None, net.sizes[-1]])
    return graph


def _estimator_outputs(estimator, dtype):
    """(name, dtype, shape) of each output, as skl2onnx declares scikit-learn's MLPs':
    classifiers "label" (int64, or strings for string classes; one column per label for
    multilabel) and "probabilities"; regressors "variable", one column per output."""
    n_outputs = estimator.n_outputs_
    if _kind(estimator) == "regressor":
        return [("variable", dtype, [None, n_outputs])]
    if _multilabel(estimator):
        label = ("label", np.int64, [None, n_outputs])
    else:
        label = ("label", _label_dtype(estimator.classes_), [None])
    return [label, ("probabilities", dtype, [None, 2 if n_outputs == 1 else n_outputs])]


def _multilabel(classifier):
    """Several logistic outputs: a label each (one logistic output: two classes)."""
    return classifier.out_activation_ == "logistic" and classifier.n_outputs_ > 1


def _label_dtype(classes):
    """int64 for numbers and booleans (as skl2onnx gives them), else strings."""
    return np.dtype(np.int64) if classes.dtype.kind in "biuf" else np.dtype(object)


def _estimator_graph(estimator, dtype):
    from .estimators import ACTIVATIONS, OUTPUTS

    graph = _Graph(dtype)
    activations = ([ACTIVATIONS[estimator.activation]] * (estimator.n_layers_ - 2)
                   + [OUTPUTS[estimator.out_activation_][0]])
    out = _layers(graph, graph.input("X", estimator.n_features_in_), estimator.coefs_,
                  estimator.intercepts_, activations)
    outputs = _estimator_outputs(estimator, dtype)
    if _kind(estimator) == "regressor":
        graph.output(out, *outputs[0])
        return graph
    label, probabilities = outputs
    if estimator.n_outputs_ == 1:  # binary: [1 - p, p]
        out = graph.op("Concat", graph.op("Sub", graph.scalar(1.0), out), out, axis=1)
    if _multilabel(estimator):
        labels = graph.op("Cast", graph.op("Greater", out, graph.scalar(0.5)),
                          to=graph.onnx.TensorProto.INT64)
    else:  # the class of the largest probability (of p > 0.5 for binary: 1 - p is exact)
        classes = graph.constant(estimator.classes_.astype(label[1]), "classes", label[1])
        labels = graph.op("Gather", classes, graph.op("ArgMax", out, axis=1, keepdims=0))
    graph.output(labels, *label)
    graph.output(out, *probabilities)
    return graph


def _kind(model):
    """"network", "classifier" or "regressor"; None for what fastnn does not export."""
    if isinstance(model, Network):
        return "network"
    # an estimator exists only once fastnn.estimators (which needs scikit-learn) is imported
    estimators = sys.modules.get("fastnn.estimators")
    if estimators is not None:
        if isinstance(model, estimators.MLPClassifier):
            return "classifier"
        if isinstance(model, estimators.MLPRegressor):
            return "regressor"
    return None


# ----------------------------------------------------------------- public API
def to_onnx(model, dtype=None):
    """``model`` as an onnx.ModelProto (ONNX opset 18, fastnn.export.OPSET): input "X" of
    shape (n_rows, n_features).

    fastnn.MLP: outputs "forward" (model.forward(X)) and "predict" (model.predict(X)).
    Fitted fastnn.MLPClassifier: "label" (predict) and "probabilities" (predict_proba);
    fastnn.MLPRegressor: "variable" (predict, one column per output, also for one output):
    the names, shapes and types skl2onnx gives scikit-learn's MLPs with
    options={"zipmap": False}. Labels are int64 for numeric and boolean classes (as
    skl2onnx's), strings otherwise.

    dtype: "float32" or "float64", of the input, the weights and the computation; None: the
    model's (an estimator's: that of the data it was fitted on).
    """
    kind = _kind(model)
    if kind is None:
        raise TypeError(f"model must be a fastnn.MLP, MLPClassifier or MLPRegressor, got "
                        f"{type(model).__module__}.{type(model).__name__}")
    if kind != "network":
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(model)
    if dtype is None:
        dtype = model.dtype if kind == "network" else model.coefs_[0].dtype
    dtype = check_dtype(dtype)
    graph = _network_graph(model, dtype) if kind == "network" else _estimator_graph(model, dtype)
    return graph.model(f"fastnn.{type(model).__name__}")


def register_skl2onnx():
    """Let skl2onnx convert fastnn.MLPClassifier and MLPRegressor (skl2onnx.to_onnx, alone or
    in a Pipeline): call once, before converting; calling again changes nothing.

    skl2onnx then gives the graph of ``to_onnx`` with its input's dtype (float32 or
    float64). Classifiers take skl2onnx's "zipmap" option as scikit-learn's do: by default
    the probabilities become a list of {class: probability} ("output_label",
    "output_probability"), which onnxruntime supports for float32 only; with
    options={"zipmap": False} the outputs are the tensors "label" and "probabilities".
    The option "nocl" is registered as False only (its default): the labels are the classes.
    """
    try:
        from skl2onnx import update_registered_converter
    except ImportError as error:
        raise ImportError(f"register_skl2onnx needs skl2onnx: {INSTALL} ({error})") from error
    from . import estimators

    update_registered_converter(estimators.MLPClassifier, "FastnnMLPClassifier",
                                _skl2onnx_shapes, _skl2onnx_convert,
                                options={"zipmap": [True, False, "columns"], "nocl": [False]})
    update_registered_converter(estimators.MLPRegressor, "FastnnMLPRegressor",
                                _skl2onnx_shapes, _skl2onnx_convert)


# ----------------------------------------------------------------- skl2onnx
def _skl2onnx_dtype(variable):
    from skl2onnx.common.data_types import DoubleTensorType

    return np.dtype(np.float64 if isinstance(variable.type, DoubleTensorType) else np.float32)


def _skl2onnx_shapes(operator):
    """skl2onnx's shape calculator: the outputs of _estimator_outputs."""
    from skl2onnx.common.data_types import (DoubleTensorType, FloatTensorType, Int64TensorType,
                                            StringTensorType)
    from skl2onnx.common.utils import check_input_and_output_types

    check_input_and_output_types(operator, good_input_types=[FloatTensorType, DoubleTensorType])
    types = {np.dtype(np.float32): FloatTensorType, np.dtype(np.float64): DoubleTensorType,
             np.dtype(np.int64): Int64TensorType, np.dtype(object): StringTensorType}
    rows = operator.inputs[0].get_first_dimension()
    declared = _estimator_outputs(operator.raw_operator, _skl2onnx_dtype(operator.inputs[0]))
    for variable, (_, dtype, shape) in zip(operator.outputs, declared):
        variable.set_type(types[np.dtype(dtype)]([rows] + shape[1:]))


def _skl2onnx_convert(scope, operator, container):
    """skl2onnx's converter: _estimator_graph's nodes and initializers, renamed into the
    scope, between the operator's input and outputs."""
    estimator = operator.raw_operator
    graph = _estimator_graph(estimator, _skl2onnx_dtype(operator.inputs[0]))
    names = {"X": operator.inputs[0].full_name}
    names.update((output.name, variable.full_name)
                 for output, variable in zip(graph.outputs, operator.outputs))

    def rename(name):
        if name not in names:
            names[name] = scope.get_unique_variable_name(name)
        return names[name]

    helper, numpy_helper = graph.onnx.helper, graph.onnx.numpy_helper
    for tensor in graph.initializers:
        container.add_initializer(rename(tensor.name), tensor.data_type, list(tensor.dims),
                                  numpy_helper.to_array(tensor))
    for node in graph.nodes:
        container.add_node(node.op_type, [rename(name) for name in node.input],
                           [rename(name) for name in node.output],
                           name=scope.get_unique_operator_name(node.op_type),
                           **{a.name: helper.get_attribute_value(a) for a in node.attribute})
