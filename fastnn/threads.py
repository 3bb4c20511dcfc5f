"""Threads for the batched path: the threads numba may use, and whether a batch's parts
(fastnn.paths decides the split) run on threads now or one after another.

The split fixes the arithmetic: on threads (fastnn.kernels.threaded) or on one thread
(fastnn.kernels.batched.train_batched with the same number of parts, one product per part)
training ends on the same bits. Whether the parts run on threads is measured, not assumed:
with another process keeping one core of two busy, W6's batches on 2 threads ran at 67k-128k
samples/s against 720k on one (a thread that has lost its core holds up every batch), the
collapse PyTorch's and OpenBLAS's own thread pools show there. So each training shape runs
both ways, keeps the faster, and tries the other again now and then (ThreadChoice).

BLAS runs on one thread meanwhile (threadpoolctl): OpenBLAS's own threads, spinning while
they wait for work, took the second core from the parts' threads (W6: 450k samples/s with
them, 920k without).
"""
import functools
import os
import time

import numba
import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  (loads the BLAS the kernels call, for threadpoolctl)
from threadpoolctl import ThreadpoolController

from .kernels.threaded import thread_probe


def usable_threads():
    """Threads numba may run here: its thread count, but no more than the cores this
    process may use."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(numba.get_num_threads(), cores))


@functools.cache
def threading_layer():
    """The layer numba runs its threads on ("omp", "tbb" or "workqueue")."""
    wake_threads()
    return numba.threading_layer()


_PROBE = np.zeros(64)


def wake_threads():
    """Run a tiny parallel loop: threads that slept (and, on a virtual machine, a core the
    host had parked) are awake before a timed call. The first epoch after a pause ran at half
    speed on 2 threads without it (W6: 500k samples/s against 940k)."""
    thread_probe(_PROBE)


@functools.cache
def _blas_controller():
    return ThreadpoolController()


def one_blas_thread():
    """Context manager: BLAS libraries on one thread inside."""
    return _blas_controller().limit(limits=1, user_api="blas")


class ThreadChoice:
    """Whether a training shape runs its parts on threads, by the throughput each way.

    Each way's first call is a warm-up, not counted (the first epochs on threads ran at half
    speed: W6 500-570k samples/s against 940k after). Then each way is measured by a probe of
    about PROBE_SECONDS. Then the faster one runs, in calls of about RUN_SECONDS (so a long
    fit comes back to choose), and the slower one is probed again once the faster has run
    PROBE_AFTER seconds, then twice as long each time the slower is still slower, up to
    MAX_PROBE_AFTER; and never before the faster has run 1/PROBE_SHARE times as long as the
    last probe took (a probe is at least one epoch: one of W7's takes 0.4-0.7 s). So a wrong
    first measurement (on a virtual machine whose second core the host had not yet woken,
    threads measured 480k and one thread won for a whole benchmark) is put right soon, and a
    machine whose load changes is followed, without paying for many slow calls. A way's
    throughput is its sample-steps over its seconds, older calls weighing half as much every
    ``HALF_LIFE`` seconds.
    """

    PROBE_SECONDS = 0.01
    RUN_SECONDS = 0.1
    PROBE_AFTER = 0.1
    MAX_PROBE_AFTER = 20.0
    PROBE_SHARE = 0.1
    HALF_LIFE = 1.0

    def __init__(self):
        self.calls = {True: 0, False: 0}
        self.samples = {True: 0.0, False: 0.0}
        self.seconds = {True: 0.0, False: 0.0}
        self.when = {True: 0.0, False: 0.0}  # the end of each way's last counted call
        self.rough = None  # the last call's throughput, warm-ups included: sizes probes
        self.probe_after = self.PROBE_AFTER
        self.ran = 0.0  # seconds run without probing since the last probe
        self.probe_seconds = 0.0  # the last probe's

    def rate(self, threaded):
        """Sample-steps per second run that way lately (None before it was measured)."""
        return self.samples[threaded] / self.seconds[threaded] if self.seconds[threaded] else None

    def best(self):
        """The way to run now, and whether that call is a probe (or a warm-up)."""
        for way in (True, False):
            if self.rate(way) is None:
                return way, True
        faster = self.rate(True) >= self.rate(False)
        if self.ran >= max(self.probe_after, self.probe_seconds / self.PROBE_SHARE):
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
        if probe:
            self.ran, self.probe_seconds = 0.0, seconds
        else:
            self.ran += seconds
        self.calls[threaded] += 1
        if self.calls[threaded] == 1:
            return
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


def choice_for(key):
    """The ThreadChoice of one training shape (sizes, batch size, dtype, ...): the load on
    the machine is shared, but each shape's speed either way is its own."""
    return _CHOICES.setdefault(key, ThreadChoice())
