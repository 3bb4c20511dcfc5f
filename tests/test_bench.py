"""The workloads and the bench command, run once at reduced size (no timing is asserted)."""
import dataclasses
import importlib.util
import json
import os

import numpy as np
import pytest

import fastnn
from fastnn.tools import bench, sweep
from fastnn.__main__ import main
from fastnn.tools.workloads import WORKLOADS


@pytest.mark.parametrize("workload_id", sorted(WORKLOADS))
def test_implementations_start_equal_and_train_alike(workload_id):
    """fastnn, the reference and the workload's plain NumPy: the same losses every epoch."""
    workload = WORKLOADS[workload_id]
    if workload.missing_requirements():
        pytest.skip(f"{workload_id} needs {workload.missing_requirements()} (optional extras)")
    data = workload.data(quick=True)
    fast, ref = workload.make_network(fastnn.MLP), workload.make_network(fastnn.reference.MLP)
    np.testing.assert_array_equal(fast.params, ref.params)
    epochs = max(1, workload.epochs // 100)
    if workload.batch_size != 1:  # batched workloads: a few batches are enough here
        data = data[0][:256], data[1][:256]
    _, h_fast = workload.train(fastnn.MLP, data, epochs)
    _, h_ref = workload.train(fastnn.reference.MLP, data, epochs)
    plain_losses = workload.train_plain(data, epochs)
    rtol = 1e-9 if fast.dtype == np.float64 else 1e-4
    np.testing.assert_allclose(h_fast.loss, h_ref.loss, rtol=rtol)
    np.testing.assert_allclose(plain_losses, h_ref.loss, rtol=rtol)


def test_flops_per_sample():
    """W7: 784-256-128-10, no delta into the input: 4 x 234,752 + 2 x 34,048."""
    assert WORKLOADS["W7"].flops_per_sample() == 4 * 234_752 + 2 * 34_048
    assert [w for w in WORKLOADS if bench.blas_bound(WORKLOADS[w])] == ["W6", "W7"]


def test_bench_command_prints_the_table_and_writes_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--workloads", "W1,W3", "--repeat", "1", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "| W1 xor" in out and "| W3 bits" in out and "fastnn / plain" in out
    assert "GEMM peak (2048x2048, BLAS threads): float32 " in out and "\nBLAS: " in out
    rows = json.loads(path.read_text())
    assert [r["workload"] for r in rows] == ["W1", "W3"]
    for r in rows:
        assert r["fastnn_per_s"] > 0 and r["plain_per_s"] > 0 and r["reference_per_s"] > 0
        assert r["ratio"] == pytest.approx(r["fastnn_per_s"] / r["plain_per_s"])
        assert r["loss_rel_diff"] < 1e-9
        assert "fastnn_of_peak" not in r  # not BLAS-bound


def test_peak_fractions_of_a_blas_bound_workload():
    row = {"fastnn_per_s": 100_000.0, "plain_per_s": 50_000.0, "reference_per_s": 25_000.0}
    bench.add_peak_fractions(row, WORKLOADS["W7"], {"float32": 200.0, "float64": 100.0})
    flops = WORKLOADS["W7"].flops_per_sample()
    assert row["fastnn_of_peak"] == pytest.approx(100_000 * flops / 200e9)
    assert row["plain_of_peak"] == pytest.approx(row["fastnn_of_peak"] / 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batch_products_are_the_products_of_forward_and_backward(dtype):
    """fastnn.kernels.products.batch_products: Z = A W for every layer, then dW = A^T D and,
    but for the first layer, D_in = D W^T, from the last layer back."""
    from fastnn.kernels.products import batch_products
    sizes, rows = [5, 7, 3], 4
    rng = np.random.default_rng(0)
    params = rng.standard_normal(5 * 7 + 7 * 3).astype(dtype)
    acts = rng.standard_normal(rows * 15).astype(dtype)
    deltas = rng.standard_normal(rows * 15).astype(dtype)
    grad = np.empty_like(params)
    given_deltas = deltas.copy()
    batch_products(np.array(sizes, np.int64), params, grad, acts, deltas, rows, 1)
    W0, W1 = params[:35].reshape(5, 7), params[35:].reshape(7, 3)
    A0 = acts[:20].reshape(rows, 5)
    A1, A2 = acts[20:48].reshape(rows, 7), acts[48:].reshape(rows, 3)
    D2 = given_deltas[48:].reshape(rows, 3)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(A1, A0 @ W0, rtol=rtol)
    np.testing.assert_allclose(A2, A1 @ W1, rtol=rtol)
    np.testing.assert_allclose(grad[35:].reshape(7, 3), A1.T @ D2, rtol=rtol)
    D1 = deltas[20:48].reshape(rows, 7)
    np.testing.assert_allclose(D1, D2 @ W1.T, rtol=rtol)
    np.testing.assert_allclose(grad[:35].reshape(5, 7), A0.T @ D1, rtol=rtol)
    np.testing.assert_array_equal(deltas[:20], given_deltas[:20])  # no delta into the input


def test_products_alone_of_a_blas_bound_workload(monkeypatch):
    monkeypatch.setattr(bench, "PRODUCTS_SECONDS", 0.001)
    workload = WORKLOADS["W6"]
    row = {"workload": "W6", "fastnn_per_s": 100_000.0, "plain_per_s": 50_000.0,
           "reference_per_s": 25_000.0, "peers": [{"name": "jax", "per_s": 200_000.0}]}
    bench.add_products_fraction(row, workload)
    assert row["products_per_s"] > 0
    assert row["fastnn_of_products"] == pytest.approx(100_000 / row["products_per_s"])
    assert row["plain_of_products"] == pytest.approx(row["fastnn_of_products"] / 2)
    line = bench.format_products([row]).splitlines()[-1]
    assert line.startswith("W6: products alone ") and "plain NumPy" in line and "jax" in line
    unbound = {"workload": "W1", "fastnn_per_s": 1.0, "plain_per_s": 1.0,
               "reference_per_s": 1.0}
    bench.add_products_fraction(unbound, WORKLOADS["W1"])
    assert "products_per_s" not in unbound and bench.format_products([unbound]) == ""


def test_bench_blas_native_runs_a_worker_without_the_openblas_settings(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")  # as the image sets it
    lines = []
    rows = bench.run(["W1"], quick=True, repeat=1, blas_native=True, out=lines.append)
    assert lines[0].startswith("--blas-native: a worker process without OPENBLAS_CORETYPE")
    assert any(line.startswith("BLAS: ") and "no OpenBLAS settings in the environment" in line
               for line in lines)
    assert [r["workload"] for r in rows] == ["W1"] and rows[0]["fastnn_per_s"] > 0
    assert os.environ["OPENBLAS_CORETYPE"] == "Haswell"  # this process keeps its settings


def test_bench_rejects_unknown_workloads():
    with pytest.raises(SystemExit):
        main(["bench", "--workloads", "W99"])
    with pytest.raises(ValueError, match="W99"):
        bench.run(["W99"])


# ---------------------------------------------------------------------------- --peers
@pytest.mark.parametrize("workload_id", ["W3", "W6"])
def test_torch_peer_does_the_same_work(workload_id):
    """Same initial weights, same shuffles, same SGD: the same final loss as fastnn."""
    pytest.importorskip("torch", reason="the torch peer needs PyTorch (optional extra)")
    from fastnn.tools.peers import build_torch
    workload = WORKLOADS[workload_id]
    if workload.missing_requirements():
        pytest.skip(f"{workload_id} needs {workload.missing_requirements()} (optional extras)")
    X, Y = workload.data(quick=True)
    data = X[:100], Y[:100]
    _, history = workload.train(fastnn.MLP, data, 3)
    for threads in (1, 2):
        run, note = build_torch(workload, data, threads)
        loss = run(3)
        assert loss == pytest.approx(history.loss[-1], rel=1e-9 if X.dtype == np.float64 else 1e-4)
    assert note == ("per-sample loop" if workload.batch_size == 1 else "batched loop, batch 32")


@pytest.mark.parametrize("workload_id", ["W1", "W3", "W6", "W8"])
def test_jax_peer_does_the_same_work(workload_id):
    """Same initial weights, shuffles and SGD, in one jitted program: fastnn's losses."""
    pytest.importorskip("jax", reason="the jax peer needs JAX (optional extra)")
    from fastnn.tools.peers import build_jax
    workload = WORKLOADS[workload_id]
    if workload.missing_requirements():
        pytest.skip(f"{workload_id} needs {workload.missing_requirements()} (optional extras)")
    X, Y = workload.data(quick=True)
    data = X[:100], Y[:100]  # W6: three batches of 32 and one of 4
    _, history = workload.train(fastnn.MLP, data, 3)
    run, note = build_jax(workload, data, 3)
    rel = 1e-12 if X.dtype == np.float64 else 1e-5
    assert run(3) == pytest.approx(history.loss[-1], rel=rel)
    assert run(2) == pytest.approx(history.loss[1], rel=rel)  # another count compiles on demand
    assert "jit of one scanned program, compiled in " in note


def test_sklearn_peer_notes_where_it_cannot_match():
    pytest.importorskip("sklearn", reason="the sklearn peer needs scikit-learn (optional extra)")
    from sklearn.neural_network import MLPClassifier

    from fastnn.tools.peers import Unsupported, build_sklearn
    workload = WORKLOADS["W1"]
    run, note = build_sklearn(workload, workload.data(quick=True), MLPClassifier)
    assert np.isfinite(run(5))
    for words in ("own initial weights", "adds biases", "log-loss", "averages gradients: lr x 4"):
        assert words in note
    linear_output = dataclasses.replace(
        workload, make_network=lambda cls: cls([3, 4, 1], output="linear", seed=0))
    with pytest.raises(Unsupported, match="linear output"):
        build_sklearn(linear_output, workload.data(quick=True), MLPClassifier)


def test_fastnn_estimator_peer_trains_as_scikit_learn():
    """The drop-in fastnn.MLPClassifier, run with the sklearn peer's settings, reaches the
    same loss (the same weights, shuffles and steps), and bench prints their speed ratio."""
    pytest.importorskip("sklearn", reason="the sklearn peer needs scikit-learn (optional extra)")
    from sklearn.neural_network import MLPClassifier

    from fastnn.tools.peers import build_sklearn
    workload = WORKLOADS["W6"]
    data = workload.data(quick=True)
    theirs, _ = build_sklearn(workload, data, MLPClassifier)
    ours, _ = build_sklearn(workload, data, fastnn.MLPClassifier)
    assert ours(2) == pytest.approx(theirs(2), rel=1e-4)  # W6 is float32
    row = {"workload": "W6", "peers": [{"name": "sklearn MLPClassifier", "per_s": 100.0},
                                      {"name": "fastnn.MLPClassifier", "per_s": 650.0}]}
    assert bench.format_estimator_ratios([row]) == (
        "\nfastnn.MLPClassifier / sklearn MLPClassifier: W6 6.5x")


def test_bench_peers_command(tmp_path, capsys):
    pytest.importorskip("torch", reason="--peers measures PyTorch (optional extra)")
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--workloads", "W4", "--repeat", "1", "--peers",
                 "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "| W4 | torch 1 thread |" in out and "peer / plain" in out
    (row,) = json.loads(path.read_text())
    torch_peers = [p for p in row["peers"] if p["name"].startswith("torch")]
    assert torch_peers and all(p["per_s"] > 0 for p in torch_peers)
    for p in torch_peers:
        assert p["loss"] == pytest.approx(row["fastnn_loss"], rel=1e-6)


def test_bench_peers_skip_missing_packages(monkeypatch, capsys):
    import ctypes.util
    real_find_spec = importlib.util.find_spec

    def find_spec_without_peers(name, *args):
        return None if name in ("torch", "jax", "sklearn") else real_find_spec(name, *args)
    monkeypatch.setattr(importlib.util, "find_spec", find_spec_without_peers)
    monkeypatch.delenv("FASTNN_FANN_LIBRARY", raising=False)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    rows = bench.run(["W1"], quick=True, repeat=1, peers=True)
    out = capsys.readouterr().out
    assert "peer skipped: torch: not installed" in out
    assert "peer skipped: jax: not installed" in out
    assert "peer skipped: sklearn MLPClassifier: not installed" in out
    assert "peer skipped: FANN: FASTNN_FANN_LIBRARY unset, libdoublefann not found" in out
    assert "peers" not in rows[0] and "| W1 xor" in out and "| peer |" not in out


# ---------------------------------------------------------------------------- sweep
def test_sweep_at_a_tiny_size(tmp_path, capsys):
    points = [p for p in sweep.grid() if p.x in (1, 8, 16)]
    assert {p.sweep for p in points} == {"width", "depth", "batch size", "samples"}
    plot = tmp_path / "sweep.png"
    rows = sweep.run(points=points, seconds=0.001, repeat=1, plot_path=plot)
    out = capsys.readouterr().out
    assert len(rows) == len(points) and all(r["fastnn"] > 0 and r["reference"] > 0 for r in rows)
    assert "| width | per-sample float64 | 8 |" in out
    assert "width, per-sample float64:" in out  # the findings
    if importlib.util.find_spec("matplotlib") is None:
        assert "plot skipped: matplotlib is not installed" in out
    else:
        assert plot.read_bytes().startswith(b"\x89PNG")


def test_sweep_findings_name_the_crossover():
    rows = [{"sweep": "width", "series": "s", "x": x, "ratio": r}
            for x, r in ((8, 3.0), (32, 1.5), (128, 0.8))]
    assert sweep.findings(rows) == [
        "width, s: reference faster at 128 (8: 3.0x, 32: 1.5x, 128: 0.8x)"]


def test_sweep_command_parses_its_options(monkeypatch):
    calls = []
    monkeypatch.setattr(sweep, "run", lambda **kwargs: calls.append(kwargs))
    assert main(["sweep", "--quick", "--plot", "out.png"]) == 0
    assert calls == [{"quick": True, "plot_path": "out.png"}]


# ---------------------------------------------------------------------------- --startup
def test_startup_cases_run_in_fresh_processes(monkeypatch, capsys):
    """The table's shape, on the cheap cases (the cold column compiles for seconds)."""
    from fastnn.tools import startup
    cheap = [startup.case_named("import fastnn"),
             startup.StartupCase("a statement", "x = 1", "x + 1", fastnn=False, listens=False)]
    monkeypatch.setattr(startup, "CASES", cheap)
    assert main(["bench", "--startup"]) == 0
    out = capsys.readouterr().out
    assert ("| first call in a new process | empty Numba cache s | of which compiling s "
            "(LLVM s), functions | filled cache s |") in out
    assert "| import fastnn | " in out and "| a statement | " in out
    row = startup.measure(cheap[1])
    assert 0 < row["cold_s"] < 1 and 0 < row["warm_s"] < 1 and row["cold_compile"] is None


def test_startup_cases_name_their_extras():
    from fastnn.tools import startup
    assert {c.name for c in startup.CASES if "sklearn" in c.requires} >= {
        "batched fit (W6, float32)", "fastnn.MLPClassifier(max_iter=1).fit, digits",
        "sklearn MLPClassifier(max_iter=1).fit, digits"}
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        startup.first_call(startup.StartupCase("fails", "", "1 / 0"))


def test_startup_reports_what_a_cold_call_compiled():
    """The floor case compiles one function (numba's compile events in the new process),
    and loads it from the cache the second time."""
    from fastnn.tools import startup
    row = startup.measure(startup.case_named("numba alone: a one-line function (the floor)"))
    compiled = row["cold_compile"]
    assert compiled["functions"] >= 1 and compiled["slowest"][0][0] == "add_one"
    assert 0 < compiled["llvm_s"] < compiled["compiling_s"] < row["cold_s"]
    assert "add_one" in startup.format_slowest([row])


# ---------------------------------------------------------------------------- --latency, asv
def test_latency_table(capsys):
    pytest.importorskip("sklearn", reason="the latency benchmark needs scikit-learn")
    assert main(["bench", "--latency", "--quick"]) == 0
    out = capsys.readouterr().out
    for name in ("fastnn.MLPClassifier.predict_proba", "sklearn MLPClassifier.predict_proba",
                 "fastnn.MLP.forward, float32"):
        assert f"| {name} | " in out
    onnx = importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("skl2onnx")
    assert ("| onnxruntime, float32 (skl2onnx) | " in out) == bool(onnx)
    assert ("| onnxruntime, float32 (fastnn.to_onnx) | " in out) == bool(onnx)


def test_latency_times_the_steady_state_its_first_calls_load_the_parallel_kernels(monkeypatch):
    """The untimed first calls run inside parts_on_threads(True), so a split prediction's
    parallel kernel is loaded (compiled if need be) before the timed loops, which run as the
    machine decides."""
    from fastnn import threads
    from fastnn.tools import latency
    ways = []
    monkeypatch.setattr(latency, "implementations", lambda X, y: (
        {"fake": (lambda rows: ways.append(threads.forced_way()), np.float64)}, []))
    latency.measure(np.zeros((1000, 4)), np.zeros(1000), quick=True)
    first_calls = len(latency.ROWS)
    assert ways[:first_calls] == [True] * first_calls
    assert set(ways[first_calls:]) == {None}


def test_latency_blas_native_runs_a_worker_without_the_openblas_settings(monkeypatch):
    pytest.importorskip("sklearn", reason="the latency benchmark needs scikit-learn")
    from fastnn.tools import latency
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    lines = []
    rows = latency.run(blas_native=True, quick=True, out=lines.append)
    assert lines[0].startswith("--blas-native: a worker process without OPENBLAS_CORETYPE")
    assert any("no OpenBLAS settings in the environment" in line for line in lines)
    assert {"fastnn.MLP.forward, float32", "fastnn.MLPClassifier.predict_proba"} <= {
        row["name"] for row in rows}


def test_asv_suites_import_and_the_call_overhead_runs():
    """The asv files are not collected by pytest: import each, and run the cheap suite."""
    import benchmarks.bench_compile  # noqa: F401
    import benchmarks.bench_latency  # noqa: F401
    import benchmarks.bench_search  # noqa: F401
    import benchmarks.bench_stack  # noqa: F401
    import benchmarks.bench_throughput  # noqa: F401
    from benchmarks.bench_overhead import IMPLEMENTATIONS, CallOverhead
    for implementation in IMPLEMENTATIONS:
        suite = CallOverhead()
        suite.setup(implementation)
        suite.time_forward(implementation)
        suite.time_fit(implementation)


# ---------------------------------------------------------------------------- --stack
def test_stack_bench_runs_each_case(monkeypatch, capsys):
    """The table's shape, on a small stack (3 x W3, one quick epoch)."""
    from fastnn.tools import stacks
    monkeypatch.setattr(stacks, "CASES", [stacks.StackCase("W3", 3, 1)])
    assert main(["bench", "--stack", "--quick", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "| stack | stacked steps/s | K x fastnn.MLP one after another |" in out
    assert "| 3 x W3 bits" in out


def test_stack_bench_torch_vmap_trains_as_the_stack():
    """The torch.func.vmap peer does the stack's work: the same last losses."""
    pytest.importorskip("torch")
    from fastnn.tools import stacks
    workload = WORKLOADS["W3"]
    data = workload.data(quick=True)
    run, _ = stacks.build_torch_vmap(workload, data, 3)
    _, history = workload.train_stack(data, 2, 3)
    np.testing.assert_allclose(run(2), history.loss[-1, -1], rtol=1e-12)


# ---------------------------------------------------------------------------- --search
def test_search_bench_table(monkeypatch, capsys):
    """The table's shape, on a one-candidate grid; the searches agree."""
    pytest.importorskip("sklearn")
    from fastnn.tools import searches
    monkeypatch.setattr(searches, "SEARCH_GRID", {"hidden_layer_sizes": [(8,)], "alpha": [1e-4],
                                                  "learning_rate_init": [1e-3]})
    monkeypatch.setattr(searches, "QUICK_MAX_ITER", 2)
    monkeypatch.setattr(searches, "first_search_seconds", lambda name, max_iter: 1.0)
    assert main(["bench", "--search", "--quick", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "| fastnn.model_selection | 1.00 s |" in out
    assert "scikit-learn's search and estimator" in out
    assert "largest difference 0.0e+00" in out


def test_search_bench_blas_native_runs_a_worker_without_the_openblas_settings(monkeypatch):
    pytest.importorskip("sklearn")
    from fastnn.tools import searches
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    calls = []
    monkeypatch.setattr(bench, "run_without_blas_settings",
                        lambda *arguments: calls.append(arguments) or {"rows": []})
    assert searches.run(blas_native=True, quick=True, repeat=1) == {"rows": []}
    assert calls[0][:2] == ("fastnn.tools.searches", {"quick": True, "repeat": 1})


def test_search_bench_first_search_runs_in_a_new_process():
    pytest.importorskip("sklearn")
    from fastnn.tools import searches
    assert 0 < searches.first_search_seconds("fastnn.model_selection", 1) < 60


def test_search_training_flops_count_every_fit_and_the_refit():
    pytest.importorskip("sklearn")
    from fastnn.tools import searches
    X, y = searches.digits()
    search = searches.make_search("fastnn.model_selection", "fastnn", 2,
                                  scoring=searches._counting_scorers(), refit="accuracy")
    search.set_params(param_grid={"hidden_layer_sizes": [(8,)]}).fit(X, y)
    per_step = 4 * (64 * 8 + 8 * 10) + 2 * (8 * 10)
    assert searches.training_flops(search, len(X)) == per_step * 2 * (2 * len(X) + len(X))
