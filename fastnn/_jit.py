"""The one place that says how kernels are compiled."""
import functools
import hashlib
import pathlib

import numba

# As STUMPY: fast-math without nnan/ninf, so NaN/inf checks keep working. (LLVM still folds
# x - x to 0 under nsz + reassoc, which is how numba's np.isfinite works: test finiteness in
# kernels with a comparison, abs(x) < inf.)
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
# Without reassoc, for code whose order of operations is its accuracy (the exp, tanh and log1p
# of fastnn.kernels.elementary): LLVM keeps each instruction's flags when it inlines it.
ORDERED_FASTMATH = FASTMATH - {"reassoc"}
# x / 0 gives inf or NaN as in NumPy: no check that raises ZeroDivisionError, whose branch
# would stop a loop with a division (a sigmoid, say) vectorising.
ERROR_MODEL = "numpy"

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


def kernel(function=None, *, inline=False, parallel=False):
    """Decorator for every compiled kernel: ``@kernel``.

    ``@kernel(inline=True)`` inlines the kernel into its compiled callers (numba's
    inline="always"): for a helper called inside a hot compiled loop (the optimizer update
    after every batch), where a call passing a few arrays costs about 0.1 us (each array goes
    as 7 words, with reference counting).
    ``@kernel(parallel=True)``: its ``numba.prange`` loops run on numba's threads
    (fastnn.threads says how many).
    """
    if function is None:
        return functools.partial(kernel, inline=inline, parallel=parallel)
    dispatcher = numba.njit(cache=True, fastmath=FASTMATH, nogil=True, error_model=ERROR_MODEL,
                            inline="always" if inline else "never", parallel=parallel)(function)
    _drop_stale_cache(dispatcher)
    return dispatcher
