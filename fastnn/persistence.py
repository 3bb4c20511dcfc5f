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


FIELD_BYTES = 1 << 16
"""The most any field but ``params`` may take uncompressed: a fastnn file's are a few hundred
bytes, so a larger one is corrupt or hostile and is refused before it is inflated."""
HEADER_BYTES = 1 << 12
"""The most an .npy header of ``params`` may add to its data."""


def read(path):
    """(architecture, params) of the model saved at ``path``: the keyword arguments that
    build it (sizes, hidden, output, bias, dtype) and its flat parameters, bit for bit.
    ``path``: str, bytes or os.PathLike.

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
            info = members.get("params.npy")
            if info is None:
                raise ValueError("no params field")
            dtype = np.dtype(architecture["dtype"])
            params = _read_member(archive, info, HEADER_BYTES + n_params * dtype.itemsize,
                                  shape=(n_params,), dtype=dtype)
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
    return architecture, params


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
                           f"parameters, the architecture needs {shape[0]} {dtype}")
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

    if fields.get("format") is None or field("format", "U") != FORMAT:
        raise _Refused(f"{path} is not a fastnn model file (no '{FORMAT}' format mark)")
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
