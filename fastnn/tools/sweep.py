"""``python -m fastnn sweep``: how training cost grows with width, depth, batch size and
sample count, per-sample against batched and float32 against float64, for fastnn and the
NumPy reference; where one overtakes the other tells users which path to pick.

Every point trains a tanh/softmax network with cross-entropy (mean) and SGD with momentum
on random data, shuffled, for enough epochs to take about ``seconds``; fastnn and the
reference are interleaved and the median of ``repeat`` runs is reported in sample-steps per
second, after a first call (compilation) that is not counted.
"""
import functools
import importlib.util
import time
from dataclasses import dataclass

import numpy as np

from .. import reference
from .bench import describe_machine, interleaved, warn_if_busy
from ..model import MLP
from ..optimizers import SGD

N_IN, N_OUT = 32, 10


@dataclass(frozen=True)
class Point:
    sweep: str           # what varies: "width", "depth", "batch size", "samples"
    series: str          # e.g. "per-sample float64"
    x: int               # the value that varies
    sizes: tuple
    batch_size: int | None  # None: full batch
    n_samples: int
    dtype: str

    def data(self):
        rng = np.random.default_rng(0)
        X = rng.standard_normal((self.n_samples, self.sizes[0])).astype(self.dtype)
        return X, rng.integers(0, self.sizes[-1], self.n_samples)

    def train(self, cls, data, epochs):
        net = cls(list(self.sizes), hidden="tanh", output="softmax", seed=0, dtype=self.dtype)
        net.fit(*data, loss="cross_entropy", optimizer=SGD(lr=0.01, momentum=0.9),
                epochs=epochs, batch_size=self.batch_size, seed=0)


def grid():
    """The points of every sweep."""
    points = []
    paths = {"per-sample": 1, "batch 32": 32}
    for dtype in ("float64", "float32"):
        for path, batch in paths.items():
            points += [Point("width", f"{path} {dtype}", w, (N_IN, w, N_OUT), batch, 256, dtype)
                       for w in (8, 32, 128, 512)]
        points += [Point("batch size", dtype, b, (N_IN, 32, N_OUT), b, 1024, dtype)
                   for b in (1, 4, 16, 64, 256, 1024)]
        points += [Point("samples", f"full batch {dtype}", n, (N_IN, 32, N_OUT), None, n, dtype)
                   for n in (16, 128, 1024, 8192)]
    for path, batch in paths.items():
        points += [Point("depth", f"{path} float64", d, (N_IN,) + (32,) * d + (N_OUT,), batch,
                         256, "float64") for d in (1, 2, 4, 8)]
    return points


def measure(point, seconds, repeat):
    """{"fastnn": steps/s, "reference": steps/s} at one point."""
    data = point.data()
    runs = {"fastnn": MLP, "reference": reference.MLP}
    epochs = {}
    for name, cls in runs.items():
        point.train(cls, data, 1)  # compilation for fastnn, a warm-up for both
        started = time.perf_counter()
        point.train(cls, data, 1)
        epochs[name] = max(1, round(seconds / (time.perf_counter() - started)))
    seconds, _ = interleaved({name: functools.partial(point.train, cls, data, epochs[name])
                              for name, cls in runs.items()}, repeat)
    return {name: epochs[name] * point.n_samples / median for name, median in seconds.items()}


def format_table(rows):
    lines = ["| sweep | series | x | fastnn steps/s | reference steps/s | ratio |",
             "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['sweep']} | {r['series']} | {r['x']} | {r['fastnn']:,.0f} | "
                     f"{r['reference']:,.0f} | {r['ratio']:.2f}x |")
    return "\n".join(lines)


def _series(rows):
    """{(sweep, series): [rows in x order]}"""
    groups = {}
    for r in rows:
        groups.setdefault((r["sweep"], r["series"]), []).append(r)
    return {key: sorted(group, key=lambda r: r["x"]) for key, group in groups.items()}


def findings(rows):
    """One line per series: fastnn's ratio to the reference across it and where it crosses 1."""
    lines = []
    for (sweep, series), group in _series(rows).items():
        ratios = ", ".join(f"{r['x']}: {r['ratio']:.1f}x" for r in group)
        slower = [r["x"] for r in group if r["ratio"] < 1]
        if not slower:
            verdict = "fastnn faster throughout"
        elif len(slower) == len(group):
            verdict = "reference faster throughout"
        else:
            verdict = f"reference faster at {', '.join(map(str, slower))}"
        lines.append(f"{sweep}, {series}: {verdict} ({ratios})")
    return lines


def plot(rows, path):
    """One panel per sweep: sample-steps/s against x, fastnn solid, reference dashed."""
    from matplotlib.figure import Figure

    sweeps = list(dict.fromkeys(r["sweep"] for r in rows))
    columns = min(2, len(sweeps))
    lines = -(-len(sweeps) // columns)
    figure = Figure(figsize=(6.5 * columns, 4.6 * lines), layout="constrained")
    axes = figure.subplots(lines, columns, squeeze=False).ravel()
    colors = {}
    for (sweep, series), group in _series(rows).items():
        ax = axes[sweeps.index(sweep)]
        color = colors.setdefault(series, f"C{len(colors)}")
        x = [r["x"] for r in group]
        ax.plot(x, [r["fastnn"] for r in group], "o-", color=color, label=f"fastnn {series}")
        ax.plot(x, [r["reference"] for r in group], "x--", color=color,
                label=f"reference {series}")
    for ax, sweep in zip(axes, sweeps):
        xs = sorted({r["x"] for r in rows if r["sweep"] == sweep})
        ax.set(xscale="log", yscale="log", xlabel=sweep, ylabel="sample-steps / s",
               title=f"cost against {sweep}")
        ax.set_xticks(xs, labels=[str(x) for x in xs], minor=False)
        ax.set_xticks([], minor=True)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize="small")
    for ax in axes[len(sweeps):]:
        ax.set_visible(False)
    figure.suptitle("fastnn (solid) and the NumPy reference (dashed): training throughput")
    figure.savefig(path, dpi=110)


def run(quick=False, plot_path=None, points=None, seconds=None, repeat=None, out=print):
    """Measure every point (default: ``grid()``; ``--quick``: shorter runs, no repeats), print
    the table and the findings, and plot them to ``plot_path`` when matplotlib is installed."""
    points = grid() if points is None else points
    seconds = (0.02 if quick else 0.2) if seconds is None else seconds
    repeat = (1 if quick else 3) if repeat is None else repeat
    out(f"fastnn sweep{' --quick' if quick else ''}: {describe_machine()}; {len(points)} points, "
        f"about {seconds} s per run, median of {repeat} interleaved runs")
    rows = []
    for point in points:
        rate = measure(point, seconds, repeat)
        rows.append({"sweep": point.sweep, "series": point.series, "x": point.x,
                     "sizes": list(point.sizes), "batch_size": point.batch_size,
                     "n_samples": point.n_samples, "dtype": point.dtype, **rate,
                     "ratio": rate["fastnn"] / rate["reference"]})
    out(format_table(rows))
    out("")
    for line in findings(rows):
        out(line)
    warn_if_busy(out)
    if plot_path and importlib.util.find_spec("matplotlib") is None:
        out("plot skipped: matplotlib is not installed (pip install matplotlib)")
    elif plot_path:
        plot(rows, plot_path)
        out(f"plot written to {plot_path}")
    return rows
