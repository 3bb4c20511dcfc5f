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
# of fastnn.kernels.elementary), and for every kernel that other kernels call (see kernel):
# LLVM keeps each instruction's flags when it inlines it.
ORDERED_FASTMATH = FASTMATH - {"reassoc"}
# x / 0 gives inf or NaN as in NumPy: no check that raises ZeroDivisionError, whose branch
# would stop a loop with a division (a sigmoid, say) vectorising.
ERROR_MODEL = "numpy"

_PACKAGE = pathlib.Path(__file__).parent
"""fastnn.kernels: every source a kernel can depend on (the kernels import nothing else of
fastnn)."""


@functools.cache
def kernel_sources_digest():
    """Digest of every source a kernel's machine code depends on."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.glob("*.py")):
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


def kernel(function=None, *, parallel=False, inline=False, blas=False, entry=False):
    """Decorator for every compiled kernel: ``@kernel``.

    Kernels are compiled without numba's reference counting (its runtime, NRT): they allocate
    nothing (their buffers come from Python) and return no arrays, so no count is needed, and
    counting cost much: every array a call passes is counted up and down around the call,
    and numba's pass that removes those pairs fails across branches and loops (numba issue
    #2350), which slowed the per-sample path markedly. Helpers are plain kernels, which
    LLVM inlines into their callers, so a formula is compiled once however many paths call it.

    ``@kernel(entry=True)``: for the kernels Python calls (fastnn.model's tables). They and
    what numba inlines into them reassociate sums (fast-math reassoc, which lets reductions
    vectorise); the kernels they call do not (ORDERED_FASTMATH). numba links a called
    kernel's code into each caller's module as a weak symbol, and a process runs whichever
    copy its JIT loaded first: the callee's own, compiled in this process, or the caller's,
    loaded from the cache. Optimised in different modules, reassociated copies round
    differently, and a fit would end on other bits the first time it runs on a machine than
    later; kept in order, every copy rounds alike. (Not for parallel kernels: numba compiles
    each prange body as a function of its own, linked as a called kernel is.)

    ``@kernel(parallel=True)``: its ``numba.prange`` loops run on numba's threads
    (fastnn.threads says how many). ``@kernel(inline=True)`` (numba's inline="always"): for
    a helper that returns a view of its argument (a compiled function without reference
    counting cannot return an array), and for the kernels that orchestrate a path's calls
    (a block's forward and backward, a batch's blocks): numba links a called kernel's code
    into its caller and optimizes and compiles the linked module again, so each level of
    calls would compile all the code below it once more. Each inlined copy is typed again:
    inline only what is small or called once. ``@kernel(blas=True)``: for a kernel that
    calls BLAS through np.dot, which needs the reference counting (numba's np.dot(a, b, out)
    returns out through a wrapper); its counts of arrays from an uncounted caller are no-ops.
    """
    if function is None:
        return functools.partial(kernel, parallel=parallel, inline=inline, blas=blas,
                                 entry=entry)
    fastmath = FASTMATH if entry or inline else ORDERED_FASTMATH
    dispatcher = numba.njit(cache=True, fastmath=fastmath, nogil=True, error_model=ERROR_MODEL,
                            parallel=parallel, inline="always" if inline else "never",
                            _nrt=blas)(function)
    _drop_stale_cache(dispatcher)
    return dispatcher


def inlined(helper):
    """The same helper as ``helper`` (a kernel), inlined into its compiled callers by numba
    (inline="always"): for the per-sample path, which calls its helpers once a row, where a
    call costs as much as the work (its arguments go as seven words per array; LLVM does not
    inline helpers this large). The batched and narrow paths call them once a block."""
    return kernel(helper.py_func, inline=True)
