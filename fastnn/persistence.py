"""Saving and reading models: an .npz container read with allow_pickle=False.

Fields: format ("fastnn.MLP"), version, sizes, hidden (one name, or one per hidden layer),
output, bias, dtype, params (the flat parameter buffer). Reading checks every field, so a
truncated or foreign file gives a ValueError, never a crash or a silently wrong model.
Version 1 files (one hidden activation for all layers) read as they were written.
"""
import os
import secrets
import zipfile
import zlib

import numpy as np

from . import _registry as reg

FORMAT = "fastnn.MLP"
VERSION = 2
READS = (1, 2)
"""The format versions this fastnn reads."""


def save(model, path):
    """Write ``model`` to exactly ``path`` (str, bytes or os.PathLike), atomically: a new
    temporary file of a unique name in the same folder, then a rename over ``path``, so
    concurrent saves to one path each leave a whole file and a reader never sees half of one."""
    path = os.fsdecode(os.fspath(path))
    temporary = f"{path}.{secrets.token_hex(8)}.tmp"
    hidden = model.hidden
    try:
        with open(temporary, "xb") as file:
            np.savez(file, format=np.array(FORMAT), version=np.array(VERSION),
                     sizes=np.array(model.sizes, np.int64),
                     hidden=np.array(hidden if isinstance(hidden, str) else list(hidden), str),
                     output=np.array(model.output), bias=np.array(model.bias),
                     dtype=np.array(model.dtype.name), params=model.params)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def read(path):
    """(architecture, params) of the model saved at ``path``: the keyword arguments that
    build it (sizes, hidden, output, bias, dtype) and its flat parameters, bit for bit.
    ``path``: str, bytes or os.PathLike."""
    path = os.fsdecode(os.fspath(path))
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):  # a plain .npy array
            raise ValueError("not an .npz container")
        with archive:
            fields = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise
    # zipfile reports an unsupported compression method as NotImplementedError and an
    # encrypted member as RuntimeError
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error,
            NotImplementedError, RuntimeError) as error:
        raise ValueError(f"{path} is not a readable fastnn model file: {error}") from None

    def field(name, kind, ndim=0):
        value = fields.get(name)
        if value is None or value.dtype.kind not in kind or value.ndim != ndim:
            raise ValueError(f"{path} is not a fastnn model file: field {name!r} is missing or malformed")
        return value if ndim else value.item()

    if fields.get("format") is None or field("format", "U") != FORMAT:
        raise ValueError(f"{path} is not a fastnn model file (no '{FORMAT}' format mark)")
    version = field("version", "iu")
    if version not in READS:
        raise ValueError(f"{path} has format version {version}; this fastnn reads versions "
                         f"{', '.join(map(str, READS))}")
    dtype = field("dtype", "U")
    output = field("output", "U")
    sizes = field("sizes", "iu", 1)
    stored_hidden = fields.get("hidden")
    if version >= 2 and stored_hidden is not None and stored_hidden.ndim == 1:
        hidden = [str(name) for name in field("hidden", "U", 1)]
        per_layer = True
    else:
        hidden = field("hidden", "U")
        per_layer = False
    if (dtype not in ("float32", "float64") or output not in reg.OUTPUT_ACTIVATIONS
            or sizes.size < 2 or (sizes < 1).any()
            or not set([hidden] if not per_layer else hidden) <= set(reg.HIDDEN_ACTIVATIONS)
            or (per_layer and len(hidden) != sizes.size - 2)):
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
    return dict(sizes=widths, hidden=hidden, output=output, bias=bias, dtype=dtype), params
