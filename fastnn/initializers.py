"""Initial weights, drawn with NumPy's legacy RandomState so seeds match the tutorials.

Layer by layer, W_l (fan_in x fan_out) is drawn first, then b_l where the rule draws biases:
  xavier          W ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out)); b = 0
  he              W ~ N(0, 2 / fan_in);                           b = 0
  uniform         W, b ~ U[0, 1)         (np.random.random)
  uniform_signed  W, b ~ U[-1, 1)        (2 * np.random.random(...) - 1)
  normal          W ~ N(0, 0.1^2);                                b = 0
  sklearn         W, b ~ U(-a, a), a = sqrt(f / (fan_in + fan_out)), f = 2 where the layer's
                  activation is sigmoid, else 6 (scikit-learn's MLP rule: same draws for the
                  same seed; biases are drawn even when the network has none); scikit-learn
                  has one hidden activation and applies its f to the output layer too, so a
                  layer's f comes from its own hidden activation, the output layer's from the
                  last hidden layer's
"""
import numpy as np


def initial_params(init, sizes, bias, activations, random_state):
    """Lists of float64 weights and biases (None when ``bias`` is False) drawn from
    random_state; ``activations``: per layer, the activation name whose factor the sklearn
    rule takes."""
    weights, biases = [], []
    for fan_in, fan_out, activation in zip(sizes[:-1], sizes[1:], activations):
        shape = (fan_in, fan_out)
        b = np.zeros(fan_out)
        if init == "xavier":
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            W = random_state.uniform(-limit, limit, shape)
        elif init == "he":
            W = random_state.normal(0.0, np.sqrt(2.0 / fan_in), shape)
        elif init == "normal":
            W = random_state.normal(0.0, 0.1, shape)
        elif init == "sklearn":
            limit = np.sqrt((2.0 if activation == "sigmoid" else 6.0) / (fan_in + fan_out))
            W = random_state.uniform(-limit, limit, shape)
            b = random_state.uniform(-limit, limit, fan_out)
        else:  # uniform, uniform_signed: biases are drawn too
            W = random_state.random_sample(shape)
            if bias:
                b = random_state.random_sample(fan_out)
            if init == "uniform_signed":
                W = 2 * W - 1
                b = 2 * b - 1 if bias else b
        weights.append(W)
        biases.append(b)
    return weights, (biases if bias else None)
