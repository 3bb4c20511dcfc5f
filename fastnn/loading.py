"""fastnn.load: the fastnn.MLP or fastnn.MLPStack a file holds."""
from . import persistence
from .model import MLP
from .stack import MLPStack


def load(path):
    """The fastnn.MLP, or the fastnn.MLPStack, saved at ``path`` (by ``save``), bit for
    bit."""
    kind, architecture, params, stack = persistence.read_any(path)
    model = MLP(**architecture, init="xavier", seed=0)
    if stack is None:
        model.params[...] = params
        return model
    models = MLPStack.from_models([model] * stack["n_models"])
    models.params[...] = params
    models._seeds = stack["seeds"]
    return models
