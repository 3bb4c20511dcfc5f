"""``python -m fastnn bench``: training throughput of fastnn against the NumPy reference.

Throughput is sample-steps per second (one sample through forward, backward and update).
All implementations run the same workload from the same weights in one process,
interleaved (fastnn, reference, [peers,] fastnn, reference, ...), and the median of the
repeats is reported, so a noisy machine does not favour one side. Each implementation's
first call (for fastnn: compilation, or loading the compiled code from the cache) is timed
on its own and excluded. ``--peers`` adds PyTorch and scikit-learn (fastnn.tools.peers).

``FreshProcess`` measures compile time and first-call latency in a new process with a chosen
Numba cache folder; the benchmark suites in benchmarks/ use it and ``IMPLEMENTATIONS``.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from .. import reference
from ..model import MLP
from .peers import FASTNN_SKLEARN, SKLEARN, Unsupported, available as available_peers
from .workloads import WORKLOADS

IMPLEMENTATIONS = {"fastnn": MLP, "reference": reference.MLP}


def _timed(run):
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def interleaved(runs, repeat):
    """Call each of ``runs`` (name -> callable) in turn, A B A B ..., ``repeat`` times.

    Returns ({name: median seconds}, {name: its last result}), so a noisy machine does not
    favour one side."""
    times = {name: [] for name in runs}
    results = {}
    for _ in range(repeat):
        for name, run in runs.items():
            seconds, results[name] = _timed(run)
            times[name].append(seconds)
    return {name: statistics.median(t) for name, t in times.items()}, results


def measure(workload, quick=False, repeat=3, peers=()):
    """A result row for one workload; with ``peers`` (fastnn.tools.peers.Peer), a "peers" list too."""
    data = workload.data(quick)
    epochs = workload.epochs_for(quick)
    runs = {name: lambda e, cls=cls: workload.train(cls, data, e)[1].loss[-1]
            for name, cls in IMPLEMENTATIONS.items()}
    notes, unsupported = {}, {}
    for peer in peers:
        try:
            runs[peer.name], notes[peer.name] = peer.build(workload, data)
        except Unsupported as error:
            unsupported[peer.name] = str(error)
    first_call = {name: _timed(lambda run=run: run(1))[0] for name, run in runs.items()}
    seconds, losses = interleaved({name: lambda run=run: run(epochs) for name, run in runs.items()},
                                  repeat)
    steps = workload.sample_steps(data, epochs)
    rate = {name: steps / median for name, median in seconds.items()}
    row = {"workload": workload.id, "title": workload.title, "epochs": epochs,
           "sample_steps": steps, "fastnn_per_s": rate["fastnn"],
           "reference_per_s": rate["reference"], "ratio": rate["fastnn"] / rate["reference"],
           "fastnn_loss": losses["fastnn"], "reference_loss": losses["reference"],
           "loss_rel_diff": abs(losses["fastnn"] - losses["reference"]) / abs(losses["reference"]),
           "first_call_s": first_call["fastnn"]}
    if peers:
        row["peers"] = [{"name": name, "per_s": rate[name],
                         "vs_reference": rate[name] / rate["reference"],
                         "fastnn_vs_peer": rate["fastnn"] / rate[name], "loss": losses[name],
                         "first_call_s": first_call[name], "note": note}
                        for name, note in notes.items()]
        row["peers"] += [{"name": name, "unsupported": why} for name, why in unsupported.items()]
    return row


def format_table(rows):
    lines = ["| workload | fastnn steps/s | reference steps/s | ratio | final loss fastnn | "
             "final loss reference | loss rel. diff | first call s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['workload']} {r['title']} | {r['fastnn_per_s']:,.0f} | "
                     f"{r['reference_per_s']:,.0f} | {r['ratio']:.1f}x | {r['fastnn_loss']:.6g} | "
                     f"{r['reference_loss']:.6g} | {r['loss_rel_diff']:.0e} | {r['first_call_s']:.2f} |")
    return "\n".join(lines)


def format_peers_table(rows):
    """One line per workload and peer: its throughput, its ratio to the reference (measured
    in the same run) and fastnn's ratio to it, its final loss next to fastnn's, and how it
    trains (or why it cannot)."""
    lines = ["| workload | peer | steps/s | peer / reference | fastnn / peer | final loss peer | "
             "final loss fastnn | how |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        for p in r.get("peers", []):
            if "unsupported" in p:
                lines.append(f"| {r['workload']} | {p['name']} | | | | | | "
                             f"cannot: {p['unsupported']} |")
            else:
                lines.append(f"| {r['workload']} | {p['name']} | {p['per_s']:,.0f} | "
                             f"{p['vs_reference']:.2f}x | {p['fastnn_vs_peer']:.1f}x | "
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


def run(workload_ids=None, quick=False, repeat=3, json_path=None, peers=False, out=print):
    ids = workload_ids or list(WORKLOADS)
    unknown = [i for i in ids if i not in WORKLOADS]
    if unknown:
        raise ValueError(f"--workloads: unknown {', '.join(unknown)}; known: {', '.join(WORKLOADS)}")
    out(f"fastnn bench{' --quick' if quick else ''}: {describe_machine()}; median of {repeat} "
        "interleaved runs")
    peer_list = []
    if peers:
        peer_list, missing = available_peers()
        for line in missing:
            out(f"peer skipped: {line}")
    rows = []
    for workload_id in ids:
        missing = WORKLOADS[workload_id].missing_requirements()
        if missing:
            out(f"{workload_id} skipped: needs {', '.join(missing)} (pip install fastnn[bench])")
            continue
        rows.append(measure(WORKLOADS[workload_id], quick, repeat, peer_list))
        out(format_table(rows[-1:]).splitlines()[-1])
    out("")
    out(format_table(rows))
    if peer_list:
        out("")
        out(format_peers_table(rows))
        out(format_estimator_ratios(rows))
    if json_path:
        with open(json_path, "w") as file:
            json.dump(rows, file, indent=2)
    warn_if_busy(out)
    return rows


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


# ---------------------------------------------------------------------------- first calls
_FIRST_CALL = """
import sys, time
from fastnn import MLP
from fastnn.tools.workloads import WORKLOADS
workload = WORKLOADS[sys.argv[1]]
data = workload.data(quick=True)
print("ready", flush=True)
sys.stdin.readline()
started = time.perf_counter()
workload.train(MLP, data, 1)
print(time.perf_counter() - started, flush=True)
"""


class FreshProcess:
    """A new Python process that has imported fastnn and built a workload's data, and waits
    to make fastnn's first training call (one epoch). With ``cache_dir`` it uses that Numba
    cache folder (an empty one: the call compiles the kernels), otherwise the caller's.

    ``first_call()`` makes the call and returns its seconds as timed inside the process;
    ``close()`` waits for the process to end.
    """

    def __init__(self, workload_id, cache_dir=None):
        env = dict(os.environ)
        if cache_dir is not None:
            env["NUMBA_CACHE_DIR"] = str(cache_dir)
        self._process = subprocess.Popen([sys.executable, "-c", _FIRST_CALL, workload_id],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True, env=env)
        if self._process.stdout.readline().strip() != "ready":
            self._fail()

    def first_call(self):
        self._process.stdin.write("go\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line.strip():
            self._fail()
        return float(line)

    def close(self):
        self._process.communicate()

    def _fail(self):
        _, error = self._process.communicate()
        raise RuntimeError(f"the fresh fastnn process failed:\n{error}")


def first_call_seconds(workload_id, cache_dir=None):
    """Seconds of fastnn's first training call on a workload in a new process (see
    FreshProcess)."""
    process = FreshProcess(workload_id, cache_dir)
    try:
        return process.first_call()
    finally:
        process.close()
