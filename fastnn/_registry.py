"""The names users write for activations, losses, reductions and initialisers, and the kernel
codes they map to: the one registry, used by the Python layer, the reference, the tests and
the docs. The formulas sit with the kernels (fastnn.kernels.activations, .losses, .updates).
"""
from .kernels import codes

ACTIVATIONS = {
    "sigmoid": codes.SIGMOID,
    "tanh": codes.TANH,
    "relu": codes.RELU,
    "leaky_relu": codes.LEAKY_RELU,
    "linear": codes.LINEAR,
    "softplus": codes.SOFTPLUS,
    "softmax": codes.SOFTMAX,
    "exp": codes.EXP,
}
LEAKY_RELU_SLOPE = codes.LEAKY_RELU_SLOPE
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "linear", "softplus")
OUTPUT_ACTIVATIONS = ("sigmoid", "softmax", "linear", "tanh", "relu", "softplus", "exp")

LOSSES = {
    "squared_error": codes.SQUARED_ERROR,
    "binary_cross_entropy": codes.BINARY_CROSS_ENTROPY,
    "cross_entropy": codes.CROSS_ENTROPY,
    "poisson": codes.POISSON,
}
# The output activation each loss requires (None: any output activation).
LOSS_REQUIRES_OUTPUT = {
    "squared_error": None,
    "binary_cross_entropy": "sigmoid",
    "cross_entropy": "softmax",
    "poisson": "exp",
}

REDUCTIONS = ("mean", "sum")
REDUCTION_CODES = {"mean": codes.MEAN, "sum": codes.SUM, "batch_means": codes.BATCH_MEANS}
"""fit's reductions, and "batch_means" of the trainer interface (train_epochs_unchecked): the
mean's gradient, and an epoch's loss as scikit-learn reports it (fastnn's estimators)."""

# Initialisers (see fastnn.initializers for the draws and their order).
INITS = ("xavier", "he", "uniform", "uniform_signed", "normal", "sklearn")
