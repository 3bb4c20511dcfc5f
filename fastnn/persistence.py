"""Saving and reading models: an .npz container read with allow_pickle=False.

Fields: format ("fastnn.MLP"), version, sizes, hidden (one name, or one per hidden layer),
output, bias, dtype, params (the flat parameter buffer). Reading checks every field, so a
truncated or foreign file gives a ValueError, never a crash or a silently wrong model.
Version 1 files (one hidden activation for all layers) read as they were written.

A fastnn.MLPStack file has format "fastnn.MLPStack", the same fields and two more:
n_models (K) and seeds (the models' initialisation seeds, or none); its params are the
(K, n_params) array, its shape checked against the architecture and K before it is read.
"""
import os
import secrets
import zipfile
import zlib

import numpy as np

from . import _registry as reg

FORMAT = "fastnn.MLP"
STACK_FORMAT = "fastnn.MLPStack"
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
    fields = {}
    if getattr(model, "n_models", None) is not None:  # a fastnn.MLPStack
        fields = dict(n_models=np.array(model.n_models, np.int64),
                      seeds=np.array(model.seeds or (), np.int64))
    try:
        with open(temporary, "xb") as file:
            np.savez(file, format=np.array(STACK_FORMAT if fields else FORMAT),
                     version=np.array(VERSION), sizes=np.array(model.sizes, np.int64),
                     hidden=np.array(hidden if isinstance(hidden, str) else list(hidden), str),
                     output=np.array(model.output), bias=np.array(model.bias),
                     dtype=np.array(model.dtype.name), params=model.params, **fields)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


FIELD_BYTES = 1 << 16
"""The most any field but ``params`` may take uncompressed: a fastnn file's are a few hundred
bytes, so a larger one is corrupt or hostile and is refused before it is inflated."""
HEADER_BYTES = 1 << 12
"""The most an .npy header of ``params`` may add to its data."""


def read(path):
    """(architecture, params) of the fastnn.MLP saved at ``path``: the keyword arguments
    that build it (sizes, hidden, output, bias, dtype) and its flat parameters, bit for bit.
    ``path``: str, bytes or os.PathLike. A stack's file is a ValueError (read_any reads
    both)."""
    kind, architecture, params, _ = read_any(path)
    if kind != FORMAT:
        raise ValueError(f"{os.fsdecode(os.fspath(path))} holds a {kind}, not a {FORMAT}: "
                         "read it with fastnn.load")
    return architecture, params


def read_any(path):
    """(format, architecture, params, stack) of the model or stack saved at ``path``:
    format FORMAT or STACK_FORMAT; for a stack, params of shape (K, n_params) and ``stack``
    = {"n_models": K, "seeds": a tuple of K seeds or None}, else None.

    Every size a file declares (each member's uncompressed size, the shape in params' header)
    is checked against what the architecture needs before anything is inflated or
    allocated, so a file crafted to expand (a zip bomb) is a ValueError, not a MemoryError."""
    path = os.fsdecode(os.fspath(path))
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist()}
            fields = {name[:-4]: _read_member(archive, info, FIELD_BYTES)
                      for name, info in members.items()
                      if name.endswith(".npy") and name != "params.npy"}
            architecture, n_params = _architecture(path, fields)
            kind = str(fields["format"])
            stack = _stack_fields(path, fields, n_params) if kind == STACK_FORMAT else None
            shape = (n_params,) if stack is None else (stack["n_models"], n_params)
            info = members.get("params.npy")
            if info is None:
                raise ValueError("no params field")
            dtype = np.dtype(architecture["dtype"])
            params = _read_member(archive, info,
                                  HEADER_BYTES + int(np.prod(shape)) * dtype.itemsize,
                                  shape=shape, dtype=dtype)
    except FileNotFoundError:
        raise
    except _Refused as error:
        raise ValueError(str(error)) from None
    # zipfile reports an unsupported compression method as NotImplementedError and an
    # encrypted member as RuntimeError
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error,
            NotImplementedError, RuntimeError) as error:
        raise ValueError(f"{path} is not a readable fastnn model file: {error}") from None
    if not np.isfinite(params).all():
        raise ValueError(f"{path} is corrupted: parameters contain NaN or infinity")
    return kind, architecture, params, stack


class _Refused(Exception):
    """A fastnn file whose fields are wrong: its message is the whole ValueError's."""


def _read_member(archive, info, max_bytes, shape=None, dtype=None):
    """The array in member ``info``, refused (ValueError) if it declares more than
    ``max_bytes`` uncompressed, or (when given) another shape or dtype than ``shape`` and
    ``dtype``: its .npy header is read and checked before its data."""
    if info.file_size > max_bytes:
        raise ValueError(f"member {info.filename} declares {info.file_size} bytes, more than "
                         f"{max_bytes}")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)(member)
        declared_shape, fortran, declared_dtype = header
        count = int(np.prod(declared_shape, dtype=object))
        if declared_dtype.hasobject or count * declared_dtype.itemsize > max_bytes:
            raise ValueError(f"member {info.filename} declares {declared_shape} "
                             f"{declared_dtype}, too large or not numbers")
        if shape is not None and (declared_shape != shape or declared_dtype != dtype):
            raise _Refused(f"{archive.filename} is corrupted: {declared_shape} {declared_dtype} "
                           f"parameters, the architecture needs {shape} {dtype}")
        data = member.read(count * declared_dtype.itemsize)
    if len(data) != count * declared_dtype.itemsize:
        raise ValueError(f"member {info.filename} is truncated")
    array = np.frombuffer(data, declared_dtype).reshape(declared_shape,
                                                        order="F" if fortran else "C")
    return array.copy()


def _architecture(path, fields):
    """The architecture in ``fields`` (name -> array), checked, and its parameter count."""
    def field(name, kind, ndim=0):
        value = fields.get(name)
        if value is None or value.dtype.kind not in kind or value.ndim != ndim:
            raise _Refused(f"{path} is not a fastnn model file: field {name!r} is missing or "
                           "malformed")
        return value if ndim else value.item()

    if fields.get("format") is None or field("format", "U") not in (FORMAT, STACK_FORMAT):
        raise _Refused(f"{path} is not a fastnn model file (no '{FORMAT}' or "
                       f"'{STACK_FORMAT}' format mark)")
    version = field("version", "iu")
    if version not in READS:
        raise _Refused(f"{path} has format version {version}; this fastnn reads versions "
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
        raise _Refused(f"{path} is not a valid fastnn model file: bad architecture fields")
    bias = bool(field("bias", "b"))
    widths = [int(w) for w in sizes]
    n_params = sum(k * n + (n if bias else 0) for k, n in zip(widths[:-1], widths[1:]))
    return dict(sizes=widths, hidden=hidden, output=output, bias=bias, dtype=dtype), n_params


MAX_STACK_PARAMS = 2 ** 48
"""More parameters in all than any machine's memory holds (as fastnn._validation's
MAX_PARAMS): a stack file declaring more is refused before anything is read."""


def _stack_fields(path, fields, n_params):
    """{"n_models": K, "seeds": tuple or None} of a stack file, checked."""
    value = fields.get("n_models")
    seeds = fields.get("seeds")
    if (value is None or value.dtype.kind not in "iu" or value.ndim != 0 or seeds is None
            or seeds.dtype.kind not in "iu" or seeds.ndim != 1):
        raise _Refused(f"{path} is not a valid fastnn stack file: field 'n_models' or "
                       "'seeds' is missing or malformed")
    n_models = int(value)
    if n_models < 1 or n_models * n_params > MAX_STACK_PARAMS:
        raise _Refused(f"{path} is not a valid fastnn stack file: n_models={n_models}")
    if seeds.size not in (0, n_models) or (seeds < 0).any() or (seeds > 2 ** 32 - 1).any():
        raise _Refused(f"{path} is not a valid fastnn stack file: bad seeds")
    return {"n_models": n_models,
            "seeds": tuple(int(s) for s in seeds) if seeds.size else None}
