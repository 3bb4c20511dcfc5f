"""Every compiled path against fastnn.reference, generated from conftest's tables: the path
chooser's answers, the kernel each case runs, and training, loss and gradient, and
predictions on every path, for every activation, loss, optimizer and dtype, with sample
weights, the l2 penalty and per-layer activations."""
import numpy as np
import pytest

import fastnn
from fastnn import _registry as reg
from fastnn import paths

from conftest import (DTYPES, OPTIMIZERS, OUTPUT_LOSS_PAIRS, PATH_CASES, assert_matches,
                      assert_same_training, make_data, make_weights, model_pair,
                      output_and_loss)

CASES = [pytest.param(case, id=case.name) for case in PATH_CASES]
W6, W7 = (64, 128, 64, 10), (784, 256, 128, 10)

# (task, rows, sizes, itemsize, usable threads) -> the Path
CHOICES = [
    ("train", 1, W7, 4, 2, paths.Path(paths.PER_SAMPLE, 1)),     # one row: always per sample
    ("train", 4, (3, 4, 1), 8, 2, paths.Path(paths.PER_SAMPLE, 4)),
    ("train", 23, (2, 10, 1), 8, 2, paths.Path(paths.PER_SAMPLE, 23)),
    ("train", 24, (2, 10, 1), 8, 2, paths.Path(paths.NARROW, 24)),
    ("train", 32, (10, 10, 10), 8, 2, paths.Path(paths.NARROW, 32)),
    ("train", 1000, (2, 10, 1), 8, 2, paths.Path(paths.NARROW, 680)),  # 24 values a row
    ("train", 1000, (2, 10, 1), 4, 2, paths.Path(paths.NARROW, 1000)),
    ("train", 10**6, (32, 32, 32), 8, 2, paths.Path(paths.NARROW, 96)),
    ("train", 10**6, (32,) * 6, 8, 2, paths.Path(paths.NARROW, 64)),
    ("train", 1000, (33, 4, 1), 8, 2, paths.Path(paths.BATCHED, 1000)),  # 0.8 MFLOP: 1 part
    ("train", 32, (33, 10, 10), 8, 2, paths.Path(paths.PER_SAMPLE, 32)),
    ("train", 33, (33, 10, 10), 8, 2, paths.Path(paths.BATCHED, 33)),
    ("train", 7, (64, 64, 10), 8, 2, paths.Path(paths.PER_SAMPLE, 7)),
    ("train", 16, (64, 64, 10), 8, 2, paths.Path(paths.BATCHED, 16)),  # a BLAS-sized product
    ("train", 48, (64, 64, 10), 8, 2, paths.Path(paths.BATCHED, 48)),  # 1.4 MFLOP: 1 part
    ("train", 192, (64, 64, 10), 8, 2, paths.Path(paths.BATCHED, 192, 2)),  # 5.5 MFLOP
    ("train", 32, W6, 4, 2, paths.Path(paths.BATCHED, 32)),     # 3.3 MFLOP: 1 part
    ("train", 64, W6, 4, 2, paths.Path(paths.BATCHED, 64, 2)),  # 6.5 MFLOP
    ("train", 64, W6, 4, 1, paths.Path(paths.BATCHED, 64)),
    ("train", 24, W7, 4, 4, paths.Path(paths.BATCHED, 24, 3)),
    ("train", 32, W7, 4, 4, paths.Path(paths.BATCHED, 32, 4)),
    ("train", 15, W7, 4, 2, paths.Path(paths.BATCHED, 15)),    # parts of under 8 rows
    ("train", 128, W7, 4, 2, paths.Path(paths.BATCHED, 128, 2)),
    ("train", 4096, W6, 4, 2, paths.Path(paths.BATCHED, 1024)),  # parts longer than a block
    ("loss_grad", 1, (2, 10, 1), 8, 2, paths.Path(paths.BATCHED, 1)),
    ("loss_grad", 1000, (2, 10, 1), 8, 2, paths.Path(paths.NARROW, 680)),
    ("loss_grad", 128, W7, 4, 2, paths.Path(paths.BATCHED, 128)),
    ("loss_grad", 5000, W6, 8, 2, paths.Path(paths.BATCHED, 1024)),
    ("forward", 5, W6, 8, 2, paths.Path(paths.BATCHED, 5)),
    ("forward", 24, (2, 10, 1), 8, 2, paths.Path(paths.NARROW, 24)),
    ("forward", 2000, W7, 4, 2, paths.Path(paths.BATCHED, 1000, 2)),  # a part per thread
    ("forward", 1000, (64, 128, 10), 4, 2, paths.Path(paths.BATCHED, 500, 2)),
    ("forward", 1000, (64, 128, 10), 4, 1, paths.Path(paths.BATCHED, 1000)),
    ("forward", 50, (64, 128, 10), 4, 2, paths.Path(paths.BATCHED, 50)),  # 0.9 MFLOP: 1 part
    ("forward", 10**5, W6, 4, 2, paths.Path(paths.BATCHED, 1024, 2)),  # parts of many blocks
]

SPARSE_CHOICES = [  # sparse input: every task on the sparse path, its batches on one thread
    ("train", 1, W7, 4, 2, paths.Path(paths.SPARSE, 1)),           # not per sample
    ("train", 32, (10, 10, 10), 8, 2, paths.Path(paths.SPARSE, 32)),  # not narrow
    ("train", 32, W6, 4, 2, paths.Path(paths.SPARSE, 32)),          # not split over threads
    ("train", 128, W7, 4, 4, paths.Path(paths.SPARSE, 128)),
    ("train", 4096, W6, 4, 2, paths.Path(paths.SPARSE, 1024)),      # blocks of BLOCK_ROWS
    ("loss_grad", 1000, (2, 10, 1), 8, 2, paths.Path(paths.SPARSE, 1000)),
    ("loss_grad", 5000, W6, 8, 2, paths.Path(paths.SPARSE, 1024)),
    ("forward", 5, W6, 8, 2, paths.Path(paths.SPARSE, 5)),
    ("forward", 24, (2, 10, 1), 8, 2, paths.Path(paths.SPARSE, 24)),
    ("forward", 2000, W7, 4, 2, paths.Path(paths.SPARSE, 1024)),
]


@pytest.mark.parametrize("task,rows,sizes,itemsize,threads,expected,sparse",
                         [choice + (False,) for choice in CHOICES]
                         + [choice + (True,) for choice in SPARSE_CHOICES])
def test_the_chooser_picks(monkeypatch, task, rows, sizes, itemsize, threads, expected, sparse):
    monkeypatch.setattr(paths.threads, "usable_threads", lambda: threads)
    monkeypatch.setattr(paths.threads, "threading_layer", lambda: "omp")
    assert paths.choose(task, rows, sizes, itemsize, sparse) == expected
    if not sparse:
        assert paths.choose(task, rows, sizes, itemsize) == expected


def test_no_threads_on_the_workqueue_layer(monkeypatch):
    monkeypatch.setattr(paths.threads, "usable_threads", lambda: 2)
    monkeypatch.setattr(paths.threads, "threading_layer", lambda: "workqueue")
    assert paths.choose("train", 64, W6, 4) == paths.Path(paths.BATCHED, 64)


@pytest.mark.parametrize("case", CASES)
def test_each_case_runs_its_kernel(on_path, kernel_calls, case):
    case = on_path(case)
    net = fastnn.MLP(case.sizes, hidden=list(case.hidden), output="softmax", seed=0)
    X, Y = make_data(case.n, case.sizes, "softmax", "cross_entropy")
    assert paths.choose("train", case.fit["batch_size"] or case.n, case.sizes, 8).n_parts == case.n_parts
    net.fit(X, Y, loss="cross_entropy", epochs=2, **case.fit)
    assert set(kernel_calls) == {f"train:{case.kind}" if case.threaded is None else "threaded"}


@pytest.mark.parametrize("n,kind", [(23, paths.BATCHED), (24, paths.NARROW), (3000, paths.NARROW)])
def test_forward_and_loss_and_grad_run_their_kernels(kernel_calls, n, kind):
    net = fastnn.MLP([2, 10, 1], seed=0)
    X, Y = make_data(n, [2, 10, 1], "sigmoid", "squared_error")
    net.forward(X)
    net.loss_and_grad(X, Y)
    assert kernel_calls == [f"forward:{kind}", f"loss_grad:{kind}"]


def fit_both(fast, ref, X, Y, make_optimizer, **fit_args):
    histories = [net.fit(X, Y, optimizer=make_optimizer(), seed=3, **fit_args)
                 for net in (fast, ref)]
    return [h.loss for h in histories]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", reg.HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("bias", [True, False])
def test_every_activation_and_loss(on_path, case, dtype, hidden, output, loss, bias):
    """One step, then two epochs, with sample weights (some 0), both reductions."""
    case = on_path(case)
    for reduction in reg.REDUCTIONS:
        fast, ref = model_pair(case.sizes, hidden, output, bias, dtype, seed=21)
        X, Y = make_data(case.n, case.sizes, output, loss, seed=22, dtype=dtype)
        weights = make_weights(case.n, seed=23)
        lr = 0.01 if reduction == "mean" else 0.0005  # summed losses of up to 300 rows
        lr = lr / 10 if output == "exp" else lr  # its gradient grows with the output
        make_optimizer = lambda: fastnn.SGD(lr=lr, momentum=0.5)
        args = dict(loss=loss, reduction=reduction, **case.fit)
        rows = case.fit["batch_size"] or case.n
        fit_both(fast, ref, X[:rows], Y[:rows], make_optimizer, epochs=1, sample_weight=weights[:rows] + 1, **args)
        assert_matches(fast.params, ref.params, dtype)
        losses = fit_both(fast, ref, X, Y, make_optimizer, epochs=2, sample_weight=weights, **args)
        assert_matches(losses[0], losses[1], dtype)
        assert_matches(fast.params, ref.params, dtype)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("l2", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
def test_optimizers_penalty_and_per_layer_activations(on_path, case, dtype, optimizer, l2,
                                                      weighted):
    """Every update rule, with and without the l2 penalty and sample weights, through the
    case's per-layer activations: losses, parameters, optimizer state and step counts
    agree."""
    case = on_path(case)
    output, loss = output_and_loss(case.sizes)
    fast, ref = model_pair(case.sizes, list(case.hidden), output, True, dtype, seed=33)
    X, Y = make_data(case.n, case.sizes, output, loss, seed=34, dtype=dtype)
    assert_same_training(fast, ref, X, Y, OPTIMIZERS[optimizer], dtype, loss=loss,
                         epochs=3 if dtype == np.float64 else 1, seed=4, l2=l2,
                         sample_weight=make_weights(case.n, 35) if weighted else None,
                         **case.fit)


@pytest.mark.parametrize("case", CASES)
def test_long_training_stays_close(on_path, case):
    """30 epochs with momentum, nesterov and weight decay (630 steps on the per-sample path),
    at a learning rate where training is stable (chaotic training amplifies any rounding):
    float64 stays within 1e-9."""
    case = on_path(case)
    output, loss = output_and_loss(case.sizes)
    fast, ref = model_pair(case.sizes, list(case.hidden), output, True, np.float64, seed=8)
    X, Y = make_data(case.n, case.sizes, output, loss, seed=9)
    opt = lambda: fastnn.SGD(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-3)
    losses = fit_both(fast, ref, X, Y, opt, loss=loss, epochs=30, sample_weight=make_weights(case.n),
                      **case.fit)
    assert_matches(losses[0], losses[1], rtol=1e-9)
    assert_matches(fast.params, ref.params, rtol=1e-9)


# (sizes, rows): the batched path in one block and in blocks of BLOCK_ROWS, the narrow path in
# one chunk and in several
EVALUATIONS = [pytest.param(SIZES, n, id=f"{'-'.join(map(str, SIZES))}x{n}") for SIZES, n in
               [((5, 7, 6, 3), 17), ((5, 40, 3), 2500), ((5, 7, 6, 3), 24), ((5, 7, 6, 3), 1000)]]


@pytest.mark.parametrize("sizes,n", EVALUATIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", reg.HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS_PAIRS)
@pytest.mark.parametrize("bias", [True, False])
def test_forward_loss_and_gradient(sizes, n, dtype, hidden, output, loss, bias):
    """forward and loss_and_grad (both reductions, with and without weights and l2)."""
    fast, ref = model_pair(sizes, hidden, output, bias, dtype, seed=1)
    X, Y = make_data(n, sizes, output, loss, seed=2, dtype=dtype)
    out = fast.forward(X)
    assert out.dtype == dtype
    assert_matches(out, ref.forward(X), dtype)
    for reduction, l2, weights in [("mean", 0.0, None), ("sum", 0.0, None),
                                   ("mean", 0.3, make_weights(n, 3)), ("sum", 0.3, make_weights(n, 4))]:
        results = [net.loss_and_grad(X, Y, loss, reduction, l2=l2, sample_weight=weights)
                   for net in (fast, ref)]
        (l_fast, gw_fast, gb_fast), (l_ref, gw_ref, gb_ref) = results
        assert_matches(l_fast, l_ref, dtype)
        assert (gb_fast is None) == (not bias)
        for a, b in zip(gw_fast + (gb_fast or []), gw_ref + (gb_ref or [])):
            assert a.dtype == dtype
            assert_matches(a, b, dtype)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("n", [17, 300])
@pytest.mark.parametrize("dtype", DTYPES)
def test_depths(depth, n, dtype):
    sizes = [5, 7, 6, 4, 3][:depth] + [3]
    hidden = ["relu", "softplus", "tanh"][:depth - 1]
    fast, ref = model_pair(sizes, hidden, "softmax", True, dtype, seed=3)
    X, Y = make_data(n, sizes, "softmax", "cross_entropy", seed=4, dtype=dtype)
    assert_matches(fast.forward(X), ref.forward(X), dtype)
    for a, b in zip(fast.loss_and_grad(X, Y, "cross_entropy")[1], ref.loss_and_grad(X, Y, "cross_entropy")[1]):
        assert_matches(a, b, dtype)
    assert_same_training(fast, ref, X, Y, OPTIMIZERS["momentum"], dtype, loss="cross_entropy",
                         epochs=2, batch_size=1 if n < 20 else None, seed=5)
