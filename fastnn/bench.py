"""``python -m fastnn bench``: training throughput of fastnn against the NumPy reference.

Throughput is sample-steps per second (one sample through forward, backward and update).
Both implementations run the same workload from the same weights in one process,
interleaved (fastnn, reference, fastnn, ...), and the median of the repeats is reported, so
a noisy machine does not favour one side. fastnn's first call (compilation, or loading the
compiled code from the cache) is timed on its own and excluded.
"""
import json
import platform
import statistics
import time

from . import reference
from .model import MLP
from .workloads import WORKLOADS


def measure(workload, quick=False, repeat=3):
    """A result row for one workload."""
    data = workload.data(quick)
    epochs = workload.epochs_for(quick)
    started = time.perf_counter()
    workload.train(MLP, data, 1)
    first_call = time.perf_counter() - started
    times = {"fastnn": [], "reference": []}
    losses = {}
    for _ in range(repeat):
        for name, cls in (("fastnn", MLP), ("reference", reference.MLP)):
            started = time.perf_counter()
            _, history = workload.train(cls, data, epochs)
            times[name].append(time.perf_counter() - started)
            losses[name] = history.loss[-1]
    steps = workload.sample_steps(data, epochs)
    rate = {name: steps / statistics.median(t) for name, t in times.items()}
    return {"workload": workload.id, "title": workload.title, "epochs": epochs,
            "sample_steps": steps, "fastnn_per_s": rate["fastnn"],
            "reference_per_s": rate["reference"], "ratio": rate["fastnn"] / rate["reference"],
            "fastnn_loss": losses["fastnn"], "reference_loss": losses["reference"],
            "loss_rel_diff": abs(losses["fastnn"] - losses["reference"]) / abs(losses["reference"]),
            "first_call_s": first_call}


def format_table(rows):
    lines = ["| workload | fastnn steps/s | reference steps/s | ratio | final loss fastnn | "
             "final loss reference | loss rel. diff | first call s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['workload']} {r['title']} | {r['fastnn_per_s']:,.0f} | "
                     f"{r['reference_per_s']:,.0f} | {r['ratio']:.1f}x | {r['fastnn_loss']:.6g} | "
                     f"{r['reference_loss']:.6g} | {r['loss_rel_diff']:.0e} | {r['first_call_s']:.2f} |")
    return "\n".join(lines)


def run(workload_ids=None, quick=False, repeat=3, json_path=None, out=print):
    ids = workload_ids or list(WORKLOADS)
    unknown = [i for i in ids if i not in WORKLOADS]
    if unknown:
        raise ValueError(f"--workloads: unknown {', '.join(unknown)}; known: {', '.join(WORKLOADS)}")
    out(f"fastnn bench{' --quick' if quick else ''}: {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, median of {repeat} interleaved runs")
    rows = []
    for workload_id in ids:
        missing = WORKLOADS[workload_id].missing_requirements()
        if missing:
            out(f"{workload_id} skipped: needs {', '.join(missing)} (pip install fastnn[bench])")
            continue
        rows.append(measure(WORKLOADS[workload_id], quick, repeat))
        out(format_table(rows[-1:]).splitlines()[-1])
    out("")
    out(format_table(rows))
    if json_path:
        with open(json_path, "w") as file:
            json.dump(rows, file, indent=2)
    return rows
