"""The one place that says how kernels are compiled."""
import collections
import contextlib
import functools
import hashlib
import os
import pathlib
import types

import numba

from . import codes

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

    A kernel called with an integer constant is compiled for that value (numba types it
    Literal[int]) apart from the int64 of a caller passing a variable: kernels pass
    ``np.int64(0)``, not ``0``, to a kernel that other kernels call with a variable there.
    """
    if function is None:
        return functools.partial(kernel, parallel=parallel, inline=inline, blas=blas,
                                 entry=entry)
    options = dict(parallel=parallel, inline=inline, blas=blas, entry=entry)
    fastmath = FASTMATH if entry or inline else ORDERED_FASTMATH
    dispatcher = numba.njit(cache=True, fastmath=fastmath, nogil=True, error_model=ERROR_MODEL,
                            parallel=parallel, inline="always" if inline else "never",
                            _nrt=blas)(function)
    _drop_stale_cache(dispatcher)
    _KERNELS[id(dispatcher)] = dispatcher, options
    return dispatcher


_KERNELS = {}
"""id -> (dispatcher, its kernel() options), for every kernel made here."""

CODE_SETS = tuple(name for name in dir(codes) if name.startswith("COMPILED_"))
"""The module-level tuples of codes a kernel's branches test (fastnn.kernels.codes)."""


def _as_kernel(value):
    """(dispatcher, options) if ``value`` is a kernel made here, else None."""
    found = _KERNELS.get(id(value))
    return found if found is not None and found[0] is value else None


@functools.cache
def code_sets_read(dispatcher):
    """The names of CODE_SETS that the kernel or a kernel it calls reads."""
    function = dispatcher.py_func
    names = set(function.__code__.co_names) & set(CODE_SETS)
    for name in function.__code__.co_names:
        callee = _as_kernel(function.__globals__.get(name))
        if callee is not None:
            names |= code_sets_read(callee[0])
    return frozenset(names)


def specialised(dispatcher, **code_sets):
    """The kernel ``dispatcher`` compiled only for the codes given (``COMPILED_ACTIVATIONS=
    (TANH, SIGMOID)``, ...; a set not given keeps every code): a copy of it and of the kernels
    it calls whose code sets are those, so numba prunes the other branches before typing
    them. The same source and the same arithmetic, compiled in a fraction of the time: a
    network runs a few of the activations, one loss and one optimizer. A copy's name (and
    so its symbols and its cache files) carries its codes."""
    narrowed = tuple((name, tuple(sorted(set(code_sets[name]))))
                     for name in sorted(code_sets_read(dispatcher) & code_sets.keys())
                     if set(code_sets[name]) != set(getattr(codes, name)))
    return _copy(dispatcher, narrowed) if narrowed else dispatcher


_COPIES = {}


def _copy(dispatcher, narrowed, serial=False):
    key = (id(dispatcher), narrowed, serial)
    if key in _COPIES:
        return _COPIES[key]
    function = dispatcher.py_func
    scope = dict(function.__globals__)
    scope.update(narrowed)
    for name in function.__code__.co_names:
        callee = _as_kernel(function.__globals__.get(name))
        if callee is not None:
            own = tuple(item for item in narrowed if item[0] in code_sets_read(callee[0]))
            scope[name] = _copy(callee[0], own) if own else callee[0]
    copy = types.FunctionType(function.__code__, scope, function.__name__,
                              function.__defaults__, function.__closure__)
    tag = "_".join(name[len("COMPILED_"):][0].lower() + "".join(map(str, values))
                   for name, values in narrowed)
    copy.__qualname__ = "__".join(filter(None, (function.__qualname__, tag,
                                                "serial" if serial else "")))
    copy.__module__ = function.__module__
    copy.__doc__ = function.__doc__
    options = dict(_KERNELS[id(dispatcher)][1])
    if serial:
        options["parallel"] = False
    _COPIES[key] = kernel(copy, **options)
    return _COPIES[key]


def serial_twin(dispatcher):
    """The parallel kernel ``dispatcher`` compiled without numba's parallel loops: each
    ``prange`` runs as a plain loop, its iterations one after another in order, so the twin
    computes what the kernel computes on one thread, to the bit. It compiles in a fraction
    of the time, without the parallel loops' outlined bodies and wrappers, each of which
    numba optimises again with all the code it links in."""
    return _copy(dispatcher, (), serial=True)


def has_machine_code(dispatcher):
    """Whether the kernel is compiled in this process or its machine code is in the cache
    (for some signature), so that running it costs no compilation."""
    return bool(dispatcher.overloads) or _in_cache(dispatcher)


def inlined(helper):
    """The same helper as ``helper`` (a kernel), inlined into its compiled callers by numba
    (inline="always"): for the per-sample path, which calls its helpers once a row, where a
    call costs as much as the work (its arguments go as seven words per array; LLVM does not
    inline helpers this large). The batched and narrow paths call them once a block."""
    return kernel(helper.py_func, inline=True)


_GENERIC = [os.environ.get("FASTNN_KERNELS", "").lower() == "generic"]
"""FASTNN_KERNELS=generic: every network runs the kernels compiled for every code (what
``python -m fastnn compile`` fills the cache with), none compiled for its own codes."""


@contextlib.contextmanager
def generic_kernels():
    """Context manager: inside, every network runs the generic kernels (for
    ``python -m fastnn compile``, which fills the cache with them)."""
    _GENERIC.append(True)
    try:
        yield
    finally:
        _GENERIC.pop()


MAX_COPIES = 2
"""Copies of one kernel a process makes for different codes; from the next configuration on
it runs the generic kernel (one compile serving every configuration, as a search over
activations or optimizers needs)."""


def for_codes(dispatcher, activations, loss=None, optimizer=None):
    """The kernel to run for a network of these activation codes (a tuple), loss and
    optimizer codes (None: any): the generic kernel where it has machine code already (in
    this process or in the cache), after MAX_COPIES copies of it, or with
    FASTNN_KERNELS=generic; else its copy specialised for these codes (``specialised``),
    which compiles in a fraction of the generic one's time."""
    if _GENERIC[-1] or _as_kernel(dispatcher) is None or has_machine_code(dispatcher):
        return dispatcher
    return _for_codes(dispatcher, activations, loss, optimizer)


@functools.lru_cache(maxsize=None)
def _for_codes(dispatcher, activations, loss, optimizer):
    code_sets = {"COMPILED_ACTIVATIONS": activations}
    if loss is not None:
        code_sets["COMPILED_LOSSES"] = (loss,)
    if optimizer is not None:
        code_sets["COMPILED_OPTIMIZERS"] = (optimizer,)
    copy = specialised(dispatcher, **code_sets)
    made = _copies_made[id(dispatcher)]
    if copy is not dispatcher and copy not in made:
        if len(made) >= MAX_COPIES:
            return dispatcher
        made.add(copy)
    return copy


_copies_made = collections.defaultdict(set)  # id of a generic kernel -> its copies run


@functools.cache
def _in_cache(dispatcher):
    """Whether the cache's index holds machine code of the kernel (for some signature, its
    sources unchanged), read once a process."""
    try:
        return bool(dispatcher._cache._cache_file._load_index())
    except (AttributeError, OSError, EOFError, ValueError):  # another numba layout
        return False
