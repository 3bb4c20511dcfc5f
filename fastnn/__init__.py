"""fastnn: train small and medium multilayer perceptrons fast on a CPU, on Numba kernels."""
from . import datasets, reference
from .export import to_onnx
from .loading import load
from .model import MLP
from .network import History
from .optimizers import SGD, Adam
from .stack import MLPStack, StackHistory

__version__ = "0.1.0"
__all__ = ["MLP", "MLPStack", "StackHistory", "SGD", "Adam", "History", "load", "to_onnx",
           "datasets", "reference", "MLPClassifier", "MLPRegressor", "__version__"]

ESTIMATORS = ("MLPClassifier", "MLPRegressor")
"""scikit-learn drop-in estimators (fastnn.estimators), imported on first use: they need
scikit-learn, an optional extra."""


def __getattr__(name):
    if name in ESTIMATORS:
        try:
            from . import estimators
        except ImportError as error:
            raise ImportError(f"fastnn.{name} needs scikit-learn: pip install scikit-learn "
                              f"(or the 'sklearn' extra of fastnn); {error}") from error
        return getattr(estimators, name)
    raise AttributeError(f"module 'fastnn' has no attribute {name!r}")
