"""Names and integer codes of activations, losses and initialisers: the one registry.

The kernels receive the integer codes; the Python layer, the reference, the tests and the
docs use the names. Derivatives are written in terms of the activation's output ``a``.
"""

# Activations: name -> code. The formulas (derivative in terms of a = f(z)):
#   sigmoid     a = 1 / (1 + exp(-z))          f' = a (1 - a)
#   tanh        a = tanh(z)                    f' = 1 - a^2
#   relu        a = max(z, 0)                  f' = 1 if a > 0 else 0
#   leaky_relu  a = z if z > 0 else 0.01 z     f' = 1 if a > 0 else 0.01
#   linear      a = z                          f' = 1
#   softmax     a_j = exp(z_j) / sum_k exp(z_k)   (output layer only; full Jacobian)
SIGMOID, TANH, RELU, LEAKY_RELU, LINEAR, SOFTMAX = range(6)
ACTIVATIONS = {
    "sigmoid": SIGMOID,
    "tanh": TANH,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "linear": LINEAR,
    "softmax": SOFTMAX,
}
LEAKY_RELU_SLOPE = 0.01
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "linear")
OUTPUT_ACTIVATIONS = ("sigmoid", "softmax", "linear", "tanh", "relu")

# Losses per sample (t: target, a: output activation, z: output pre-activation):
#   squared_error         L = 1/2 sum_j (a_j - t_j)^2                      any output
#   binary_cross_entropy  L = sum_j -[t_j log a_j + (1 - t_j) log(1 - a_j)]  sigmoid output
#                           computed from logits: sum_j softplus(z_j) - t_j z_j
#   cross_entropy         L = -sum_j t_j log softmax(z)_j                   softmax output
#                           computed from logits: sum_j t_j (logsumexp(z) - z_j)
SQUARED_ERROR, BINARY_CROSS_ENTROPY, CROSS_ENTROPY = range(3)
LOSSES = {
    "squared_error": SQUARED_ERROR,
    "binary_cross_entropy": BINARY_CROSS_ENTROPY,
    "cross_entropy": CROSS_ENTROPY,
}
# The output activation each loss requires (None: any output activation).
LOSS_REQUIRES_OUTPUT = {
    "squared_error": None,
    "binary_cross_entropy": "sigmoid",
    "cross_entropy": "softmax",
}

REDUCTIONS = ("mean", "sum")

# Initialisers (see fastnn.initializers for the draws and their order).
INITS = ("xavier", "he", "uniform", "uniform_signed", "normal", "sklearn")

# Optimizers: code passed to the update kernel (fastnn.kernels.updates.apply_update).
#   SGD   state rows: momentum buffer;   hyper: (lr, momentum, weight_decay, nesterov)
#   Adam  state rows: exp_avg, exp_avg_sq;   hyper: (lr, beta1, beta2, eps, weight_decay)
#   scikit-learn's SGD and Adam (fastnn.MLPClassifier / MLPRegressor):
#   SKLEARN_SGD   state rows: velocity;   hyper: (lr, momentum, nesterov)
#   SKLEARN_ADAM  state rows: m, v;       hyper: (learning_rate_init, beta_1, beta_2, epsilon)
OPT_SGD = 0
OPT_ADAM = 1
OPT_SKLEARN_SGD = 2
OPT_SKLEARN_ADAM = 3
