"""Threads for the batched path: the threads numba may use, and whether a batch's parts
(fastnn.paths decides the split) run on threads now or one after another.

The split fixes the arithmetic: fastnn.kernels.threaded runs the parts on threads or, with
numba's threads set to one, one after another, and training ends on the same bits. Whether the parts run on threads follows the machine: with
another process keeping one core of two busy, batches on 2 threads collapse (a thread that
has lost its core holds up every batch), as PyTorch's and OpenBLAS's own thread pools do
there, to a fraction of one thread's speed. So threads run only while the
other cores are free (have_cores), and a long fit measures both ways and keeps the faster
(ThreadChoice).

BLAS runs on one thread meanwhile (threadpoolctl): OpenBLAS's own threads, spinning while
they wait for work, would take the second core from the parts' threads.
"""
import contextlib
import functools
import glob
import os
import threading
import time

import numba
import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  (loads the BLAS the kernels call, for threadpoolctl)
from threadpoolctl import ThreadpoolController

from .kernels.threaded import thread_probe


def usable_threads():
    """Threads numba may run here: its thread count, but no more than the cores this
    process may use."""
    return max(1, min(numba.get_num_threads(), usable_cores()))


def free_cores():
    """Cores this process may use that nothing else wants now: the usable cores less this
    thread and less the runnable tasks of other processes (Linux's count of runnable tasks in
    /proc/loadavg, less this process's running threads); None where that count is unknown."""
    try:
        with open("/proc/loadavg") as file:
            running = int(file.read().split()[3].split("/")[0])
        if running > 1:  # this thread is one of them
            running -= sum(_is_running(task) for task in glob.glob("/proc/self/task/*/stat"))
        else:
            running = 0
    except (OSError, ValueError, IndexError):
        return None
    return usable_cores() - 1 - max(running, 0)


CONFIRM_BUSY_AFTER = (0.001, 0.004)
"""Seconds after which have_cores reads again before it says the cores are taken: a task that
runs for a moment (a process starting or ending) must not send a fit to one thread, nor
compile the one-thread kernel for it."""


def have_cores(n_threads):
    """Whether ``n_threads`` threads would each have a core now: free_cores (None: assumed),
    read again CONFIRM_BUSY_AFTER when they seem taken."""
    for pause in (0.0, *CONFIRM_BUSY_AFTER):
        if pause:
            time.sleep(pause)
        cores = free_cores()
        if cores is None or cores >= n_threads - 1:
            return True
    return False


RECENT_SECONDS = 0.05
"""cores_free_recently reuses a reading of free_cores for this long."""
_recent_reading = [-float("inf"), None]  # (when, free cores)


def cores_free_recently(n_threads):
    """have_cores for calls too short to wait for a second reading (predictions): one reading
    of free_cores, taken at most RECENT_SECONDS ago."""
    now = time.perf_counter()
    if now - _recent_reading[0] > RECENT_SECONDS:
        _recent_reading[:] = now, free_cores()
    cores = _recent_reading[1]
    return cores is None or cores >= n_threads - 1


def _is_running(stat_path):
    try:
        with open(stat_path) as file:
            stat = file.read()
    except OSError:  # the thread ended
        return False
    return stat[stat.rindex(")") + 2] == "R"


def usable_cores():
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@functools.cache
def threading_layer():
    """The layer numba runs its threads on ("omp", "tbb" or "workqueue")."""
    wake_threads()
    return numba.threading_layer()


_PROBE = np.zeros(64)


def wake_threads():
    """Run a tiny parallel loop: threads that slept (and, on a virtual machine, a core the
    host had parked) are awake before a timed call; without it, the first epoch after a pause
    ran at about half speed on 2 threads."""
    thread_probe(_PROBE)


@functools.cache
def _blas_libraries():
    """threadpoolctl's controllers of the BLAS libraries loaded (NumPy's and the one the
    kernels call), each setting its library's thread count directly: a few microseconds,
    where a threadpoolctl limit costs tens."""
    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)


_BLAS_LOCK = threading.Lock()
_blas_holders = 0
_blas_saved = ()


@contextlib.contextmanager
def one_blas_thread():
    """Context manager: BLAS libraries on one thread inside. Process-wide, so the first of
    any number of overlapping holders (threads) sets the limit and the last one restores the
    thread counts from before the first, whatever the order they leave in."""
    global _blas_holders, _blas_saved
    with _BLAS_LOCK:
        if _blas_holders == 0:
            _blas_saved = tuple((library, library.num_threads) for library in _blas_libraries())
            for library, _ in _blas_saved:
                library.set_num_threads(1)
        _blas_holders += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _blas_holders -= 1
            if _blas_holders == 0:
                for library, threads in _blas_saved:
                    library.set_num_threads(threads)
                _blas_saved = ()


class ThreadChoice:
    """Whether a training shape runs its parts on threads, by the machine and by the
    throughput each way.

    While other processes take the cores the parts would need, one thread runs. Otherwise the
    first way is threads, and a fit too short to repay a measurement of the other way runs on
    them throughout: a probe costs a warm-up call and calls at the slower speed. The other
    way is probed once the first has run PROBE_AFTER seconds and 1/PROBE_SHARE times as long
    as a probe takes (at least PROBE_SECONDS and one epoch, which for a large data set is
    long). Then the faster runs, in calls of about
    RUN_SECONDS (so a long fit comes back to choose), and the slower is probed again after
    PROBE_AFTER, twice as late each time it is still slower, up to MAX_PROBE_AFTER: a
    measurement taken while the host lent this machine less than its cores (steal time,
    which the load average does not show) holds for at most that long of running, and a
    probe that long apart costs under 1% when the other way is slower. Each
    way's first call is a warm-up, not counted (the first epochs on threads can run at half
    speed). A way's throughput is its sample-steps over its seconds, older calls weighing
    half as much every ``HALF_LIFE`` seconds.
    """

    PROBE_SECONDS = 0.01
    RUN_SECONDS = 0.1
    PROBE_AFTER = 0.1
    MAX_PROBE_AFTER = 2.0
    PROBE_SHARE = 0.1
    HALF_LIFE = 1.0

    def __init__(self):
        self.calls = {True: 0, False: 0}
        self.samples = {True: 0.0, False: 0.0}
        self.seconds = {True: 0.0, False: 0.0}
        self.when = {True: 0.0, False: 0.0}  # the end of each way's last counted call
        self.rough = None  # the last call's throughput, warm-ups included: sizes calls
        self.probe_after = self.PROBE_AFTER
        self.ran = 0.0  # seconds run without probing since the last probe
        self.probe_seconds = 0.0  # the last probe's

    def rate(self, threaded):
        """Sample-steps per second run that way lately (None before it was measured)."""
        return self.samples[threaded] / self.seconds[threaded] if self.seconds[threaded] else None

    def best(self, cores_free=True, n_samples=0):
        """The way to run now, and whether that call is a probe (or its warm-up), when the
        cores the parts need are free or not and an epoch has ``n_samples`` samples."""
        if not cores_free:
            return False, False
        if self.rate(True) is None and self.rate(False) is None:
            return True, False
        if self.rate(False) is None or self.rate(True) is None:
            faster = self.rate(True) is not None
        else:
            faster = self.rate(True) >= self.rate(False)
        epoch = n_samples / self.rough if self.rough else 0.0
        probe = max(self.probe_seconds, self.PROBE_SECONDS, epoch)
        if self.ran >= max(self.probe_after, probe / self.PROBE_SHARE):
            return not faster, True
        return faster, False

    def epochs(self, threaded, probe, n_samples):
        """Epochs the next call that way runs: about PROBE_SECONDS for a probe (so a probe of
        threads that collapsed stays short), else RUN_SECONDS, at that way's rate, or at the
        last call's rate before the way was measured; at least 1."""
        rate = self.rate(threaded) or self.rough
        seconds = self.PROBE_SECONDS if probe else self.RUN_SECONDS
        return max(1, int(seconds * rate / n_samples)) if rate else 1

    def record(self, threaded, probe, samples, seconds, now=None):
        """A call ran ``samples`` sample-steps in ``seconds`` (on threads or not; a probe or
        not), ending at ``now`` (time.monotonic()). Calls that compiled or loaded code are not
        recorded."""
        now = time.monotonic() if now is None else now
        seconds = max(seconds, 1e-9)
        self.rough = samples / seconds
        self.calls[threaded] += 1
        if self.calls[threaded] == 1:  # a warm-up: a probe goes on after it
            return
        if probe:
            self.ran, self.probe_seconds = 0.0, seconds
        else:
            self.ran += seconds
        known = self.rate(True) is not None and self.rate(False) is not None
        was_faster = known and self.rate(True) >= self.rate(False)
        weight = 0.5 ** ((now - self.when[threaded]) / self.HALF_LIFE)
        self.samples[threaded] = weight * self.samples[threaded] + samples
        self.seconds[threaded] = weight * self.seconds[threaded] + seconds
        self.when[threaded] = now
        if known:
            now_faster = self.rate(True) >= self.rate(False)
            if now_faster != was_faster:  # the order changed: watch the new slower way closely
                self.probe_after = self.PROBE_AFTER
                if not probe:  # the call that lost served as the probe of the way it ran
                    self.ran, self.probe_seconds = 0.0, seconds
            elif probe:
                self.probe_after = min(2 * self.probe_after, self.MAX_PROBE_AFTER)


_CHOICES = {}
_FORCED = []  # the innermost parts_on_threads(way), if any


@contextlib.contextmanager
def parts_on_threads(way):
    """Context manager: inside, batches and predictions split into parts run on threads
    (``way`` True) or one after another (False) whatever the machine and ThreadChoice say; the
    arithmetic, and so the result, is the same either way. For compiling both kernels
    (fastnn.tools.compile) and for measuring one way."""
    _FORCED.append(bool(way))
    try:
        yield
    finally:
        _FORCED.pop()


def forced_way():
    """The way parts_on_threads forces now, or None."""
    return _FORCED[-1] if _FORCED else None


def choice_for(key):
    """The ThreadChoice of one training shape (sizes, batch size, dtype, ...): the load on
    the machine is shared, but each shape's speed either way is its own."""
    return _CHOICES.setdefault(key, ThreadChoice())
