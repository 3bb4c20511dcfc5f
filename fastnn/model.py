"""fastnn.MLP: the shared API (fastnn.network) running on the compiled kernels.

fastnn.paths.choose picks the path of every call; this module builds that path's workspace
and calls its kernel from the tables below, each with the same leading bundles:
(net, params, opt, batches, work, out) for training, (net, params, batches, work) for the
loss and gradient, (net, params, X, work, out) for predictions (fastnn.kernels).
"""
import collections
import time

import numba
import numpy as np

from . import paths, persistence
from ._validation import as_csr, is_sparse
from .kernels._jit import for_codes, has_machine_code, serial_twin
from .kernels.batched import forward_batched, loss_grad_batched, train_batched
from .kernels.narrow import forward_narrow, loss_grad_narrow, train_narrow
from .kernels.per_sample import train_per_sample
from .kernels.sparse import forward_sparse, loss_grad_sparse, train_sparse
from .kernels.threaded import forward_threaded, train_threaded
from .network import Network
from .threads import (choice_for, cores_free_recently, forced_way, have_cores, one_blas_thread,
                      wake_threads)

TRAIN = {paths.PER_SAMPLE: train_per_sample, paths.NARROW: train_narrow,
         paths.BATCHED: train_batched, paths.SPARSE: train_sparse}
"""The training kernel of each path; batches split into parts run in THREADED, on threads or on
one thread (the same kernel and arithmetic either way), or in its serial twin while the
parallel kernel is not compiled (split_kernel)."""
THREADED = train_threaded
LOSS_GRAD = {paths.NARROW: loss_grad_narrow, paths.BATCHED: loss_grad_batched,
             paths.SPARSE: loss_grad_sparse}
FORWARD = {paths.NARROW: forward_narrow, paths.BATCHED: forward_batched,
           paths.SPARSE: forward_sparse}
"""The prediction kernel of each path; predictions split into parts run in FORWARD_THREADED, on
threads while the cores are free, else on one thread."""
FORWARD_THREADED = forward_threaded
NO_ORDER = np.empty((1, 0), np.int64)
"""The order of one pass over every row in storage order."""
EMPTY = {np.dtype(np.float32): np.empty(0, np.float32), np.dtype(np.float64): np.empty(0)}
"""Zero-length buffers, for the workspace's unused slots (never written)."""


def kernel_for(generic, net, opt=None):
    """The kernel to run for the network ``net`` and optimizer ``opt`` (bundles as the kernels
    take them): ``generic`` or its copy compiled for their codes only
    (fastnn.kernels._jit.for_codes)."""
    return for_codes(generic, tuple(net[3].tolist()), int(net[4]),
                     None if opt is None else int(opt[0]))


PARALLEL_COMPILE_SECONDS = 15.0
"""Roughly what compiling a parallel kernel adds to compiling its serial twin. A process runs
a split path's twin until the twin has run this long (counting the rest of the current fit at
its measured rate), then compiles the parallel kernel: a rent-or-buy rule, which never costs
more than twice what deciding with hindsight would. Threads save at most half of a call's
time on two cores, and most fits and predictions run for well under a second."""
SERIAL_SECONDS = collections.Counter()
"""Serial twin -> the seconds it ran in this process (calls that compiled not counted)."""


def split_kernel(generic, net, opt=None, remaining=0.0):
    """The kernel for batches or predictions split into parts, and whether it is parallel:
    ``generic``'s kernel for the network's codes (kernel_for) where running it compiles
    nothing (fastnn.kernels._jit.has_machine_code), where it is the generic one, inside
    parts_on_threads(True), or once its serial twin has run PARALLEL_COMPILE_SECONDS
    (SERIAL_SECONDS, plus ``remaining`` seconds expected); else its serial twin
    (fastnn.kernels._jit.serial_twin), which runs the parts one after another to the same
    bits and compiles in a fraction of the time: a newcomer's first fit does not wait for
    the parallel kernel."""
    parallel = kernel_for(generic, net, opt)
    if parallel is generic or forced_way() or has_machine_code(parallel):
        return parallel, True
    twin = serial_twin(parallel)
    if SERIAL_SECONDS[twin] + remaining >= PARALLEL_COMPILE_SECONDS:
        return parallel, True
    return twin, False


class MLP(Network):
    """Multilayer perceptron trained by compiled Numba kernels.

    MLP(sizes, hidden="tanh", output="sigmoid", bias=True, init="xavier", seed=None,
        dtype="float64"); see the README for the API and the formulas.
    """

    def _forward(self, X):
        n = X.shape[0]
        path = paths.choose("forward", n, self._sizes, self._dtype.itemsize, is_sparse(X))
        out = np.empty((n, self._sizes[-1]), self._dtype)
        X = kernel_rows(X, self._dtype)
        rows = path.block_rows
        if path.kind == paths.NARROW:
            work = (rows, self._empty(rows * sum(self._sizes)), self._empty(2 * rows),
                    NO_ORDER[0])
        elif path.kind == paths.SPARSE:
            work = (rows, self._empty(rows * sum(self._sizes[1:])),
                    self._empty(rows * self._sizes[-1]), NO_ORDER[0])
        elif path.n_parts > 1:
            return self._forward_split(path.n_parts, X, rows, out)
        else:
            work = (rows, self._empty(rows * sum(self._sizes[1:])),
                    self._empty(rows * self._sizes[-1]))
        net = self._net()
        kernel_for(FORWARD[path.kind], net)(net, self._params, X, work, out)
        return out

    def _forward_split(self, n_parts, X, rows, out):
        """A batched prediction split into ``n_parts`` parts, in blocks of ``rows`` rows: on
        threads while the cores are free, else one after another; BLAS on one thread either
        way (its own threads would collapse as the parts' do)."""
        net = self._net()
        forward, parallel = split_kernel(FORWARD_THREADED, net)
        on_threads = parallel and (cores_free_recently(n_parts) if forced_way() is None
                                   else forced_way())
        parts_work = (rows, np.empty((n_parts, rows * sum(self._sizes[1:])), self._dtype),
                      np.empty((n_parts, rows * self._sizes[-1]), self._dtype))
        with one_blas_thread():
            compiled = len(forward.overloads)
            started = time.perf_counter()
            self._on_threads(n_parts if on_threads else 1, forward, net, self._params, X,
                             parts_work, out)
        if not parallel and len(forward.overloads) == compiled:
            SERIAL_SECONDS[forward] += time.perf_counter() - started
        return out

    def _loss_grad(self, X, T, weights, loss, mean, l2):
        n = X.shape[0]
        path = paths.choose("loss_grad", n, self._sizes, self._dtype.itemsize, is_sparse(X))
        X, T, weights = kernel_rows(X, self._dtype), writable(T), writable(weights)
        weight = np.array([[weights.sum(dtype=np.float64)]])
        batches = (X, T, weights, NO_ORDER, weight, n, mean, self._dtype.type(l2))
        work = self._workspace(path, False)
        net = self._net(loss)
        total, penalty, weight = kernel_for(LOSS_GRAD[path.kind], net)(net, self._params,
                                                                       batches, work)
        return total, penalty, weight, work[0]

    def _train_epochs(self, X, T, weights, orders, batch_size, loss, opt, mean, l2):
        path = paths.choose("train", batch_size, self._sizes, self._dtype.itemsize,
                            is_sparse(X))
        X, T, weights = kernel_rows(X, self._dtype), writable(T), writable(weights)
        shuffled = orders.shape[1] > 0
        net = self._net(loss)
        weights_of_batches = batch_weights(weights, orders, batch_size)
        batches = (X, T, weights, orders, weights_of_batches, batch_size, mean,
                   self._dtype.type(l2))
        out = (np.empty(len(orders)), np.empty(len(orders)))
        if path.n_parts == 1:
            done = kernel_for(TRAIN[path.kind], net, opt)(net, self._params, opt, batches,
                                    self._workspace(path, shuffled), out)
            return out[0][:done], out[1][:done]
        threaded_work = self._threaded_workspace(batch_size, path.n_parts, shuffled)
        choice = choice_for((tuple(self._sizes), batch_size, self._dtype.name, path.n_parts))
        done = 0
        while done < len(orders):
            rate = choice.rate(False) or choice.rough
            remaining = (len(orders) - done) * X.shape[0] / rate if rate else 0.0
            threaded, parallel = split_kernel(THREADED, net, opt, remaining)
            if not parallel:
                on_threads, probe = False, False
            elif forced_way() is not None:
                on_threads, probe = forced_way(), False
            else:
                on_threads, probe = choice.best(have_cores(path.n_parts), X.shape[0])
            count = min(len(orders) - done, choice.epochs(on_threads, probe, X.shape[0]))
            run = batches[:3] + (orders[done:done + count],
                                 weights_of_batches[done:done + count] if shuffled
                                 else weights_of_batches) + batches[5:]
            results = (out[0][done:], out[1][done:])
            with one_blas_thread():
                if on_threads:
                    wake_threads()
                compiled = len(threaded.overloads)
                started = time.perf_counter()
                ran = self._on_threads(path.n_parts if on_threads else 1, threaded, net,
                                       self._params, opt, run, threaded_work, results)
                seconds = time.perf_counter() - started
            if len(threaded.overloads) == compiled:  # not compiling
                choice.record(on_threads, probe, ran * X.shape[0], seconds)
                if not parallel:
                    SERIAL_SECONDS[threaded] += seconds
            done += ran
            if ran < count:  # stopped at a non-finite loss
                break
        return out[0][:done], out[1][:done]

    # ----------------------------------------------------------------- workspaces
    def _empty(self, size):
        return np.empty(size, self._dtype) if size else EMPTY[self._dtype]

    def _workspace(self, path, shuffled):
        """The workspace of ``path``'s kernels (fastnn.kernels.per_sample, .narrow, .batched)."""
        sizes = self._sizes
        rows = path.block_rows
        if path.kind == paths.PER_SAMPLE:
            return (np.zeros_like(self._params), self._empty(rows * sum(sizes)),
                    self._empty(rows * sum(sizes[1:])), self._empty(rows * sizes[-1]),
                    self._empty(rows * sizes[-1]), np.empty(rows), np.ones(1, self._dtype))
        if path.kind == paths.NARROW:
            return (np.zeros_like(self._params), rows, self._empty(rows * sum(sizes)),
                    self._empty(rows * sum(sizes[1:])), self._empty(rows * sizes[-1]),
                    self._empty(rows * sizes[-1]), np.empty(rows), self._empty(4 * rows))
        if path.kind == paths.SPARSE:
            gathered = rows if shuffled else 0
            layers = rows * sum(sizes[1:])
            return (np.zeros_like(self._params), self._empty(self._params.size), rows,
                    self._empty(layers), self._empty(layers), self._empty(rows * sizes[-1]),
                    self._empty(gathered * sizes[-1]), np.empty(gathered))
        return self._batched_workspace(rows, shuffled)

    def _batched_workspace(self, rows, shuffled):
        """fastnn.kernels.batched's workspace for blocks of ``rows`` rows (the gather buffers
        empty when rows are taken in storage order)."""
        gathered = rows if shuffled else 0
        layers = rows * sum(self._sizes[1:])
        return (np.zeros_like(self._params), self._empty(self._params.size), rows,
                self._empty(layers), self._empty(layers), self._empty(rows * self._sizes[-1]),
                self._empty(gathered * self._sizes[0]),
                self._empty(gathered * self._sizes[-1]), np.empty(gathered))

    def _threaded_workspace(self, batch_size, n_parts, shuffled):
        """fastnn.kernels.threaded's workspace: the gradient, and a batched workspace per
        part, for parts of up to ceil(batch_size / n_parts) rows (each part one block),
        stacked."""
        part_rows = -(-batch_size // n_parts)
        parts = [self._batched_workspace(part_rows, shuffled) for _ in range(n_parts)]
        grads, scratches, _, *buffers = zip(*parts)
        return (np.zeros_like(self._params), part_rows, np.stack(grads), np.stack(scratches),
                *map(np.stack, buffers),
                np.zeros((2, n_parts)))

    @staticmethod
    def _on_threads(n_threads, compiled, *arguments):
        """compiled(*arguments) with numba's parallel loops on ``n_threads`` threads."""
        threads = numba.get_num_threads()
        wanted = min(n_threads, numba.config.NUMBA_NUM_THREADS)
        if wanted == threads:
            return compiled(*arguments)
        numba.set_num_threads(wanted)
        try:
            return compiled(*arguments)
        finally:
            numba.set_num_threads(threads)


def writable(array):
    """``array``, or a copy of it if it is read-only (a memory map, a broadcast view, joblib's
    memmapped arguments): numba types a read-only array apart from a writable one, and the
    kernels, compiled for writable arrays (what ``python -m fastnn compile`` fills the cache
    with), would compile again for it."""
    return array if array.flags.writeable else array.copy()


def csr_arrays(X, dtype):
    """A sparse X as the kernels take it (fastnn.kernels.sparse): its CSR arrays (data of
    ``dtype``, int64 indices and indptr), converted only if they are not already, each
    copied if it is read-only (writable)."""
    csr = as_csr(X, dtype)
    return writable(csr.data), writable(csr.indices), writable(csr.indptr)


def kernel_rows(X, dtype):
    """Checked rows as the kernels take them: writable, a sparse X as its CSR arrays
    (csr_arrays)."""
    return csr_arrays(X, dtype) if is_sparse(X) else writable(X)


def batch_weights(weights, orders, batch_size):
    """The weight (float64 sum) of each batch of each epoch, epoch e taking rows in orders[e]:
    shape (epochs, batches); (1, batches) when orders has no columns (storage order)."""
    starts = np.arange(0, weights.size, batch_size)
    if orders.shape[1] == 0:
        return np.add.reduceat(weights, starts)[np.newaxis]
    return np.add.reduceat(weights[orders], starts, axis=1)


def load(path):
    """The fastnn.MLP saved at ``path`` (by ``save``), bit for bit (fastnn.load reads a
    stack's file too)."""
    architecture, params = persistence.read(path)
    model = MLP(**architecture, init="xavier", seed=0)
    model.params[...] = params
    return model
