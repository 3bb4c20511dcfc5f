"""fastnn: train small and medium multilayer perceptrons fast on a CPU, on Numba kernels."""
from . import datasets, reference
from .model import MLP
from .network import History
from .optimizers import SGD, Adam
from .persistence import load

__version__ = "0.1.0"
__all__ = ["MLP", "SGD", "Adam", "History", "load", "datasets", "reference", "__version__"]
