"""``python -m fastnn bench --search``: a hyperparameter search over fastnn's estimator.

The search (SEARCH_GRID on load_digits, cv=3, max_iter=30, n_jobs=2) as
fastnn.model_selection.GridSearchCV runs it (the fits on threads, one core each), as
scikit-learn's GridSearchCV runs it over the same fastnn.MLPClassifier (the fits in joblib's
worker processes), and over scikit-learn's own MLPClassifier. Measured two ways: the first
search in a new process (Numba's cache filled, so that is the workers' start and loading
of the kernels, not compilation), and the median of interleaved searches once everything is
loaded. The training's floating-point operations (from each fit's own epochs) over the
machine's float64 GEMM peak give the least time any implementation can take.
"""
import statistics
import subprocess
import sys
import warnings

import numpy as np

SEARCH_GRID = {"hidden_layer_sizes": [(32,), (64,), (128,)], "alpha": [1e-4, 1e-2],
               "learning_rate_init": [1e-3, 1e-2]}
MAX_ITER = 30
CV = 3
N_JOBS = 2
QUICK_MAX_ITER = 5
SEARCHES = {
    "fastnn.model_selection": ("fastnn.model_selection", "fastnn"),
    "scikit-learn's search, fastnn's estimator": ("sklearn.model_selection", "fastnn"),
    "scikit-learn's search and estimator": ("sklearn.model_selection", "sklearn"),
}
"""Name -> (the module of the GridSearchCV, whose MLPClassifier)."""

_FIRST_SEARCH = """
import sys, time, warnings
from fastnn.tools import searches
search = searches.make_search(sys.argv[1], sys.argv[2], int(sys.argv[3]))
X, y = searches.digits()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    search.fit(X, y)
print(time.perf_counter() - started)
"""


def digits():
    """load_digits, scaled to [0, 1]."""
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return X / 16, y


def make_search(search_module, estimator_of, max_iter, **arguments):
    """GridSearchCV of ``search_module`` over ``estimator_of``'s MLPClassifier ("fastnn" or
    "sklearn") on SEARCH_GRID."""
    import importlib
    search_class = importlib.import_module(search_module).GridSearchCV
    if estimator_of == "fastnn":
        from fastnn.estimators import MLPClassifier
    else:
        from sklearn.neural_network import MLPClassifier
    return search_class(MLPClassifier(max_iter=max_iter, random_state=0), SEARCH_GRID, cv=CV,
                        n_jobs=N_JOBS, **arguments)


def training_flops(search, n_samples):
    """Floating-point operations of the search's training (its fits and the refit), from
    each fit's epochs and test rows (the "n_iter" and "n_samples" scores of
    _counting_scorers): per sample-step 2 per weight forward,
    2 for its gradient, and 2 more to carry the error back through every layer but the
    first."""
    results = search.cv_results_
    total = 0.0
    for k, params in enumerate(results["params"]):
        weights = _weights(params["hidden_layer_sizes"])
        per_step = 4 * sum(weights) + 2 * sum(weights[1:])
        for split in range(search.n_splits_):
            train_rows = n_samples - results[f"split{split}_test_n_samples"][k]
            total += per_step * train_rows * results[f"split{split}_test_n_iter"][k]
    best = search.best_params_["hidden_layer_sizes"]
    weights = _weights(best)
    total += (4 * sum(weights) + 2 * sum(weights[1:])) * n_samples * search.best_estimator_.n_iter_
    return total


def _weights(hidden):
    sizes = [64, *hidden, 10]
    return [k * n for k, n in zip(sizes[:-1], sizes[1:])]


def _counting_scorers():
    """Scorers that also record, per split, each fit's epochs and test rows."""
    return {"accuracy": "accuracy",
            "n_iter": lambda estimator, X, y: estimator.n_iter_,
            "n_samples": lambda estimator, X, y: len(X)}


def first_search_seconds(name, max_iter):
    """The first search's seconds in a new process (the cache filled)."""
    module, estimator_of = SEARCHES[name]
    done = subprocess.run([sys.executable, "-c", _FIRST_SEARCH, module, estimator_of,
                           str(max_iter)], capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def measure(quick=False, repeat=3):
    """{"rows": [{name, first, warm}], "flops", "peak", "max_diff", ...}."""
    from .bench import gemm_peak, interleaved
    max_iter = QUICK_MAX_ITER if quick else MAX_ITER
    X, y = digits()
    searches = {name: (lambda name=name: make_search(*SEARCHES[name], max_iter).fit(X, y))
                for name in SEARCHES}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counted = make_search(*SEARCHES["fastnn.model_selection"], max_iter,
                              scoring=_counting_scorers(), refit="accuracy").fit(X, y)
        theirs = searches["scikit-learn's search, fastnn's estimator"]()
        first = {name: statistics.median(first_search_seconds(name, max_iter)
                                         for _ in range(1 if quick else repeat))
                 for name in SEARCHES}
        for search in searches.values():  # the workers started, everything loaded
            search()
        warm, _ = interleaved(searches, repeat)
    flops = training_flops(counted, len(X))
    peak = gemm_peak(np.float64)
    rows = [{"name": name, "first": first[name], "warm": warm[name]}
            for name in SEARCHES]
    return {"rows": rows, "flops": flops, "peak": peak, "max_iter": max_iter,
            "max_diff": float(np.abs(counted.cv_results_["mean_test_accuracy"]
                                     - theirs.cv_results_["mean_test_score"]).max())}


def format_table(result):
    rows = result["rows"]
    ours = rows[0]
    lines = ["| search | first search, new process | once loaded | fastnn.model_selection's "
             "speed-up, loaded |",
             "|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['first']:.2f} s | {r['warm']:.3f} s | "
                     f"{r['warm'] / ours['warm']:.2f}x |")
    return "\n".join(lines)


def run(blas_native=False, quick=False, repeat=3, out=print):
    """Measure, print and return the result; with ``blas_native``, in a worker process
    without the OpenBLAS settings (fastnn.tools.bench.BLAS_SETTINGS)."""
    from .bench import describe_blas, describe_machine, run_without_blas_settings, warn_if_busy
    if blas_native:
        return run_without_blas_settings(__name__, {"quick": quick, "repeat": repeat}, out)
    result = measure(quick, repeat)
    out(f"fastnn bench --search{' --quick' if quick else ''}: {describe_machine()}")
    out(describe_blas())
    out(f"GridSearchCV on load_digits ({len(SEARCH_GRID['hidden_layer_sizes'])} x "
        f"{len(SEARCH_GRID['alpha'])} x {len(SEARCH_GRID['learning_rate_init'])} candidates "
        f"x {CV} folds, max_iter={result['max_iter']}, n_jobs={N_JOBS}); median of {repeat}")
    out("")
    out(format_table(result))
    out("")
    least = result["flops"] / (result["peak"] * 1e9)
    out(f"training: {result['flops'] / 1e9:.1f} GFLOP (float64); the machine's float64 GEMM "
        f"peak {result['peak']:.0f} GFLOP/s ({N_JOBS} cores) -> at least {least:.3f} s for "
        f"any implementation; fastnn's search ran at "
        f"{result['flops'] / result['rows'][0]['warm'] / 1e9:.0f} GFLOP/s")
    out(f"mean test scores, fastnn.model_selection vs scikit-learn's search over the same "
        f"estimator: largest difference {result['max_diff']:.1e}")
    warn_if_busy(out)
    return result
