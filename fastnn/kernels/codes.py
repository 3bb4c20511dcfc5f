"""The integer codes the kernels receive for activations, losses and optimizers.

fastnn._registry maps the names users write to these codes; the formulas sit with the code
that computes them (fastnn.kernels.activations, fastnn.kernels.losses,
fastnn.kernels.updates).
"""

# Activations, one per layer (softmax and exp only on the output layer).
SIGMOID, TANH, RELU, LEAKY_RELU, LINEAR, SOFTMAX, SOFTPLUS, EXP = range(8)
LEAKY_RELU_SLOPE = 0.01

# Losses of the output layer.
SQUARED_ERROR, BINARY_CROSS_ENTROPY, CROSS_ENTROPY, POISSON = range(4)

# Reductions of a batch's loss: summed, divided by the batch's weight, or that and the epoch's
# loss taken as scikit-learn takes it (the batches' means weighted by their rows).
SUM, MEAN, BATCH_MEANS = range(3)

# Optimizer updates: torch.optim's SGD and Adam, and scikit-learn's (fastnn.MLPClassifier).
OPT_SGD, OPT_ADAM, OPT_SKLEARN_SGD, OPT_SKLEARN_ADAM = range(4)

# The codes a compiled kernel has code for. A kernel's branch for code C tests
# ``C in COMPILED_... and code == C``: numba's branch pruning reads these tuples as constants,
# and fastnn.kernels._jit.specialised compiles a copy of a kernel with them narrowed to one
# network's codes, so the other branches are never typed nor compiled.
COMPILED_ACTIVATIONS = (SIGMOID, TANH, RELU, LEAKY_RELU, LINEAR, SOFTMAX, SOFTPLUS, EXP)
COMPILED_LOSSES = (SQUARED_ERROR, BINARY_CROSS_ENTROPY, CROSS_ENTROPY, POISSON)
COMPILED_OPTIMIZERS = (OPT_SGD, OPT_ADAM, OPT_SKLEARN_SGD, OPT_SKLEARN_ADAM)
