"""The batched path split into parts (fastnn.kernels.threaded, fastnn.threads): what the
generated comparisons of test_paths.py do not reach: more parts than threads, parts longer
than a block, the same bits on threads or not, and the choice between the two."""
import subprocess
import sys
import threading
import time

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info

import fastnn
from fastnn import model, paths, threads

from conftest import (OPTIMIZERS, assert_matches, assert_same_training, make_data,
                      make_weights, model_pair)

DTYPES = [np.float64, np.float32]


@pytest.fixture
def parts(monkeypatch):
    """Split every batched training batch into ``n`` parts: parts(n); threaded=None lets
    fastnn choose."""
    def split(n, threaded=None):
        monkeypatch.setattr(paths, "batch_parts", lambda rows, sizes: n)
        if threaded is not None:
            monkeypatch.setattr(threads.ThreadChoice, "best",
                                lambda self, *machine: (threaded, False))
    return split


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
@pytest.mark.parametrize("batch_size", [16, 37, None])
def test_three_parts_on_two_threads(parts, dtype, optimizer, batch_size):
    """More parts than threads, batches that do not divide evenly, the full batch: losses,
    parameters and optimizer state agree with the reference."""
    parts(3, True)
    sizes = [12, 40, 24, 4]
    fast, ref = model_pair(sizes, "relu", "softmax", True, dtype, seed=33)
    X, Y = make_data(90, sizes, "softmax", "cross_entropy", seed=34, dtype=dtype)
    assert_same_training(fast, ref, X, Y, OPTIMIZERS[optimizer], dtype, loss="cross_entropy",
                         epochs=4 if dtype == np.float64 else 1, batch_size=batch_size,
                         shuffle=True, l2=0.1, seed=3, sample_weight=make_weights(90))


def test_batches_longer_than_a_block(parts, monkeypatch):
    """One thread takes a batch longer than its buffers (fastnn.paths.BLOCK_ROWS) in blocks
    of whole parts (here 5 parts of 10 rows in blocks of 20): the same bits as on threads,
    and the reference's result."""
    monkeypatch.setattr(paths, "BLOCK_ROWS", 20)
    sizes = [6, 40, 3]
    X, Y = make_data(130, sizes, "softmax", "cross_entropy", seed=36)
    results = []
    for threaded in (True, False):
        parts(5, threaded)
        fast, ref = model_pair(sizes, "tanh", "softmax", True, np.float64, seed=35)
        assert_same_training(fast, ref, X, Y, OPTIMIZERS["momentum"], loss="cross_entropy",
                             epochs=3, batch_size=50, shuffle=True, seed=3)
        results.append(fast.params)
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_size,block_rows", [(32, 1024), (37, 1024), (37, 20)])
@pytest.mark.parametrize("output,loss", [("softmax", "cross_entropy"),
                                         ("sigmoid", "binary_cross_entropy")])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_threads_or_not_give_the_same_bits(parts, monkeypatch, dtype, batch_size, block_rows,
                                           output, loss, optimizer):
    """The split fixes the arithmetic: on threads, on one thread, or switching between the two
    every epoch, training ends on identical bits, for every update rule, in float32 too, also
    when the parts are of odd and unequal length (37 rows: 19 and 18; the last batch 4: 2 and
    2), when the batch is longer than a block (parts of 19 rows, blocks of 20), with sample
    weights, and with one output (OpenBLAS computes that product as a matrix-vector one)."""
    monkeypatch.setattr(paths, "BLOCK_ROWS", block_rows)
    sizes = [64, 128, 64, 10 if output == "softmax" else 1]
    X, Y = make_data(300, sizes, output, loss, seed=37, dtype=dtype)
    weights = make_weights(300, 38)
    results = []
    for threaded in (True, False, "alternate"):
        if threaded == "alternate":
            parts(2)
            calls = iter(range(1000))
            monkeypatch.setattr(threads.ThreadChoice, "best",
                                lambda self, *machine: (next(calls) % 2 == 0, True))
            monkeypatch.setattr(threads.ThreadChoice, "epochs", lambda self, *way: 1)
        else:
            parts(2, threaded)
        net = fastnn.MLP(sizes, hidden=["relu", "softplus"], output=output, seed=38, dtype=dtype)
        history = net.fit(X, Y, loss=loss, optimizer=OPTIMIZERS[optimizer](), epochs=5,
                          batch_size=batch_size, shuffle=True, seed=1, reduction="mean",
                          l2=0.01, sample_weight=weights)
        if threaded == "alternate":
            assert next(calls) == 5  # five calls of one epoch: threads, one thread, threads, ...
        results.append((net.params.copy(), history.loss))
    for params, losses in results[1:]:
        np.testing.assert_array_equal(params, results[0][0])
        np.testing.assert_array_equal(losses, results[0][1])


def test_divergence_is_caught_on_threads(parts):
    parts(2, True)
    X, Y = make_data(64, [3, 20, 1], "linear", "squared_error", seed=39)
    net = fastnn.MLP([3, 20, 1], output="linear", seed=0)
    before = net.params.copy()
    with pytest.raises(FloatingPointError):
        net.fit(X, Y * 1e6, optimizer=fastnn.SGD(lr=10.0), epochs=50, batch_size=32)
    np.testing.assert_array_equal(net.params, before)


# --------------------------------------------------------------------------- the choices
def test_usable_threads_follow_numba():
    threads_before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        assert threads.usable_threads() == 1
    finally:
        numba.set_num_threads(threads_before)
    assert 1 <= threads.usable_threads() <= numba.config.NUMBA_NUM_THREADS


def test_blas_runs_on_one_thread_inside():
    with threads.one_blas_thread():
        assert all(lib["num_threads"] == 1 for lib in threadpool_info()
                   if lib["user_api"] == "blas")


def test_free_cores_counts_other_processes():
    if threads.free_cores() is None:
        pytest.skip("no count of runnable tasks here (not Linux)")
    assert threads.free_cores() <= threads.usable_cores() - 1
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        assert threads.free_cores() <= threads.usable_cores() - 2
    finally:
        busy.kill()
        busy.wait()


@pytest.mark.parametrize("readings, have", [([1], True), ([None], True), ([0, 0, 1], True),
                                            ([0, 0, 0], False)])
def test_have_cores_confirms_the_cores_are_taken(monkeypatch, readings, have):
    """Taken only when every reading says so: a task that runs a moment is not a busy core."""
    left = iter(readings)
    monkeypatch.setattr(threads, "free_cores", lambda: next(left))
    monkeypatch.setattr(threads.time, "sleep", lambda seconds: None)
    assert threads.have_cores(2) is have


def test_choice_starts_on_threads_and_probes_only_a_long_run():
    """A short fit runs on threads throughout; the other way is measured once threads ran
    PROBE_AFTER seconds (its first call a warm-up), then the faster runs."""
    choice = threads.ThreadChoice()
    assert choice.best() == (True, False) and choice.epochs(True, False, 100) == 1
    choice.record(True, False, 100, 1e-3, now=0.5)      # a warm-up: not counted
    assert choice.rate(True) is None and choice.best() == (True, False)
    assert choice.epochs(True, False, 10) == 10_000 * choice.RUN_SECONDS  # sized by the warm-up
    choice.record(True, False, 900, 0.9 * choice.PROBE_AFTER, now=1.0)
    assert choice.best(True, 10) == (True, False)
    choice.record(True, False, 100, 0.1 * choice.PROBE_AFTER, now=1.1)
    assert choice.best(True, 10) == (False, True)
    choice.record(False, True, 50, 0.01, now=1.2)        # the probe's warm-up
    assert choice.best(True, 10) == (False, True)
    choice.record(False, True, 50, 0.01, now=1.3)
    assert choice.best(True, 10) == (True, False)        # threads were faster
    choice.record(True, False, 10_000 * choice.PROBE_AFTER, choice.PROBE_AFTER, now=1.4)
    assert choice.best(True, 10) == (False, True)        # the slower way again, later


def test_choice_runs_one_thread_while_the_cores_are_taken():
    choice = threads.ThreadChoice()
    assert choice.best(False) == (False, False)
    choice.record(False, False, 100, 1e-3, now=0.5)
    choice.record(False, False, 1000, 0.01, now=0.6)
    assert choice.best(False) == (False, False)
    assert choice.best(True) == (False, False)           # free again: probe threads later


def test_choice_keeps_long_probes_rare():
    """A probe is at least an epoch: the faster way runs 1/PROBE_SHARE times as long first,
    so a fit of a few long epochs is never probed."""
    choice = threads.ThreadChoice()
    choice.record(True, False, 1000, 1.0, now=0.0)
    choice.record(True, False, 1000, 1.0, now=1.0)       # epochs of a second
    choice.record(True, False, 8000, 8.0, now=9.0)
    assert choice.best(True, 1000) == (True, False)
    choice.record(True, False, 1000, 1.0, now=10.0)
    assert choice.best(True, 1000) == (False, True)
    choice.record(False, True, 500, 1.0, now=11.0)       # warm-up
    choice.record(False, True, 500, 1.0, now=12.0)       # a probe of one second
    choice.record(True, False, 990 / choice.PROBE_SHARE, 0.99 / choice.PROBE_SHARE, now=20.0)
    assert choice.best(True, 1000) == (True, False)
    choice.record(True, False, 20 / choice.PROBE_SHARE, 0.02 / choice.PROBE_SHARE, now=22.0)
    assert choice.best(True, 1000) == (False, True)


def warmed_choice():
    choice = threads.ThreadChoice()
    choice.record(True, True, 1, 1.0, now=0.0)
    choice.record(False, True, 1, 1.0, now=0.0)
    return choice


def test_choice_weighs_calls_by_their_time_and_age():
    """A short slow call (a fit's first epoch) moves the throughput little; after a few
    half-lives the old calls hardly count."""
    choice = warmed_choice()
    choice.record(True, False, 1_000_000, 1.0, now=10.0)
    choice.record(True, False, 1_000, 0.002, now=10.0)  # 500k/s for 2 ms
    assert choice.rate(True) == pytest.approx(1_001_000 / 1.002)
    choice.record(True, False, 300_000, 1.0, now=10.0 + 10 * choice.HALF_LIFE)
    assert choice.rate(True) == pytest.approx(300_000, rel=0.03)


def test_choice_follows_a_change_of_load():
    """When threads collapse (another process took a core), the next call runs without them
    (the slow call served as their probe: the next comes after the faster way ran 1/PROBE_SHARE
    times as long); a probe that loses again comes twice as late; one that wins switches
    back."""
    choice = warmed_choice()
    choice.record(True, False, 1000, 1.0, now=1.0)
    choice.record(False, True, 600, 1.0, now=2.0)
    choice.record(True, False, 100, 1.0, now=3.0)      # threads collapsed: 100/s
    assert choice.rate(False) > choice.rate(True)
    assert choice.best() == (False, False)
    choice.record(False, False, 600 * 9.9, 9.9, now=13.0)
    assert choice.best() == (False, False)
    choice.record(False, False, 60, 0.1, now=13.1)
    assert choice.best() == (True, True)
    assert choice.epochs(True, True, 1) < choice.epochs(False, True, 1)  # a short probe
    choice.record(True, True, 1, 0.01, now=13.2)        # still collapsed: probe later
    assert choice.probe_after == 2 * choice.PROBE_AFTER
    choice.record(False, False, 60, 0.1, now=13.3)
    assert choice.best() == (False, False)
    choice.record(False, False, 60, 0.1, now=13.4)
    assert choice.best() == (True, True)
    for i in range(20):  # losing every time: up to MAX_PROBE_AFTER apart
        choice.record(True, True, 1, 0.01, now=14.0 + i)
    assert choice.probe_after == choice.MAX_PROBE_AFTER
    choice.record(False, False, 600, 1.0, now=39.0)
    choice.record(True, True, 11_000, 1.0, now=40.0)  # the load went away
    assert choice.probe_after == choice.PROBE_AFTER
    assert choice.best() == (True, False)


def test_choice_per_training_shape():
    assert threads.choice_for(("a", 1)) is threads.choice_for(("a", 1))
    assert threads.choice_for(("a", 1)) is not threads.choice_for(("a", 2))


@pytest.fixture
def thread_counts(monkeypatch):
    """The numba thread count of each call of the split kernels (training and forward), in
    order: one kernel runs the parts either way, on threads or on one thread."""
    counts = []

    def counted(kernel):
        def call(*arguments):
            counts.append(numba.get_num_threads())
            return kernel(*arguments)
        call.overloads = kernel.overloads
        return call

    monkeypatch.setattr(model, "THREADED", counted(model.THREADED))
    monkeypatch.setattr(model, "FORWARD_THREADED", counted(model.FORWARD_THREADED))
    return counts


@pytest.mark.parametrize("way", [True, False])
def test_parts_on_threads_forces_the_way(parts, kernel_calls, thread_counts, way):
    parts(2)
    X, Y = make_data(128, [8, 64, 4], "linear", "squared_error", seed=40)
    net = fastnn.MLP([8, 64, 4], output="linear", seed=0)
    with threads.parts_on_threads(way):
        net.fit(X, Y, epochs=3, batch_size=64)
    assert set(kernel_calls) == {"threaded"} and set(thread_counts) == {2 if way else 1}
    assert threads.forced_way() is None


@pytest.mark.parametrize("cores_free", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_predictions_split_over_threads_while_the_cores_are_free(monkeypatch, thread_counts,
                                                                 cores_free, dtype):
    """A prediction with enough work runs its parts on threads while the cores are free and
    on one thread otherwise: each row's outputs as the reference's."""
    monkeypatch.setattr(paths.threads, "usable_threads", lambda: 2)
    monkeypatch.setattr(paths.threads, "threading_layer", lambda: "omp")
    monkeypatch.setattr(model, "cores_free_recently", lambda n_threads: cores_free)
    sizes = [16, 96, 48, 5]
    fast, ref = model_pair(sizes, ["relu", "tanh"], "softmax", True, dtype, seed=41)
    X, _ = make_data(1501, sizes, "softmax", "cross_entropy", seed=42, dtype=dtype)
    assert paths.choose("forward", 1501, sizes, np.dtype(dtype).itemsize).n_parts == 2
    assert_matches(fast.forward(X), ref.forward(X), dtype)
    assert thread_counts == [2 if cores_free else 1]


# --------------------------------------------------------------------------- Python threads
def blas_threads():
    """The thread counts of the BLAS libraries fastnn limits (those loaded when it first did)."""
    return [library.num_threads for library in threads._blas_libraries()]


def test_blas_limit_restored_whatever_order_threads_leave_in():
    """A enters, B enters, A leaves, B leaves: the limits are back to what they were."""
    before = blas_threads()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():
        with threads.one_blas_thread():
            a_in.set()
            b_in.wait()
        a_out.set()

    def b():
        a_in.wait()
        with threads.one_blas_thread():
            b_in.set()
            a_out.wait()
    workers = [threading.Thread(target=a), threading.Thread(target=b)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert blas_threads() == before
    with threads.one_blas_thread():
        assert set(blas_threads()) == {1}
    assert blas_threads() == before


def test_a_model_trained_from_two_threads_at_once_is_refused():
    X, Y = make_data(64, [3, 8, 2], "linear", "squared_error", seed=41)
    net = fastnn.MLP([3, 8, 2], output="linear", seed=0)
    started, release = threading.Event(), threading.Event()

    def hold(epoch, loss):
        started.set()
        release.wait()
    worker = threading.Thread(target=lambda: net.fit(X, Y, epochs=2, callback=hold))
    worker.start()
    started.wait()
    try:
        before = net.params.copy()
        with pytest.raises(RuntimeError, match="another thread"):
            net.fit(X, Y, epochs=1)
        with pytest.raises(RuntimeError, match="another thread"):
            net.train_epochs_unchecked(np.ascontiguousarray(X), np.ascontiguousarray(Y),
                                       "squared_error", fastnn.SGD(lr=0.01),
                                       np.empty((1, 0), np.int64), 32)
        np.testing.assert_array_equal(net.params, before)
    finally:
        release.set()
        worker.join()
    net.fit(X, Y, epochs=1)  # free again


@pytest.mark.parametrize("shape", [
    ([3, 8, 2], 1), ([3, 8, 2], None), ([8, 64, 4], 64)], ids=["per_sample", "narrow", "batched"])
def test_different_models_in_threads_train_as_they_do_serially(shape):
    sizes, batch_size = shape
    X, Y = make_data(128, sizes, "linear", "squared_error", seed=42)

    def train(seed):
        net = fastnn.MLP(sizes, output="linear", seed=seed)
        net.fit(X, Y, optimizer=fastnn.Adam(lr=0.01), epochs=20, batch_size=batch_size, seed=seed)
        return net.params
    serial = [train(seed) for seed in range(4)]
    results = {}
    workers = [threading.Thread(target=lambda s=seed: results.__setitem__(s, train(s)))
               for seed in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for seed in range(4):
        np.testing.assert_array_equal(results[seed], serial[seed])
