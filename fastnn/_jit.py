"""The one place that says how kernels are compiled."""
import functools
import hashlib
import pathlib

import numba

# As STUMPY: fast-math without nnan/ninf, so NaN/inf checks keep working. (LLVM still folds
# x - x to 0 under nsz + reassoc, which is how numba's np.isfinite works: test finiteness in
# kernels with a comparison, abs(x) < inf.)
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}

_PACKAGE = pathlib.Path(__file__).parent


@functools.cache
def kernel_sources_digest():
    """Digest of every source a kernel's machine code depends on."""
    digest = hashlib.sha256()
    for path in sorted([_PACKAGE / "_jit.py", _PACKAGE / "_registry.py",
                        *(_PACKAGE / "kernels").glob("*.py")]):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def _drop_stale_cache(dispatcher):
    """numba keys a cached kernel by its own file only (numba issue #1833): a change to a
    kernel it calls, in another file, would leave stale machine code in the cache. Keep the
    digest of all kernel sources beside each kernel's cache index and flush the index when
    the sources changed."""
    try:
        stamp = pathlib.Path(dispatcher._cache._cache_file._index_path + ".sources")
        if not stamp.exists() or stamp.read_text() != kernel_sources_digest():
            dispatcher._cache.flush()
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.write_text(kernel_sources_digest())
    except (AttributeError, OSError):  # another numba layout, or a read-only cache: as numba
        pass


def kernel(function):
    """Decorator for every compiled kernel: ``@kernel``."""
    dispatcher = numba.njit(cache=True, fastmath=FASTMATH, nogil=True)(function)
    _drop_stale_cache(dispatcher)
    return dispatcher
