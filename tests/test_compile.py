"""Compilation: cold and warm cache in a fresh folder, float32 kernels that stay float32, and
``python -m fastnn compile``."""
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import RECORD_COMPILED, session_cache_if_empty
from fastnn import threads
from fastnn.tools import compile as compile_kernels


FLOAT32_PROBE = textwrap.dedent("""
    import numpy as np
    from fastnn.kernels import codes
    from fastnn.kernels.activations import (activate, multiply_derivative, softmax_columns,
                                            softmax_rows)
    from fastnn.kernels.dense import dense_backward, dense_forward
    from fastnn.kernels.sparse import sparse_forward, sparse_weight_gradient
    from fastnn.kernels.updates import apply_update, update_rows  # (the rules inlined in them)
    f32 = np.float32
    v = np.ones(6, f32); A = np.ones((2, 3), f32); W = np.ones((3, 2), f32); Z = np.ones((2, 2), f32)
    state, step = np.zeros((2, 6), f32), np.zeros(1, np.int64)
    calls = [(activate, (codes.SIGMOID, v, 0, 6)),
             (multiply_derivative, (codes.SIGMOID, v, 0, v.copy(), 0, 6)),
             (softmax_rows, (v, 0, 2, 3)), (softmax_columns, (v, 2, 3, v.copy())),
             (dense_forward, (A, W, v[:2], Z, 2)),
             (dense_backward, (A, Z, W, W.copy(), v[:2], A.copy(), W.copy(), v[:2].copy(), False, True, 2))]
    rows = (v[:3], np.array([0, 2, 1]), np.array([0, 2, 3]))  # CSR rows of A's shape
    calls += [(sparse_forward, (rows, np.empty(0, np.int64), 0, 2, W, v[:2], Z)),
              (sparse_weight_gradient, (rows, np.empty(0, np.int64), 0, 2, Z, W.copy(), False))]
    calls += [(apply_update, ((code, state, np.full(5, 0.5, f32), step), v, v.copy(), 0, 6))
              for code in (codes.OPT_SGD, codes.OPT_ADAM, codes.OPT_SKLEARN_SGD, codes.OPT_SKLEARN_ADAM)]
    calls += [(update_rows, ((code, state, np.full(5, 0.5, f32), step), v, 0, 2, 3, v[:2].copy(), 0, 1,
                             v[:3].copy(), 0, 0, f32(0.1)))
              for code in (codes.OPT_SGD, codes.OPT_ADAM, codes.OPT_SKLEARN_SGD, codes.OPT_SKLEARN_ADAM)]
    for kernel, args in calls:
        kernel(*args)
    for kernel in dict(calls):
        print(kernel.__name__, kernel.inspect_llvm(kernel.signatures[-1]).count("fpext float"))
    import fastnn
    X = np.random.default_rng(0).normal(size=(20, 3))
    net = fastnn.MLP([3, 5, 2], hidden="softplus", output="softmax", dtype="float32", seed=0)
    opt = fastnn.Adam(lr=0.01)
    net.fit(X, np.arange(20) % 2, loss="cross_entropy", optimizer=opt, epochs=2, batch_size=4)
    print("trained", net.forward(X).dtype, opt.exp_avg.dtype, opt.exp_avg_sq.dtype)
""")


def run_in_fresh_process(code, cache_dir, **extra_env):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), **extra_env)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cold_compile_float32_kernels_have_no_float64_promotion(tmp_path):
    """A Python float literal in a float32 loop would show up as `fpext float` in the IR."""
    out = run_in_fresh_process(FLOAT32_PROBE, tmp_path)
    counts = dict(line.split(maxsplit=1) for line in out.splitlines())
    assert counts.pop("trained") == "float32 float32 float32"
    assert counts == {name: "0" for name in counts} and len(counts) == 10, out


def test_warm_cache_is_written_and_reused(tmp_path):
    code = ("import numpy as np, fastnn\n"
            "net = fastnn.MLP([2, 3, 1], seed=0)\n"
            "print(net.fit(np.eye(2), [[0.0], [1.0]], epochs=3).loss[-1])\n")
    cold = run_in_fresh_process(code, tmp_path)
    cached = [name for _, _, files in os.walk(tmp_path) for name in files if name.endswith(".nbc")]
    assert cached, "numba wrote no cache files"
    warm = run_in_fresh_process(code, tmp_path)
    assert cold == warm


def test_cached_kernels_are_dropped_when_any_kernel_source_changes(tmp_path):
    """numba alone would reuse a cached kernel after a kernel it calls changed in another file
    (numba issue #1833); fastnn stamps each cache index with a digest of all kernel sources."""
    code = ("import numpy as np, fastnn\n"
            "fastnn.MLP([2, 3, 1], seed=0).fit(np.eye(2), [[0.0], [1.0]], epochs=1)\n")
    run_in_fresh_process(code, tmp_path)
    stamps = [p for p in tmp_path.rglob("*.sources")]
    assert stamps and len({p.read_text() for p in stamps}) == 1
    debug = dict(NUMBA_DEBUG_CACHE="1")
    assert "index saved" not in run_logged(code, tmp_path, debug)  # warm: everything loaded
    for stamp in stamps:
        stamp.write_text("sources of an older fastnn")
    assert "index saved" in run_logged(code, tmp_path, debug)      # stale: recompiled
    assert {p.read_text() for p in stamps} != {"sources of an older fastnn"}


PARTS_FIT = textwrap.dedent("""
    import hashlib
    import numpy as np, fastnn, fastnn.paths, fastnn.threads
    fastnn.paths.batch_parts = lambda rows, sizes: 2
    rng = np.random.default_rng(3)
    X = rng.normal(size=(90, 16))
    Y = np.eye(4)[rng.integers(0, 4, 90)]
    net = fastnn.MLP([16, 64, 48, 4], hidden=["relu", "softplus"], output="softmax", seed=0)
    with fastnn.threads.parts_on_threads(True):
        history = net.fit(X, Y, loss="cross_entropy", optimizer=fastnn.SGD(lr=0.05, momentum=0.9),
                          epochs=3, batch_size=40, seed=1)
    loss, grad_weights, grad_biases = net.loss_and_grad(X, Y, loss="cross_entropy")
    bits = [net.params, np.asarray(history.loss), np.array([loss]), *grad_weights, *grad_biases]
    print(hashlib.sha256(b"".join(a.tobytes() for a in bits)).hexdigest())
""")


def test_threaded_kernel_cold_and_warm(tmp_path):
    """The parallel kernel (numba parallel=True) is cached and loaded again like the others,
    and its fit and loss and gradient end on the same bits compiled (the process runs the
    callees' own code) and loaded (it runs the copies linked into the cached kernels):
    fastnn.kernels._jit keeps the callees' sums in order."""
    cold = run_logged(PARTS_FIT, tmp_path, dict(NUMBA_DEBUG_CACHE="1"))
    assert "index saved" in cold and "train_threaded" in cold
    warm = run_logged(PARTS_FIT, tmp_path, dict(NUMBA_DEBUG_CACHE="1"))
    assert "index saved" not in warm
    assert cold.splitlines()[-1] == warm.splitlines()[-1]


def run_logged(code, cache_dir, extra_env):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), **extra_env)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


# ---------------------------------------------------------------------------- python -m fastnn compile
@pytest.mark.parametrize("dtype", compile_kernels.DTYPES)
@pytest.mark.parametrize("call", compile_kernels.CALLS, ids=lambda call: call.name)
def test_each_compile_call_runs_its_kernel(monkeypatch, kernel_calls, call, dtype):
    monkeypatch.setattr(threads, "usable_threads", lambda: 2)
    monkeypatch.setattr(threads, "threading_layer", lambda: "omp")
    path = compile_kernels.path_of(call, dtype)
    assert path.kind == call.kind and (path.n_parts > 1) == (call.on_threads is not None)
    compile_kernels.make(call, dtype)
    expected = {"train": "train", "loss_grad": "loss_grad", "forward": "forward"}[call.task]
    if call.on_threads:
        expected = "forward:threaded" if call.task == "forward" else "threaded"
    else:
        expected = f"{expected}:{call.kind}"
    if call.n_models():
        expected = "stack:lanes" if call.lanes else f"stack:{call.kind}"
    assert set(kernel_calls) == {expected}


CHECK_CACHED = RECORD_COMPILED + textwrap.dedent("""
    import numpy as np
    import scipy.sparse
    import fastnn
    from fastnn.tools import startup
    for case in startup.CASES:
        if case.kernels and not case.missing_requirements():
            before = len(compiled())
            exec(case.setup + "\\n" + case.timed, {})
            print(repr(case.name), compiled()[before:])
    rng = np.random.default_rng(0)
    for dtype in ("float32", "float64"):
        for sizes, rows, batch_size, sparse in [  # per-sample, narrow, batched, sparse
                ([3, 4, 2], 40, 1, False), ([3, 4, 2], 40, None, False),
                ([40, 40, 2], 64, None, False), ([40, 40, 2], 64, 16, True)]:
            X, Y = rng.random((rows, sizes[0])), rng.random((rows, sizes[-1]))
            weights = rng.random(rows)
            for array in (X, Y, weights):
                array.setflags(write=False)  # as a memory map or a broadcast view is
            X = scipy.sparse.csr_array(X * (X < 0.2)) if sparse else X
            before = len(compiled())
            net = fastnn.MLP(sizes, seed=0, dtype=dtype)
            net.fit(X, Y, epochs=1, batch_size=batch_size, sample_weight=weights)
            net.loss_and_grad(X, Y, sample_weight=weights)
            net.forward(X)
            print(repr(f"read-only rows, targets and sample weights: {sizes}, {batch_size}, "
                       f"{dtype}, sparse {sparse}"), compiled()[before:])
""")


@pytest.mark.fills_cache
def test_compile_command_fills_the_cache_for_every_first_call(tmp_path):
    """After ``python -m fastnn compile`` into an empty cache, no startup case compiles
    anything, nor do fits, losses and predictions of read-only arrays with sample weights:
    a process that would compile kernels for its networks' codes alone runs the generic
    ones it finds. The cache is the session's while it is empty (the kernels the tests run
    are those generic ones)."""
    cache = session_cache_if_empty(tmp_path)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    done = subprocess.run([sys.executable, "-m", "fastnn", "compile"], capture_output=True,
                          text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "batched training on threads, float32: " in done.stdout
    out = run_in_fresh_process(CHECK_CACHED, cache, FASTNN_KERNELS="")
    assert out.count("[]") == len(out.splitlines()) >= 2, out
