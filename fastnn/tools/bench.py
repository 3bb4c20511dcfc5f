"""``python -m fastnn bench``: training throughput of fastnn against plain NumPy.

Throughput is sample-steps per second (one sample through forward, backward and update).
Every workload runs on fastnn, on the plain NumPy a tutorial reader writes for it
(fastnn.tools.plain: the headline ratio) and on fastnn.reference (the generic NumPy
implementation the tests compare against), from the same weights in one process,
interleaved (fastnn, plain, reference, [peers,] fastnn, ...), each run after QUIET_SECONDS of
pause; the median of the repeats is reported, so a noisy machine does not favour one side. Each implementation's first call (for
fastnn: compilation, or loading the compiled code from the cache) is timed on its own and
excluded. ``--peers`` adds PyTorch, JAX, scikit-learn and FANN, where installed
(fastnn.tools.peers).

The run also measures the BLAS's matrix-product peak (GEMM_SIZE squared, every thread) and
gives each workload on the batched path (the BLAS-bound ones) its fraction of that peak,
and times those workloads' matrix products alone in their own shapes (products_rate): the
most any implementation that multiplies through this BLAS could train.
``--blas-native`` runs everything in a worker process whose environment lacks the OpenBLAS
settings an image may pin (BLAS_SETTINGS), so OpenBLAS picks the kernels for this CPU as on
users' machines.

The benchmark suites in benchmarks/ use ``IMPLEMENTATIONS``; first calls in new processes
(compile and load times) are fastnn.tools.startup's, many networks at once (``--stack``)
fastnn.tools.stacks'.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

from .. import paths, reference
from ..model import MLP
from .peers import FASTNN_SKLEARN, SKLEARN, Unsupported, available as available_peers
from .workloads import WORKLOADS


def _train_with(cls):
    return lambda workload, data, epochs: workload.train(cls, data, epochs)[1].loss[-1]


IMPLEMENTATIONS = {
    "fastnn": _train_with(MLP),
    "plain": lambda workload, data, epochs: workload.train_plain(data, epochs)[-1],
    "reference": _train_with(reference.MLP),
}
"""name -> train(workload, data, epochs) -> the last epoch's loss: fastnn, the plain NumPy of
fastnn.tools.plain, and fastnn.reference."""
BLAS_SETTINGS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
"""Environment variables that pin OpenBLAS's kernels; --blas-native removes them."""
GEMM_SIZE = 2048


QUIET_SECONDS = 0.2
"""Pause before each timed run: threads a previous run left spinning (BLAS's idle threads
spin for about 0.1 s after a product; PyTorch's and JAX's likewise) would take a core from
the next run, and fastnn, which splits its batches over threads only while the cores are
free, would train on one thread."""


def _timed(run):
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def interleaved(runs, repeat):
    """Call each of ``runs`` (name -> callable) in turn, A B A B ..., ``repeat`` times, each
    after QUIET_SECONDS of pause.

    Returns ({name: median seconds}, {name: its last result}), so a noisy machine does not
    favour one side."""
    times = {name: [] for name in runs}
    results = {}
    for _ in range(repeat):
        for name, run in runs.items():
            time.sleep(QUIET_SECONDS)
            seconds, results[name] = _timed(run)
            times[name].append(seconds)
    return {name: statistics.median(t) for name, t in times.items()}, results


def gemm_peak(dtype, size=GEMM_SIZE, repeat=3):
    """GFLOP/s of the best of ``repeat`` size x size products in ``dtype`` through SciPy's
    BLAS (the one fastnn's kernels call), on BLAS's own threads."""
    from scipy.linalg import blas
    gemm = blas.sgemm if np.dtype(dtype) == np.float32 else blas.dgemm
    a = np.asfortranarray(np.random.default_rng(0).standard_normal((size, size)), dtype)
    gemm(1.0, a, a)
    best = min(_timed(lambda: gemm(1.0, a, a))[0] for _ in range(repeat))
    return 2 * size ** 3 / best / 1e9


def blas_bound(workload):
    """Whether fastnn trains the workload on the batched path, whose products BLAS runs."""
    net = workload.make_network(MLP)
    rows = workload.batch_size or len(workload.data(quick=True)[0])
    return paths.choose("train", rows, net.sizes, net.dtype.itemsize).kind == paths.BATCHED


def measure(workload, quick=False, repeat=3, peers=()):
    """A result row for one workload; with ``peers`` (fastnn.tools.peers.Peer), a "peers" list
    too."""
    data = workload.data(quick)
    epochs = workload.epochs_for(quick)
    runs = {name: lambda e, train=train: train(workload, data, e)
            for name, train in IMPLEMENTATIONS.items()}
    notes, unsupported = {}, {}
    for peer in peers:
        try:
            runs[peer.name], notes[peer.name] = peer.build(workload, data, epochs)
        except Unsupported as error:
            unsupported[peer.name] = str(error)
    first_call = {name: _timed(lambda run=run: run(1))[0] for name, run in runs.items()}
    seconds, losses = interleaved({name: lambda run=run: run(epochs) for name, run in runs.items()},
                                  repeat)
    steps = workload.sample_steps(data, epochs)
    rate = {name: steps / median for name, median in seconds.items()}
    row = {"workload": workload.id, "title": workload.title, "epochs": epochs,
           "sample_steps": steps, "first_call_s": first_call["fastnn"],
           "ratio": rate["fastnn"] / rate["plain"],
           "ratio_reference": rate["fastnn"] / rate["reference"],
           "loss_rel_diff": max(abs(losses["fastnn"] - losses[name]) / abs(losses[name])
                                for name in ("plain", "reference"))}
    for name in IMPLEMENTATIONS:
        row[f"{name}_per_s"], row[f"{name}_loss"] = rate[name], losses[name]
    if peers:
        row["peers"] = [{"name": name, "per_s": rate[name],
                         "vs_plain": rate[name] / rate["plain"],
                         "fastnn_vs_peer": rate["fastnn"] / rate[name], "loss": losses[name],
                         "first_call_s": first_call[name], "note": note}
                        for name, note in notes.items()]
        row["peers"] += [{"name": name, "unsupported": why} for name, why in unsupported.items()]
    return row


def add_peak_fractions(row, workload, peaks):
    """For a BLAS-bound workload, the fraction of the GEMM peak of its dtype (``peaks``: dtype
    name -> GFLOP/s) each implementation reached."""
    if blas_bound(workload):
        peak = peaks[workload.make_network(MLP).dtype.name]
        gflops = workload.flops_per_sample() / 1e9
        row["gemm_peak_gflops"] = peak
        row.update({f"{name}_of_peak": row[f"{name}_per_s"] * gflops / peak
                    for name in IMPLEMENTATIONS})


PRODUCTS_SECONDS = 0.2
"""Each timing of the products alone runs about this long."""


def products_rate(workload, repeat=3):
    """Sample-steps/s of a BLAS-bound workload's matrix products alone
    (fastnn.kernels.products: forward, weight gradients and deltas passed back, nothing
    else), the better of two ways: each batch split into one part per usable thread, each
    part on a thread of its own with BLAS on one thread, as fastnn runs the batches it splits
    (fastnn.paths); and each batch whole on BLAS's own threads, as plain NumPy runs them. No
    implementation that multiplies through this BLAS in these shapes trains faster."""
    from concurrent.futures import ThreadPoolExecutor

    from ..kernels.products import batch_products
    from ..kernels.dense import BLAS_MIN_ROWS
    from ..threads import one_blas_thread, usable_threads

    net = workload.make_network(MLP)
    batch = workload.batch_size or len(workload.data()[0])
    sizes = np.array(net.sizes, np.int64)
    rng = np.random.default_rng(0)

    def buffers(rows):
        params = rng.standard_normal(sum(k * n for k, n in zip(net.sizes, net.sizes[1:])))
        acts = rng.standard_normal(rows * int(sizes.sum()))
        return tuple(a.astype(net.dtype) for a in (params, params.copy(), acts, acts.copy()))

    def way(n_parts):
        rows = -(-batch // n_parts)
        parts = [buffers(rows) for _ in range(n_parts)]

        def run(n_batches):
            if n_parts == 1:
                batch_products(sizes, *parts[0], rows, n_batches)
                return
            with one_blas_thread(), ThreadPoolExecutor(n_parts) as pool:
                list(pool.map(lambda part: batch_products(sizes, *part, rows, n_batches),
                              parts))
        run(1)  # compiles or loads the kernel, starts the threads
        n_batches = max(1, int(PRODUCTS_SECONDS / max(_timed(lambda: run(10))[0] / 10, 1e-9)))
        best = statistics.median(_timed(lambda: run(n_batches))[0] for _ in range(repeat))
        return n_batches * batch / best

    return max(way(n) for n in {1, max(1, min(usable_threads(), batch // BLAS_MIN_ROWS))})


def add_products_fraction(row, workload):
    """For a BLAS-bound workload, its products' rate alone (products_rate) and the fraction
    of it each implementation reached."""
    if blas_bound(workload):
        row["products_per_s"] = products_rate(workload)
        row.update({f"{name}_of_products": row[f"{name}_per_s"] / row["products_per_s"]
                    for name in IMPLEMENTATIONS})


def format_products(rows):
    """A line per BLAS-bound workload: its products' rate alone, and fastnn's and the peers'
    fractions of it."""
    lines = []
    for r in rows:
        if "products_per_s" not in r:
            continue
        others = [f"plain NumPy {r['plain_of_products']:.0%}"] + [
            f"{p['name']} {p['per_s'] / r['products_per_s']:.0%}"
            for p in r.get("peers", []) if "per_s" in p]
        lines.append(f"{r['workload']}: products alone {r['products_per_s']:,.0f} steps/s; "
                     f"fastnn reaches {r['fastnn_of_products']:.0%} of it, {', '.join(others)}")
    if lines:
        lines.insert(0, "BLAS-bound workloads, their matrix products alone through the same "
                        "BLAS (forward, weight gradients, deltas; the better of fastnn's split "
                        "over threads and BLAS's threads on whole batches):")
    return "\n".join(lines)


def format_table(rows):
    lines = ["| workload | fastnn steps/s | plain NumPy steps/s | fastnn / plain | "
             "reference steps/s | fastnn / reference | final loss fastnn | loss rel. diff | "
             "of GEMM peak fastnn, plain | first call s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        peak = (f"{r['fastnn_of_peak']:.0%}, {r['plain_of_peak']:.0%}"
                if "fastnn_of_peak" in r else "")
        lines.append(f"| {r['workload']} {r['title']} | {r['fastnn_per_s']:,.0f} | "
                     f"{r['plain_per_s']:,.0f} | {r['ratio']:.1f}x | {r['reference_per_s']:,.0f} | "
                     f"{r['ratio_reference']:.1f}x | {r['fastnn_loss']:.6g} | "
                     f"{r['loss_rel_diff']:.0e} | {peak} | {r['first_call_s']:.2f} |")
    return "\n".join(lines)


def format_peers_table(rows):
    """One line per workload and peer: its throughput, its ratio to plain NumPy (measured in
    the same run) and fastnn's ratio to it, its final loss next to fastnn's, and how it
    trains (or why it cannot)."""
    lines = ["| workload | peer | steps/s | peer / plain | fastnn / peer | final loss peer | "
             "final loss fastnn | how |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        for p in r.get("peers", []):
            if "unsupported" in p:
                lines.append(f"| {r['workload']} | {p['name']} | | | | | | "
                             f"cannot: {p['unsupported']} |")
            else:
                lines.append(f"| {r['workload']} | {p['name']} | {p['per_s']:,.0f} | "
                             f"{p['vs_plain']:.2f}x | {p['fastnn_vs_peer']:.1f}x | "
                             f"{p['loss']:.6g} | {r['fastnn_loss']:.6g} | {p['note']} |")
    return "\n".join(lines)


def format_estimator_ratios(rows):
    """fastnn.MLPClassifier's throughput over scikit-learn's MLPClassifier's, same settings."""
    ratios = []
    for r in rows:
        rate = {p["name"]: p["per_s"] for p in r.get("peers", []) if "per_s" in p}
        if SKLEARN in rate and FASTNN_SKLEARN in rate:
            ratios.append(f"{r['workload']} {rate[FASTNN_SKLEARN] / rate[SKLEARN]:.1f}x")
    return f"\n{FASTNN_SKLEARN} / {SKLEARN}: {', '.join(ratios)}" if ratios else ""


def run(workload_ids=None, quick=False, repeat=3, json_path=None, peers=False,
        blas_native=False, out=print):
    """Measure the workloads (all by default), print the tables and return the rows; with
    ``blas_native``, in a worker process without BLAS_SETTINGS."""
    ids = workload_ids or list(WORKLOADS)
    unknown = [i for i in ids if i not in WORKLOADS]
    if unknown:
        raise ValueError(f"--workloads: unknown {', '.join(unknown)}; known: {', '.join(WORKLOADS)}")
    if blas_native:
        return _run_in_worker(ids, quick, repeat, json_path, peers, out)
    out(f"fastnn bench{' --quick' if quick else ''}: {describe_machine()}; median of {repeat} "
        "interleaved runs")
    out(describe_blas())
    peer_list = []
    if peers:
        peer_list, missing = available_peers()
        for line in missing:
            out(f"peer skipped: {line}")
    rows = []
    for workload_id in ids:
        workload = WORKLOADS[workload_id]
        missing = workload.missing_requirements()
        if missing:
            out(f"{workload_id} skipped: needs {', '.join(missing)} (pip install fastnn[bench])")
            continue
        rows.append(measure(workload, quick, repeat, peer_list))
        out(format_table(rows[-1:]).splitlines()[-1])
    # after the workloads: BLAS's threads spin for a while after a large product
    peaks = {np.dtype(dtype).name: gemm_peak(dtype) for dtype in (np.float32, np.float64)}
    for row in rows:
        add_peak_fractions(row, WORKLOADS[row["workload"]], peaks)
        add_products_fraction(row, WORKLOADS[row["workload"]])
    out("")
    out("GEMM peak ({0}x{0}, BLAS threads): ".format(GEMM_SIZE) + ", ".join(
        f"{name} {gflops:.0f} GFLOP/s" for name, gflops in peaks.items()))
    out(format_table(rows))
    products = format_products(rows)
    if products:
        out("")
        out(products)
    if peer_list:
        out("")
        out(format_peers_table(rows))
        out(format_estimator_ratios(rows))
    if json_path:
        with open(json_path, "w") as file:
            json.dump(rows, file, indent=2)
    warn_if_busy(out)
    return rows


_WORKER = """
import importlib, json, sys
module = importlib.import_module(sys.argv[1])
rows = module.run(**json.loads(sys.argv[2]), out=lambda line: print(line, flush=True))
print("rows " + json.dumps(rows), flush=True)
"""


def _run_in_worker(ids, quick, repeat, json_path, peers, out):
    return run_without_blas_settings(__name__, {"workload_ids": ids, "quick": quick,
                                                "repeat": repeat, "json_path": json_path,
                                                "peers": peers}, out)


def run_without_blas_settings(module, arguments, out):
    """``module.run(**arguments)`` (a benchmark of fastnn.tools) in a worker process whose
    environment lacks BLAS_SETTINGS, its lines passed to ``out``; returns its rows."""
    env = {name: value for name, value in os.environ.items() if name not in BLAS_SETTINGS}
    removed = [name for name in BLAS_SETTINGS if name in os.environ]
    out("--blas-native: a worker process without "
        f"{', '.join(removed) or 'BLAS settings (none set)'}")
    with subprocess.Popen([sys.executable, "-c", _WORKER, module, json.dumps(arguments)],
                          env=env, text=True, stdout=subprocess.PIPE) as worker:
        rows = None
        for line in worker.stdout:
            if line.startswith("rows "):
                rows = json.loads(line[5:])
            else:
                out(line.rstrip("\n"))
    if worker.returncode or rows is None:
        raise RuntimeError(f"the bench worker process failed (exit status {worker.returncode})")
    return rows


def describe_blas():
    """The BLAS libraries loaded (NumPy's and SciPy's), their versions, threads and kernels,
    and the OpenBLAS settings in the environment."""
    from threadpoolctl import threadpool_info
    import scipy.linalg.cython_blas  # noqa: F401  (loads SciPy's BLAS)
    libraries = [f"{lib['internal_api']} {lib['version']} ({lib.get('architecture') or '?'} "
                 f"kernels, {lib['num_threads']} threads)"
                 for lib in threadpool_info() if lib["user_api"] == "blas"]
    settings = [f"{name}={os.environ[name]}" for name in BLAS_SETTINGS if name in os.environ]
    return (f"BLAS: {'; '.join(libraries) or 'none found'}; "
            f"{' '.join(settings) or 'no OpenBLAS settings in the environment'}")


def describe_machine():
    """CPU model, cores, load and versions, for the first line of a report."""
    import numba
    import numpy
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as file:
            model = next(line.split(":", 1)[1].strip() for line in file
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{model}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, Python "
            f"{platform.python_version()}, NumPy {numpy.__version__}, Numba {numba.__version__}")


def warn_if_busy(out):
    """Say so when other processes kept more than half of the other cores busy: threaded BLAS
    and torch suffer most (on 2 cores they can collapse 3-100x)."""
    cores, load = os.cpu_count() or 1, os.getloadavg()[0]
    if load > 1 + (cores - 1) / 2:
        out(f"note: load average {load:.1f} on {cores} cores: other processes were running, so "
            "these numbers may be low; rerun on a quiet machine")
