"""Saving and loading models: an .npz container read with allow_pickle=False.

Fields: format ("fastnn.MLP"), version, sizes, hidden, output, bias, dtype, params (the flat
parameter buffer). Loading checks every field, so a truncated or foreign file gives a
ValueError, never a crash or a silently wrong model.
"""
import os
import zipfile

import numpy as np

from . import _registry as reg

FORMAT = "fastnn.MLP"
VERSION = 1


def save(model, path):
    """Write ``model`` to exactly ``path`` (atomically: a temporary file, then a rename)."""
    path = os.fspath(path)
    temporary = f"{path}.tmp{os.getpid()}"
    try:
        with open(temporary, "wb") as file:
            np.savez(file, format=np.array(FORMAT), version=np.array(VERSION),
                     sizes=np.array(model.sizes, np.int64), hidden=np.array(model.hidden),
                     output=np.array(model.output), bias=np.array(model.bias),
                     dtype=np.array(model.dtype.name), params=model._params)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def load(path):
    """The fastnn.MLP saved at ``path``, bit for bit."""
    from .model import MLP

    path = os.fspath(path)
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):  # a plain .npy array
            raise ValueError("not an .npz container")
        with archive:
            fields = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path} is not a readable fastnn model file: {error}") from None

    def field(name, kind, ndim=0):
        value = fields.get(name)
        if value is None or value.dtype.kind not in kind or value.ndim != ndim:
            raise ValueError(f"{path} is not a fastnn model file: field {name!r} is missing or malformed")
        return value if ndim else value.item()

    if fields.get("format") is None or field("format", "U") != FORMAT:
        raise ValueError(f"{path} is not a fastnn model file (no '{FORMAT}' format mark)")
    version = field("version", "iu")
    if version != VERSION:
        raise ValueError(f"{path} has format version {version}; this fastnn reads version {VERSION}")
    dtype = field("dtype", "U")
    hidden, output = field("hidden", "U"), field("output", "U")
    sizes = field("sizes", "iu", 1)
    if (dtype not in ("float32", "float64") or hidden not in reg.HIDDEN_ACTIVATIONS
            or output not in reg.OUTPUT_ACTIVATIONS or sizes.size < 2 or (sizes < 1).any()):
        raise ValueError(f"{path} is not a valid fastnn model file: bad architecture fields")
    bias = bool(field("bias", "b"))
    params = field("params", "f", 1)
    widths = [int(w) for w in sizes]
    n_params = sum(k * n + (n if bias else 0) for k, n in zip(widths[:-1], widths[1:]))
    if params.dtype != np.dtype(dtype) or params.size != n_params:
        raise ValueError(f"{path} is corrupted: {params.size} {params.dtype} parameters, the "
                         f"architecture needs {n_params} {dtype}")
    if not np.isfinite(params).all():
        raise ValueError(f"{path} is corrupted: parameters contain NaN or infinity")
    model = MLP(widths, hidden=hidden, output=output, bias=bias, init="xavier", seed=0, dtype=dtype)
    model._params[...] = params
    return model
