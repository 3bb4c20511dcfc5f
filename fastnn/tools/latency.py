"""``python -m fastnn bench --latency``: prediction latency of one row and throughput of 1,000
rows, through fastnn's estimator, fastnn.MLP.forward, scikit-learn's MLPClassifier and, where
skl2onnx and onnxruntime are installed, onnxruntime serving scikit-learn's model exported by
skl2onnx and fastnn's exported by fastnn.to_onnx, measured in one run on the same trained
network (load_digits, 64-128-10).

Each implementation's calls are timed in loops of about LOOP_SECONDS, interleaved with the
others' REPEAT times, each loop QUIET_SECONDS after the last (the BLAS libraries' idle
threads spin for about 0.1 s after a product, taking a core from whoever runs next); the
table gives the median time per call, in the steady state of a long-running process (the
first calls, not timed, load the kernels a split prediction runs on threads).
"""
import importlib.util
import statistics
import time
import warnings

import numpy as np

from ..threads import parts_on_threads
from .bench import QUIET_SECONDS

LOOP_SECONDS = 0.05
REPEAT = 5
ROWS = {"one row": 1, "1,000 rows": 1000}


def implementations(X, y):
    """name -> (predict(rows) for float64 rows, the dtype it is given), and the lines saying
    which could not be built."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from ..estimators import MLPClassifier as FastMLPClassifier
    from ..model import MLP
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = MLPClassifier((128,), max_iter=20, random_state=0).fit(X, y)
        ours = FastMLPClassifier((128,), max_iter=20, random_state=0).fit(X, y)
    net = MLP([64, 128, 10], hidden="relu", output="softmax")
    net.set_params(list(theirs.coefs_), list(theirs.intercepts_))
    net32 = MLP([64, 128, 10], hidden="relu", output="softmax", dtype="float32")
    net32.set_params(list(theirs.coefs_), list(theirs.intercepts_))
    found = {"fastnn.MLPClassifier.predict_proba": (ours.predict_proba, np.float64),
             "sklearn MLPClassifier.predict_proba": (theirs.predict_proba, np.float64),
             "fastnn.MLP.forward, float64": (net.forward, np.float64),
             "fastnn.MLP.forward, float32": (net32.forward, np.float32)}
    missing = []
    if importlib.util.find_spec("skl2onnx") and importlib.util.find_spec("onnxruntime"):
        import onnxruntime
        from skl2onnx import to_onnx
        model = to_onnx(theirs, X[:1].astype(np.float32),
                        options={id(theirs): {"zipmap": False}})
        runtime = onnxruntime.InferenceSession(model.SerializeToString(),
                                               providers=["CPUExecutionProvider"])
        name = runtime.get_inputs()[0].name
        found["onnxruntime, float32 (skl2onnx)"] = (
            lambda rows: runtime.run(None, {name: rows})[1], np.float32)
        from ..export import to_onnx as fastnn_to_onnx
        exported = onnxruntime.InferenceSession(fastnn_to_onnx(net32).SerializeToString(),
                                                providers=["CPUExecutionProvider"])
        found["onnxruntime, float32 (fastnn.to_onnx)"] = (
            lambda rows: exported.run(["forward"], {"X": rows})[0], np.float32)
    else:
        missing.append("onnxruntime: needs skl2onnx and onnxruntime")
    return found, missing


def _time_per_call(call, seconds):
    calls, started = 0, time.perf_counter()
    while True:
        call()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return elapsed / calls


def measure(X, y, quick=False):
    """Rows {"name", "<rows>_s"}: the median seconds per call for each ROWS size (``quick``:
    one short loop each, for a smoke test)."""
    loop_seconds, repeat, settle = (0.001, 1, 0.0) if quick else (LOOP_SECONDS, REPEAT,
                                                                  QUIET_SECONDS)
    found, missing = implementations(X, y)
    inputs = {label: {dtype: np.ascontiguousarray(X[:rows], dtype)
                      for dtype in (np.float32, np.float64)} for label, rows in ROWS.items()}
    times = {(name, label): [] for name in found for label in ROWS}
    # First calls: compiling and loading, the parallel kernel of predictions split over
    # threads included, which a long-running process reaches after PARALLEL_COMPILE_SECONDS
    # of split predictions on its serial twin (fastnn.model.split_kernel).
    with parts_on_threads(True):
        for name, (predict, dtype) in found.items():
            for label in ROWS:
                predict(inputs[label][dtype])
    for _ in range(repeat):
        for name, (predict, dtype) in found.items():
            for label in ROWS:
                rows = inputs[label][dtype]
                time.sleep(settle)
                times[name, label].append(_time_per_call(lambda: predict(rows), loop_seconds))
    results = [{"name": name, **{label: statistics.median(times[name, label])
                                 for label in ROWS}} for name in found]
    return results, missing


def format_table(results):
    lines = ["| predicting (64-128-10, load_digits) | one row | 1,000 rows | rows/s at 1,000 |",
             "|---|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['name']} | {r['one row'] * 1e6:.1f} µs | "
                     f"{r['1,000 rows'] * 1e6:.0f} µs | {1000 / r['1,000 rows']:,.0f} |")
    return "\n".join(lines)


def run(blas_native=False, quick=False, out=print):
    """Measure and print the table; with ``blas_native``, in a worker process without the
    OpenBLAS settings (fastnn.tools.bench.BLAS_SETTINGS). Returns the rows."""
    from sklearn.datasets import load_digits

    from .bench import describe_blas, describe_machine, run_without_blas_settings
    if blas_native:
        return run_without_blas_settings(__name__, {"quick": quick}, out)
    X, y = load_digits(return_X_y=True)
    out(f"fastnn bench --latency{' --quick' if quick else ''}: {describe_machine()}; median of "
        f"{1 if quick else REPEAT} interleaved loops")
    out(describe_blas())
    results, missing = measure(X / 16, y, quick)
    for line in missing:
        out(f"skipped: {line}")
    out(format_table(results))
    return results
