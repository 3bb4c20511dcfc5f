"""``python -m fastnn compile``: compile the kernels of every path, in float32 and float64, into
Numba's cache, so that later processes (a container image, CI, cluster workers) load them
instead of compiling. The cache is NUMBA_CACHE_DIR when set, else the ``__pycache__`` folders
of the installed package; it holds code for this machine's CPU.

CALLS makes one call of each kind (training on each path, batches split into parts (one
kernel runs them on threads or on one thread), the loss and gradient and predictions on the
narrow, batched and sparse paths, predictions split into parts, and a fastnn.MLPStack's
per-sample training in lanes; its other paths run fastnn.MLP's kernels) with small arrays; the kernels' types depend only on the dtype, so these
fill the cache for every network: with the generic kernels (fastnn.kernels._jit.for_codes),
which have code for every activation, loss and optimizer, and which a later process runs
whenever it finds them in the cache.
"""
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from .. import paths, stack, threads
from ..kernels._jit import generic_kernels
from ..model import MLP
from ..optimizers import SGD

DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class Call:
    name: str
    sizes: list
    rows: int
    task: str                      # "train", "loss_grad" or "forward"
    kind: str                      # the path it takes (fastnn.paths)
    batch_size: int | None = None  # training batches (None: full batch)
    on_threads: bool | None = None  # split batches: on threads or one after another
    sparse: bool = False           # X a scipy.sparse CSR matrix
    models: int = 0                # train a fastnn.MLPStack of this many models (0: an MLP)
    lanes: bool = False            # ... enough of them for the model-minor kernel

    def n_models(self):
        """The stack's models: for ``lanes``, LANES_PER_GROUP for each usable thread."""
        if self.lanes:
            return stack.LANES_PER_GROUP * max(1, threads.usable_threads())
        return self.models


CALLS = [
    Call("per-sample training", [3, 4, 2], 8, "train", paths.PER_SAMPLE, batch_size=1),
    Call("narrow training", [3, 4, 2], 32, "train", paths.NARROW),
    Call("narrow loss and gradient", [3, 4, 2], 32, "loss_grad", paths.NARROW),
    Call("narrow forward", [3, 4, 2], 32, "forward", paths.NARROW),
    Call("batched training", [40, 40, 2], 64, "train", paths.BATCHED),
    Call("batched training on threads", [64, 128, 10], 256, "train", paths.BATCHED,
         on_threads=True),
    Call("batched loss and gradient", [40, 40, 2], 64, "loss_grad", paths.BATCHED),
    Call("batched forward", [40, 40, 2], 5, "forward", paths.BATCHED),
    Call("batched forward on threads", [64, 128, 10], 512, "forward", paths.BATCHED,
         on_threads=True),
    Call("sparse training", [40, 40, 2], 64, "train", paths.SPARSE, batch_size=16, sparse=True),
    Call("sparse loss and gradient", [40, 40, 2], 64, "loss_grad", paths.SPARSE, sparse=True),
    Call("sparse forward", [40, 40, 2], 5, "forward", paths.SPARSE, sparse=True),
    Call("stack per-sample training in lanes", [3, 4, 2], 8, "train", paths.PER_SAMPLE,
         batch_size=1, lanes=True),
]


def path_of(call, dtype):
    """The fastnn.paths.Path the call takes (for a training call, of its batches)."""
    rows = call.batch_size or call.rows
    return paths.choose(call.task, rows, call.sizes, np.dtype(dtype).itemsize, call.sparse)


def make(call, dtype):
    """Run ``call`` once in ``dtype``."""
    rng = np.random.default_rng(0)
    X = rng.random((call.rows, call.sizes[0]))
    if call.sparse:
        X = scipy.sparse.csr_matrix(X * (X < 0.2))
    Y = rng.random((call.rows, call.sizes[-1]))
    if call.n_models():
        models = stack.MLPStack(call.sizes, call.n_models(), seed=0, dtype=dtype)
        models.fit(X, Y, optimizer=SGD(lr=0.01), epochs=1, batch_size=call.batch_size)
        return
    net = MLP(call.sizes, seed=0, dtype=dtype)
    if call.task == "forward":
        with threads.parts_on_threads(bool(call.on_threads)):
            net.forward(X)
    elif call.task == "loss_grad":
        net.loss_and_grad(X, Y)
    elif call.on_threads is None:
        net.fit(X, Y, optimizer=SGD(lr=0.01), epochs=1, batch_size=call.batch_size)
    else:
        with threads.parts_on_threads(call.on_threads):
            net.fit(X, Y, optimizer=SGD(lr=0.01), epochs=1, batch_size=call.batch_size)


def run(dtypes=DTYPES, out=print):
    """Compile (or load, when cached) every call's generic kernels in each dtype; returns the
    seconds of each (name, dtype)."""
    with generic_kernels():
        return _run(dtypes, out)


def _run(dtypes, out):
    seconds = {}
    for dtype in dtypes:
        for call in CALLS:
            path = path_of(call, dtype)
            if call.on_threads is not None and path.n_parts < 2:
                out(f"{call.name}, {dtype}: skipped (rows split only on 2 usable threads or "
                    "more; this process has 1)")
                continue
            started = time.perf_counter()
            make(call, dtype)
            seconds[call.name, dtype] = time.perf_counter() - started
            out(f"{call.name}, {dtype}: {seconds[call.name, dtype]:.2f} s")
    out(f"compiled or loaded in {sum(seconds.values()):.1f} s")
    return seconds
