"""Kernels compiled for one network's codes (fastnn.kernels._jit.specialised): the branches
they keep, the kernel a network runs (for_codes), and the same bits as the generic kernels on
every path, compiled and loaded from the cache."""
import os
import subprocess
import sys
import textwrap

import numpy as np
from numba import prange

from conftest import RECORD_COMPILED
from fastnn import model, threads
from fastnn.kernels import _jit, codes, per_sample, threaded
from fastnn.kernels.codes import COMPILED_ACTIVATIONS, SIGMOID, TANH


def branch_taken(code):
    """Which branch a code takes: 1 (sigmoid), 2 (tanh), 0 (none compiled)."""
    if SIGMOID in COMPILED_ACTIVATIONS and code == SIGMOID:
        return 1
    elif TANH in COMPILED_ACTIVATIONS and code == TANH:
        return 2
    return 0


def calls_branch_taken(code):
    return branch_taken_kernel(code)


branch_taken_kernel = _jit.kernel(branch_taken)
calls_branch_taken_kernel = _jit.kernel(entry=True)(calls_branch_taken)


def test_a_copy_compiles_only_the_branches_of_its_codes():
    """numba prunes the branches of codes the copy was not made for before typing them, in
    the kernel and in the kernels it calls."""
    tanh_only = _jit.specialised(calls_branch_taken_kernel, COMPILED_ACTIVATIONS=(TANH,))
    assert tanh_only is not calls_branch_taken_kernel
    assert tanh_only.py_func.__qualname__ == f"calls_branch_taken__a{TANH}"
    assert tanh_only(TANH) == 2 and tanh_only(SIGMOID) == 0
    assert calls_branch_taken_kernel(TANH) == 2 and calls_branch_taken_kernel(SIGMOID) == 1
    assert _jit.specialised(calls_branch_taken_kernel, COMPILED_ACTIVATIONS=(TANH,)) is tanh_only


def test_a_copy_narrows_only_the_code_sets_its_kernels_read():
    assert _jit.code_sets_read(threaded.forward_threaded) == {"COMPILED_ACTIVATIONS"}
    assert _jit.code_sets_read(per_sample.train_per_sample) == set(_jit.CODE_SETS)
    every = {name: getattr(codes, name) for name in _jit.CODE_SETS}
    assert _jit.specialised(per_sample.train_per_sample, **every) is per_sample.train_per_sample
    forward = _jit.specialised(threaded.forward_threaded, COMPILED_ACTIVATIONS=(TANH, SIGMOID),
                               COMPILED_LOSSES=(codes.CROSS_ENTROPY,))
    assert forward.py_func.__qualname__ == f"forward_threaded__a{SIGMOID}{TANH}"
    assert forward.py_func.__globals__["COMPILED_ACTIVATIONS"] == (SIGMOID, TANH)


def test_a_network_runs_the_generic_kernel_where_it_is_compiled(monkeypatch):
    monkeypatch.setattr(_jit, "_GENERIC", [False])
    monkeypatch.setattr(_jit, "_in_cache", lambda dispatcher: False)
    fresh = _jit.kernel(branch_taken)  # nothing compiled yet, nothing in the cache
    copy = _jit.for_codes(fresh, (TANH,))
    assert copy is not fresh and copy(SIGMOID) == 0
    assert fresh(SIGMOID) == 1  # compiled now: networks run it
    assert _jit.for_codes(fresh, (TANH,)) is fresh
    monkeypatch.setattr(_jit, "_GENERIC", [True])
    assert _jit.for_codes(_jit.kernel(branch_taken), (TANH,)).py_func is branch_taken


def test_a_process_makes_at_most_max_copies_of_a_kernel(monkeypatch):
    """A process that meets a third configuration runs the generic kernel for it."""
    monkeypatch.setattr(_jit, "_GENERIC", [False])
    monkeypatch.setattr(_jit, "_in_cache", lambda dispatcher: False)
    fresh = _jit.kernel(branch_taken)
    configurations = [(TANH,), (TANH, TANH), (SIGMOID,), (SIGMOID, TANH), (codes.RELU,)]
    kernels = [_jit.for_codes(fresh, codes_) for codes_ in configurations]
    assert kernels[0] is kernels[1]  # one copy for the same codes in another order of layers
    copies = [kernels[0], kernels[2]]
    assert len(set(copies)) == _jit.MAX_COPIES == 2 and fresh not in copies
    assert kernels[3:] == [fresh, fresh]
    assert _jit.for_codes(fresh, (TANH,)) is kernels[0]


def running_sums(x):
    """x[p] += x[p - 1] for each p in order: what a parallel loop over p leaves depends on
    whether its iterations run in order."""
    for p in prange(1, x.size):
        x[p] += x[p - 1]


def test_a_serial_twin_runs_a_parallel_kernels_loops_in_order():
    parallel = _jit.kernel(parallel=True)(running_sums)
    twin = _jit.serial_twin(parallel)
    assert twin is _jit.serial_twin(parallel) and twin is not parallel
    assert twin.py_func.__qualname__ == "running_sums__serial"
    x = np.ones(1000)
    twin(x)
    assert (x == np.arange(1, 1001)).all()
    assert not twin.targetoptions.get("parallel")


def test_a_split_path_runs_the_serial_twin_until_it_has_run_long_enough(monkeypatch):
    """Batches and predictions split into parts run the parallel kernel where it costs no
    compilation, else its serial twin, until the twin's seconds (and those the fit still
    expects) reach PARALLEL_COMPILE_SECONDS."""
    parallel = _jit.kernel(parallel=True)(running_sums)  # nothing compiled, nothing cached
    monkeypatch.setattr(_jit, "_in_cache", lambda dispatcher: False)
    monkeypatch.setattr(model, "kernel_for", lambda generic, net, opt=None: parallel)
    monkeypatch.setattr(model, "SERIAL_SECONDS", model.SERIAL_SECONDS.copy())
    twin = _jit.serial_twin(parallel)
    assert model.split_kernel(None, None) == (twin, False)
    assert model.split_kernel(parallel, None) == (parallel, True)  # the generic kernel
    with threads.parts_on_threads(False):
        assert model.split_kernel(None, None) == (twin, False)
    with threads.parts_on_threads(True):
        assert model.split_kernel(None, None) == (parallel, True)
    seconds = model.PARALLEL_COMPILE_SECONDS
    assert model.split_kernel(None, None, remaining=seconds) == (parallel, True)
    model.SERIAL_SECONDS[twin] += seconds / 2
    assert model.split_kernel(None, None, remaining=seconds / 4) == (twin, False)
    assert model.split_kernel(None, None, remaining=seconds / 2) == (parallel, True)
    model.SERIAL_SECONDS.clear()
    parallel(np.ones(4))  # compiled now
    assert model.split_kernel(None, None) == (parallel, True)


SPECIALISED_FITS = RECORD_COMPILED + textwrap.dedent("""
    import contextlib
    import hashlib
    import numpy as np
    import scipy.sparse
    import fastnn
    from fastnn import threads

    def digest(*arrays):
        return hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes()
                                       for a in arrays)).hexdigest()

    rng = np.random.default_rng(0)
    CASES = [  # name, sizes, hidden, output, loss, optimizer, batch_size, rows, sparse
        ("per-sample", [5, 7, 3], "tanh", "sigmoid", "binary_cross_entropy",
         fastnn.SGD(lr=0.05, momentum=0.9), 1, 40, False),
        ("narrow", [3, 6, 2], ["softplus"], "exp", "poisson", fastnn.Adam(lr=0.01), None, 300,
         False),
        ("threads or the serial twin", [16, 96, 96, 4], ["relu", "softplus"], "softmax",
         "cross_entropy", fastnn.SGD(lr=0.05, momentum=0.9, nesterov=True), 80, 200, False),
        ("threads", [16, 96, 96, 4], ["relu", "softplus"], "softmax", "cross_entropy",
         fastnn.SGD(lr=0.05, momentum=0.9, nesterov=True), 80, 200, False),
        ("sparse", [60, 16, 3], "leaky_relu", "linear", "squared_error",
         fastnn.SGD(lr=0.01), 16, 120, True),
    ]
    for name, sizes, hidden, output, loss, opt, batch_size, rows, sparse in CASES:
        X = rng.random((rows, sizes[0]))
        Y = rng.random((rows, sizes[-1]))
        if loss == "cross_entropy":
            Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], rows)]
        if loss == "binary_cross_entropy":
            Y = (Y > 0.5) * 1.0
        if sparse:
            X = scipy.sparse.csr_matrix(X * (X < 0.1))
        net = fastnn.MLP(sizes, hidden=hidden, output=output, seed=0)
        way = None if name == "threads or the serial twin" else True
        with threads.parts_on_threads(way) if way else contextlib.nullcontext():
            history = net.fit(X, Y, loss=loss, optimizer=opt, epochs=3, batch_size=batch_size,
                              shuffle=True, seed=1)
            results = [net.params, np.asarray(history.loss), net.forward(X)]
        if name == "narrow":  # the other paths' loss and predictions test the same branches
            loss_value, grad_weights, grad_biases = net.loss_and_grad(X, Y, loss=loss)
            results += [np.array([loss_value]), *grad_weights, *grad_biases, net.forward(X)]
        print(name, digest(*results))
    models = fastnn.MLPStack([5, 7, 3], 16, hidden="tanh", output="sigmoid", seed=0)
    X = rng.random((30, 5))
    history = models.fit(X, (rng.random((30, 3)) > 0.5) * 1.0, loss="binary_cross_entropy",
                         optimizer=fastnn.SGD(lr=0.05, momentum=0.9), epochs=2, batch_size=1,
                         seed=1)
    print("stack in lanes", digest(models.params, np.asarray(history.loss)))
    print("compiled", sorted(set(compiled())))
""")


def run_fits(cache_dir, kernels):
    """The fits' digests and the kernels compiled, in a new process with FASTNN_KERNELS
    ``kernels`` and the Numba cache ``cache_dir`` (None: the tests' own)."""
    env = dict(os.environ, FASTNN_KERNELS=kernels)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    done = subprocess.run([sys.executable, "-c", SPECIALISED_FITS], capture_output=True,
                          text=True, env=env)
    assert done.returncode == 0, done.stderr
    *digests, compiled = done.stdout.splitlines()
    return digests, eval(compiled[len("compiled "):])


ENTRY_KERNELS = {"train_per_sample", "train_narrow", "loss_grad_narrow", "forward_narrow",
                 "train_threaded", "train_sparse", "train_lanes"}


def test_copies_give_the_generic_kernels_bits_on_every_path(tmp_path):
    """Each path's training kernel compiled for the network's codes alone ends on the same
    bits as the generic one, compiled and loaded from the cache (and the narrow path's loss,
    gradient and predictions, and each path's predictions). A first fit and prediction split
    into parts, with nothing compiled, runs the threaded kernels' serial twins."""
    generic, _ = run_fits(None, "generic")
    cold, compiled = run_fits(tmp_path / "specialised", "")
    warm, loaded = run_fits(tmp_path / "specialised", "")
    assert cold == warm == generic
    entries = [name for name in compiled if name.split("__")[0] in ENTRY_KERNELS]
    assert {name.split("__")[0] for name in entries} == ENTRY_KERNELS, compiled
    assert all("__" in name for name in entries), entries
    twins = {name.split("__")[0] for name in compiled if name.endswith("__serial")}
    assert twins == {"train_threaded", "forward_threaded"}, compiled
    assert loaded == []
