"""``python -m fastnn bench --startup``: what a first call costs in a new process, with an
empty Numba cache (it compiles the kernels it needs) and with a filled one (it loads them),
beside scikit-learn's first fit, measured in the same run.

Each case runs in its own new Python process: ``setup`` (imports, data) first, untimed, then
``timed``, timed inside the process. Cold: a new empty cache folder per case (a newcomer's
first call of that kind); warm: a second process with the folder the cold one filled.
``python -m fastnn compile`` (fastnn.tools.compile) fills a cache for every case.

Where a cold call's time goes comes from numba's compile events in its process
(fastnn.tools.compile_events): the seconds numba spent compiling, the part of them under
LLVM's lock, how many functions it compiled and which took longest. The case "numba alone"
is the floor under every fastnn case: the first call of a one-line cached function
(fastnn.tools.numba_floor), which pays numba's own start (loading its typing and lowering
registries) and nothing of fastnn's kernels.
"""
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from .workloads import WORKLOADS


@dataclass(frozen=True)
class StartupCase:
    name: str
    setup: str            # code run first, untimed
    timed: str            # the first call
    requires: tuple = ()  # optional extras it needs
    fastnn: bool = True   # False: a peer, whose time does not depend on Numba's cache
    kernels: bool = True  # False: runs none of fastnn's kernels (the import, numba's floor)
    listens: bool = True  # its process reports numba's compile events (not for an import:
    #                       the listener, fastnn.tools.compile_events, imports fastnn first)

    def missing_requirements(self):
        import importlib.util
        return [name for name in self.requires if importlib.util.find_spec(name) is None]


def _workload_fit(name, workload_id):
    """fastnn's first training call (one epoch) on a workload's network and data."""
    return StartupCase(name, "import fastnn\nfrom fastnn.tools.workloads import WORKLOADS\n"
                             f"workload = WORKLOADS[{workload_id!r}]\n"
                             "data = workload.data(quick=True)",
                       "workload.train(fastnn.MLP, data, 1)", WORKLOADS[workload_id].requires)


def _stack_fit(name, workload_id, n_models):
    """fastnn.MLPStack's first training call (one epoch) of ``n_models`` copies of a
    workload's network on its data."""
    return StartupCase(name, "import fastnn\nfrom fastnn.tools.workloads import WORKLOADS\n"
                             f"workload = WORKLOADS[{workload_id!r}]\n"
                             "data = workload.data(quick=True)",
                       "workload.train_stack(data, 1, %d)" % n_models,
                       WORKLOADS[workload_id].requires)


_DIGITS = ("import warnings\nfrom sklearn.datasets import load_digits\n"
           "from sklearn.exceptions import ConvergenceWarning\n"
           "warnings.simplefilter('ignore', ConvergenceWarning)\n"
           "X, y = load_digits(return_X_y=True)\nX = X / 16\n")

CASES = [
    StartupCase("import fastnn", "", "import fastnn", kernels=False, listens=False),
    StartupCase("numba alone: a one-line function (the floor)",
                "import fastnn\nfrom fastnn.tools import numba_floor", "numba_floor.add_one(1.0)",
                kernels=False),
    _workload_fit("per-sample fit (W3, float64)", "W3"),
    _workload_fit("narrow full-batch fit (W4, float64)", "W4"),
    _workload_fit("batched fit (W6, float32)", "W6"),
    _workload_fit("batched fit split into parts (W7, float32)", "W7"),
    _stack_fit("MLPStack fit, 32 x W3 in lanes (float64)", "W3", 32),
    _stack_fit("MLPStack fit, 8 x W6 over threads (float32)", "W6", 8),
    StartupCase("forward of 5 rows (64-128-10, float64)",
                "import numpy as np\nimport fastnn\n"
                "net = fastnn.MLP([64, 128, 10], hidden='relu', output='softmax', seed=0)\n"
                "X = np.random.default_rng(0).random((5, 64))",
                "net.forward(X)"),
    StartupCase("sparse fit (CSR rows, 1000 x 5000 at 1%, 5000-64-10, float64)",
                "import numpy as np, scipy.sparse\nimport fastnn\n"
                "X = scipy.sparse.random(1000, 5000, density=0.01, format='csr', "
                "random_state=0)\ny = np.arange(1000) % 10\n"
                "net = fastnn.MLP([5000, 64, 10], hidden='relu', output='softmax', seed=0)",
                "net.fit(X, y, loss='cross_entropy', optimizer=fastnn.Adam(), batch_size=200)"),
    StartupCase("fastnn.MLPClassifier(max_iter=1).fit, digits",
                _DIGITS + "import fastnn", "fastnn.MLPClassifier(max_iter=1).fit(X, y)",
                ("sklearn",)),
    StartupCase("sklearn MLPClassifier(max_iter=1).fit, digits",
                _DIGITS + "from sklearn.neural_network import MLPClassifier",
                "MLPClassifier(max_iter=1).fit(X, y)", ("sklearn",), fastnn=False,
                kernels=False, listens=False),
]

_PROGRAM = """
import json, sys, time
{setup}
{listen}
print("ready", flush=True)
sys.stdin.readline()
started = time.perf_counter()
{timed}
print(time.perf_counter() - started, flush=True)
print(json.dumps({summary}), flush=True)
"""
_LISTEN = ("from fastnn.tools.compile_events import CompileEvents\n"
           "compile_events = CompileEvents().start()")


class FreshProcess:
    """A new Python process that has run a case's setup and waits to make its first call.
    With ``cache_dir`` it uses that Numba cache folder (an empty one: the call compiles),
    otherwise the caller's.

    ``first_call()`` makes the call and returns its seconds as timed inside the process and,
    for a case that listens, the summary of numba's compile events during it
    (fastnn.tools.compile_events; else None); ``close()`` waits for the process to end.
    """

    def __init__(self, case, cache_dir=None):
        env = dict(os.environ)
        if cache_dir is not None:
            env["NUMBA_CACHE_DIR"] = str(cache_dir)
        program = _PROGRAM.format(setup=case.setup, timed=case.timed,
                                  listen=_LISTEN if case.listens else "",
                                  summary="compile_events.summary()" if case.listens else None)
        self._process = subprocess.Popen([sys.executable, "-c", program],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True, env=env)
        if self._process.stdout.readline().strip() != "ready":
            self._fail()

    def first_call(self):
        self._process.stdin.write("go\n")
        self._process.stdin.flush()
        seconds = self._process.stdout.readline()
        summary = self._process.stdout.readline()
        if not seconds.strip() or not summary.strip():
            self._fail()
        return float(seconds), json.loads(summary)

    def close(self):
        self._process.communicate()

    def _fail(self):
        _, error = self._process.communicate()
        raise RuntimeError(f"the fresh process failed:\n{error}")


def first_call(case, cache_dir=None):
    """(seconds, compile summary) of a case's first call in a new process (see
    FreshProcess)."""
    process = FreshProcess(case, cache_dir)
    try:
        return process.first_call()
    finally:
        process.close()


def case_named(name):
    return next(case for case in CASES if case.name == name)


def measure(case):
    """{"case", "cold_s", "warm_s", "cold_compile"} for one case: cold in an empty cache
    folder, then warm; cold_compile is the cold call's compile summary (or None)."""
    with tempfile.TemporaryDirectory() as cache_dir:
        cold, compiled = first_call(case, cache_dir)
        warm, _ = first_call(case, cache_dir)
    return {"case": case.name, "cold_s": cold, "warm_s": warm, "cold_compile": compiled}


def format_table(rows):
    lines = ["| first call in a new process | empty Numba cache s | of which compiling s "
             "(LLVM s), functions | filled cache s |",
             "|---|---:|---:|---:|"]
    for r in rows:
        compiled = r["cold_compile"]
        where = ("" if compiled is None else
                 f"{compiled['compiling_s']:.2f} ({compiled['llvm_s']:.2f}), "
                 f"{compiled['functions']}")
        lines.append(f"| {r['case']} | {r['cold_s']:.2f} | {where} | {r['warm_s']:.3f} |")
    return "\n".join(lines)


def format_slowest(rows):
    """For each cold call that compiled, the functions that took longest to compile, with
    their own seconds (less their callees') and the LLVM part of them."""
    lines = []
    for r in rows:
        if r["cold_compile"] and r["cold_compile"]["slowest"]:
            slowest = "; ".join(f"{name} {own:.2f} s ({llvm:.2f} LLVM)"
                                for name, own, llvm in r["cold_compile"]["slowest"])
            lines.append(f"{r['case']}: {slowest}")
    return "\n".join(lines)


def run(out=print):
    """Measure every case (those whose extras are installed); print and return the rows."""
    from .bench import describe_machine
    out(f"fastnn bench --startup: {describe_machine()}")
    rows = []
    for case in CASES:
        missing = case.missing_requirements()
        if missing:
            out(f"{case.name} skipped: needs {', '.join(missing)}")
            continue
        rows.append(measure(case))
        out(format_table(rows[-1:]).splitlines()[-1])
    out("")
    out(format_table(rows))
    out("")
    out("Longest to compile, own seconds (a function's compile time less its callees'):")
    out(format_slowest(rows))
    return rows
