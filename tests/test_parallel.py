"""The batched path split into parts on threads (fastnn.kernels.parallel, fastnn.threads):
against the reference, the same bits on threads or not, and the choice between the two."""
import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info

import fastnn
import fastnn.model
from fastnn import _registry as reg
from fastnn import threads

from conftest import (OUTPUT_LOSS_PAIRS, assert_matches, assert_same_training, make_data,
                      model_pair)

DTYPES = [np.float64, np.float32]
OPTIMIZERS = {
    "mild": lambda: fastnn.SGD(lr=0.01, momentum=0.5),
    "momentum": lambda: fastnn.SGD(lr=0.05, momentum=0.9),
    "nesterov_decay": lambda: fastnn.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam": lambda: fastnn.Adam(lr=0.01, weight_decay=0.01),
}


@pytest.fixture
def parts(monkeypatch):
    """Split every batch into ``n`` parts: parts(n); threaded=None lets fastnn choose."""
    def split(n, threaded=None):
        monkeypatch.setattr(fastnn.model, "batch_parts", lambda batch_size, sizes, block_rows: n)
        if threaded is not None:
            monkeypatch.setattr(threads.ThreadChoice, "best", lambda self: (threaded, False))
    return split


def fit_both(fast, ref, X, Y, optimizer, **fit_args):
    opt_fast, opt_ref = OPTIMIZERS[optimizer](), OPTIMIZERS[optimizer]()
    h_fast = fast.fit(X, Y, optimizer=opt_fast, seed=3, **fit_args)
    h_ref = ref.fit(X, Y, optimizer=opt_ref, seed=3, **fit_args)
    return h_fast, h_ref, opt_fast, opt_ref


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", reg.HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("threaded", [True, False])
def test_every_activation_and_loss(parts, dtype, hidden, output, loss, bias, threaded):
    """One step, then three shuffled epochs of batches of 20 in 2 parts (the last batch short),
    against the reference."""
    parts(2, threaded)
    sizes = [5, 9, 6, 3]
    for reduction in reg.REDUCTIONS:
        fast, ref = model_pair(sizes, hidden, output, bias, dtype, seed=31)
        X, Y = make_data(47, sizes, output, loss, seed=32, dtype=dtype)
        args = dict(loss=loss, batch_size=20, shuffle=True, reduction=reduction)
        fit_both(fast, ref, X[:20], Y[:20], "mild", epochs=1, **args)
        assert_matches(fast._params, ref._params, dtype)
        h_fast, h_ref, _, _ = fit_both(fast, ref, X, Y, "mild", epochs=3, **args)
        assert_matches(h_fast.loss, h_ref.loss, dtype)
        assert_matches(fast._params, ref._params, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_parts", [2, 3])
@pytest.mark.parametrize("optimizer", sorted(set(OPTIMIZERS) - {"mild"}))
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("l2", [0.0, 0.1])
@pytest.mark.parametrize("batch_size", [16, 37, None])
def test_parts_optimizers_and_penalty(parts, dtype, n_parts, optimizer, shuffle, l2, batch_size):
    """Any number of parts (3 on 2 threads too), batches that do not divide evenly, the full
    batch, every optimizer, l2: losses, parameters and optimizer state agree with the
    reference."""
    parts(n_parts)
    sizes = [12, 40, 24, 4]
    fast, ref = model_pair(sizes, "relu", "softmax", True, dtype, seed=33)
    X, Y = make_data(90, sizes, "softmax", "cross_entropy", seed=34, dtype=dtype)
    assert_same_training(fast, ref, X, Y, OPTIMIZERS[optimizer], dtype, loss="cross_entropy",
                         epochs=4 if dtype == np.float64 else 1, batch_size=batch_size,
                         shuffle=shuffle, reduction="mean", l2=l2, seed=3)


def test_batches_longer_than_a_block(parts, monkeypatch):
    """One thread takes a batch longer than its buffers (fastnn.model.BLOCK_ROWS) in blocks
    of whole parts (here 5 parts of 10 rows in blocks of 20): the same bits as on threads,
    and the reference's result."""
    monkeypatch.setattr(fastnn.model, "BLOCK_ROWS", 20)
    sizes = [6, 10, 3]
    X, Y = make_data(130, sizes, "softmax", "cross_entropy", seed=36)
    results = []
    for threaded in (True, False):
        parts(5, threaded)
        fast, ref = model_pair(sizes, "tanh", "softmax", True, np.float64, seed=35)
        h_fast, h_ref, _, _ = fit_both(fast, ref, X, Y, "momentum", loss="cross_entropy",
                                       epochs=3, batch_size=50, shuffle=True)
        assert_matches(h_fast.loss, h_ref.loss)
        assert_matches(fast._params, ref._params)
        results.append(fast._params)
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_size", [32, 37])
@pytest.mark.parametrize("output,loss", [("softmax", "cross_entropy"),
                                         ("sigmoid", "binary_cross_entropy")])
def test_threads_or_not_give_the_same_bits(parts, monkeypatch, dtype, batch_size, output, loss):
    """The split fixes the arithmetic: on threads, on one thread, or switching between the two
    every epoch, training ends on identical bits, in float32 too, also when the parts are of
    odd and unequal length (37 rows: 19 and 18; the last batch 4: 2 and 2), and with one
    output (OpenBLAS computes that product as a matrix-vector one)."""
    sizes = [64, 128, 64, 10 if output == "softmax" else 1]
    X, Y = make_data(300, sizes, output, loss, seed=37, dtype=dtype)
    results = []
    for threaded in (True, False, "alternate"):
        if threaded == "alternate":
            parts(2)
            calls = iter(range(1000))
            monkeypatch.setattr(threads.ThreadChoice, "best",
                                lambda self: (next(calls) % 2 == 0, True))
            monkeypatch.setattr(threads.ThreadChoice, "epochs", lambda self, *way: 1)
        else:
            parts(2, threaded)
        net = fastnn.MLP(sizes, hidden="relu", output=output, seed=38, dtype=dtype)
        history = net.fit(X, Y, loss=loss, optimizer=fastnn.SGD(lr=0.05, momentum=0.9),
                          epochs=5, batch_size=batch_size, shuffle=True, seed=1,
                          reduction="mean", l2=0.01)
        if threaded == "alternate":
            assert next(calls) == 5  # five calls of one epoch: threads, one thread, threads, ...
        results.append((net._params.copy(), history.loss))
    for params, loss in results[1:]:
        np.testing.assert_array_equal(params, results[0][0])
        np.testing.assert_array_equal(loss, results[0][1])


def test_divergence_is_caught_on_threads(parts):
    parts(2, True)
    X, Y = make_data(64, [3, 20, 1], "linear", "squared_error", seed=39)
    net = fastnn.MLP([3, 20, 1], output="linear", seed=0)
    before = net._params.copy()
    with pytest.raises(FloatingPointError):
        net.fit(X, Y * 1e6, optimizer=fastnn.SGD(lr=10.0), epochs=50, batch_size=32)
    np.testing.assert_array_equal(net._params, before)


# --------------------------------------------------------------------------- the choices
def test_which_batches_split(monkeypatch):
    """Split only with 2+ usable threads, enough work and 8+ rows a part; never on numba's
    workqueue layer."""
    monkeypatch.setattr(threads, "usable_threads", lambda: 2)
    monkeypatch.setattr(threads, "threading_layer", lambda: "omp")
    w6 = np.array([64, 128, 64, 10])
    assert threads.batch_parts(32, w6, 1024) == 2
    assert threads.batch_parts(15, w6, 1024) == 1            # parts of under 8 rows
    assert threads.batch_parts(1000, np.array([2, 10, 1]), 1024) == 1  # 180k flops
    assert threads.batch_parts(32, np.array([25, 5, 10]), 1024) == 1
    assert threads.batch_parts(2048, np.array([32, 32, 32, 10]), 1024) == 1  # narrow path
    assert threads.batch_parts(4096, w6, 1024) == 1          # parts longer than a block
    monkeypatch.setattr(threads, "usable_threads", lambda: 4)
    assert threads.batch_parts(32, w6, 1024) == 4
    assert threads.batch_parts(24, w6, 1024) == 3
    monkeypatch.setattr(threads, "usable_threads", lambda: 1)
    assert threads.batch_parts(32, w6, 1024) == 1
    monkeypatch.setattr(threads, "usable_threads", lambda: 2)
    monkeypatch.setattr(threads, "threading_layer", lambda: "workqueue")
    assert threads.batch_parts(32, w6, 1024) == 1


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


def test_choice_warms_up_measures_both_ways_then_keeps_the_faster():
    choice = threads.ThreadChoice()
    assert choice.best() == (True, True) and choice.epochs(True, True, 100) == 1
    choice.record(True, True, 100, 1e-3, now=0.5)      # a warm-up: not counted
    assert choice.rate(True) is None
    assert choice.best() == (True, True)
    assert choice.epochs(True, True, 100) == 1000 * choice.PROBE_SECONDS  # sized by the warm-up
    choice.record(True, True, 1000, 0.01, now=1.0)
    assert choice.best() == (False, True)
    choice.record(False, True, 500, 0.01, now=1.5)      # warm-up
    choice.record(False, True, 500, 0.01, now=2.0)
    assert choice.best() == (True, False)
    assert choice.epochs(True, False, 10) == 10_000 * choice.RUN_SECONDS  # calls of RUN_SECONDS
    choice.record(True, False, 9000, 0.9 * choice.PROBE_AFTER, now=3.0)
    assert choice.best() == (True, False)
    choice.record(True, False, 1000, 0.1 * choice.PROBE_AFTER, now=4.0)
    assert choice.best() == (False, True)  # a probe of the slower way


def test_choice_keeps_long_probes_rare():
    """A probe is at least an epoch: the faster way runs 1/PROBE_SHARE times as long first."""
    choice = warmed_choice()
    choice.record(True, True, 1000, 1.0, now=1.0)
    choice.record(False, True, 500, 1.0, now=2.0)     # a probe of one second
    choice.record(True, False, 990 / choice.PROBE_SHARE, 0.99 / choice.PROBE_SHARE, now=20.0)
    assert choice.best() == (True, False)
    choice.record(True, False, 20 / choice.PROBE_SHARE, 0.02 / choice.PROBE_SHARE, now=22.0)
    assert choice.best() == (False, True)


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
