"""The benchmark workloads of shared/workloads.md: one definition each, used by the
command-line benchmark, the benchmark suites and the tests.

A workload builds its data and its starting network (for any implementation class with the
fastnn API, so fastnn.MLP and fastnn.reference.MLP start from the same weights) and says how
to train it, with fastnn's API or with its plain-NumPy function (fastnn.tools.plain).
``sample_steps`` counts one sample through forward, backward and update; ``flops_per_sample``
the floating-point operations of one.
"""
from dataclasses import dataclass

import numpy as np

from .. import datasets, reference
from ..optimizers import SGD
from . import plain


@dataclass(frozen=True)
class Workload:
    id: str
    title: str
    make_data: callable
    make_network: callable       # (cls) -> a network of that class, initialised
    loss: str
    optimizer: dict              # SGD arguments
    epochs: int
    batch_size: int | None
    reduction: str
    plain: callable              # its plain-NumPy training function (fastnn.tools.plain)
    shuffle: bool = False
    fit_seed: int | None = 0
    quick_divisor: int = 10      # --quick runs epochs // quick_divisor
    quick_samples: int | None = None  # --quick keeps only this many samples (one-epoch workloads)
    requires: tuple = ()         # optional extras the data needs (e.g. "sklearn")

    def epochs_for(self, quick):
        return max(1, self.epochs // self.quick_divisor) if quick else self.epochs

    def data(self, quick=False):
        """(X, Y), reduced to ``quick_samples`` rows in quick mode."""
        X, Y = self.make_data()
        if quick and self.quick_samples is not None:
            X, Y = X[:self.quick_samples], Y[:self.quick_samples]
        return X, Y

    def missing_requirements(self):
        """Names of the optional extras this workload needs that are not installed."""
        import importlib.util
        return [name for name in self.requires if importlib.util.find_spec(name) is None]

    def train(self, cls, data, epochs, callback=None):
        """Build the starting network of class ``cls`` and train it (``callback`` as in
        ``fit``); returns (network, History)."""
        X, Y = data
        net = self.make_network(cls)
        history = net.fit(X, Y, loss=self.loss, optimizer=SGD(**self.optimizer), epochs=epochs,
                          batch_size=self.batch_size, shuffle=self.shuffle,
                          reduction=self.reduction, seed=self.fit_seed, callback=callback)
        return net, history

    def train_stack(self, data, epochs, n_models, callback=None):
        """Train a fastnn.MLPStack of ``n_models`` copies of the starting network with one
        optimizer, each model as ``train`` trains the network (its shuffles from fit_seed +
        k); returns (stack, StackHistory)."""
        from ..stack import MLPStack
        from ..model import MLP
        X, Y = data
        stack = MLPStack.from_models([self.make_network(MLP)] * n_models)
        history = stack.fit(X, Y, loss=self.loss, optimizer=SGD(**self.optimizer),
                            epochs=epochs, batch_size=self.batch_size, shuffle=self.shuffle,
                            reduction=self.reduction, seed=self.fit_seed, callback=callback)
        return stack, history

    def train_plain(self, data, epochs):
        """Train the starting network with the plain-NumPy function; returns the epoch
        losses."""
        net = self.make_network(reference.MLP)
        weights, biases = net.get_params()
        options = dict(self.optimizer)
        if self.plain is plain.relu_softmax_minibatch:
            options.update(batch_size=self.batch_size, seed=self.fit_seed)
        return self.plain(*data, weights, biases, epochs, **options)

    def sample_steps(self, data, epochs):
        return len(data[0]) * epochs

    def flops_per_sample(self):
        """Multiply-adds counted as 2: forward 2 k n per layer of k inputs and n outputs, its
        weight gradient 2 k n, and 2 k n for the delta it passes back (not the first layer's)."""
        sizes = self.make_network(reference.MLP).sizes
        products = [k * n for k, n in zip(sizes[:-1], sizes[1:])]
        return 4 * sum(products) + 2 * sum(products[1:])


def _tutorial_sigmoid_net(cls, sizes, init, seed):
    return cls(sizes, hidden="sigmoid", output="sigmoid", bias=False, init=init, seed=seed)


def _bits_network(cls):
    V, W = datasets.complement_bits_init()
    net = cls([10, 10, 10], hidden="tanh", output="sigmoid", bias=True)
    net.set_params([V, W], [np.zeros(10), np.zeros(10)])
    return net


def _moons_network(cls):
    random_state = np.random.RandomState(42)
    random_state.random_sample(30)  # the notebook's earlier cells drew 30 numbers
    return _tutorial_sigmoid_net(cls, [2, 10, 1], "uniform", random_state)


def _digits(dtype):
    from sklearn.datasets import load_digits
    digits = load_digits()
    return (digits.data / 16).astype(dtype), digits.target


def _digits_train():
    """load_digits / 16 in float32, the 1344-sample stratified training split."""
    from sklearn.model_selection import train_test_split
    X, y = _digits(np.float32)
    X_train, _, y_train, _ = train_test_split(X, y, train_size=1344, random_state=0, stratify=y)
    return X_train, y_train


def _wide_teacher_data(n_samples=60_000, n_features=784, n_classes=10, seed=0):
    """N(0, 1) float32 inputs labelled by the argmax of a random linear teacher."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features), dtype=np.float32)
    teacher = rng.standard_normal((n_features, n_classes), dtype=np.float32)
    return X, (X @ teacher).argmax(axis=1)


WORKLOADS = {w.id: w for w in [
    Workload("W1", "xor, 3-4-1 sigmoid, full batch 4",
             datasets.xor, lambda cls: _tutorial_sigmoid_net(cls, [3, 4, 1], "uniform_signed", 1),
             "squared_error", {"lr": 1.0}, 50_000, None, "sum", plain.sigmoid_full_batch),
    Workload("W2", "points, 2-4-1 sigmoid, full batch 15",
             datasets.points, lambda cls: _tutorial_sigmoid_net(cls, [2, 4, 1], "uniform_signed", 1),
             "squared_error", {"lr": 1.0}, 100_000, None, "sum", plain.sigmoid_full_batch),
    Workload("W3", "bits, 10-10-10 tanh/sigmoid BCE, per sample, momentum",
             datasets.complement_bits, _bits_network,
             "binary_cross_entropy", {"lr": 0.01, "momentum": 0.9}, 100, 1, "sum",
             plain.bits_per_sample),
    Workload("W4", "moons, 2-10-1 sigmoid, full batch 1000",
             datasets.moons_tutorial, _moons_network,
             "squared_error", {"lr": 0.1}, 10_000, None, "sum", plain.sigmoid_full_batch),
    Workload("W5", "captcha, 25-5-10 sigmoid, per sample",
             datasets.captcha_digits,
             lambda cls: cls([25, 5, 10], hidden="sigmoid", output="sigmoid", init="uniform", seed=0),
             "squared_error", {"lr": 1.0}, 10_000, 1, "sum", plain.captcha_per_sample),
    Workload("W6", "digits, 64-128-64-10 relu/softmax f32, mini-batch 32, momentum",
             _digits_train,
             lambda cls: cls([64, 128, 64, 10], hidden="relu", output="softmax", seed=0,
                             dtype="float32"),
             "cross_entropy", {"lr": 0.05, "momentum": 0.9}, 50, 32, "mean",
             plain.relu_softmax_minibatch, shuffle=True,
             requires=("sklearn",)),
    Workload("W7", "wide, 784-256-128-10 relu/softmax f32, mini-batch 128, momentum",
             _wide_teacher_data,
             lambda cls: cls([784, 256, 128, 10], hidden="relu", output="softmax", seed=0,
                             dtype="float32"),
             "cross_entropy", {"lr": 0.01, "momentum": 0.9}, 1, 128, "mean",
             plain.relu_softmax_minibatch, shuffle=True,
             quick_samples=6_000),
    Workload("W8", "digits, 64-32-10 tanh/softmax, per sample, momentum",
             lambda: _digits(np.float64),
             lambda cls: cls([64, 32, 10], hidden="tanh", output="softmax", seed=0),
             "cross_entropy", {"lr": 0.01, "momentum": 0.9}, 10, 1, "mean",
             plain.tanh_softmax_per_sample, requires=("sklearn",)),
]}
