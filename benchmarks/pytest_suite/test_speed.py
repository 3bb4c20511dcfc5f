"""pytest-benchmark: every workload on fastnn, its plain NumPy and the reference, and fastnn's
first call.

An ordinary ``python -m pytest`` has ``--benchmark-disable`` (pyproject.toml): each test runs
its target once, at the reduced (--quick) size, as a smoke test, and nothing is timed. Timed:

    python -m pytest benchmarks --benchmark-enable --benchmark-only

which trains at full size, one warm-up round (compilation) and three timed rounds per
implementation; the table has one group per workload, fastnn, plain NumPy and the reference
side by side. The startup group times each startup case's first call in a new process
(fastnn.tools.startup) with an empty Numba cache (compilation) and with the warm cache
(loading).
"""
import functools

import numpy as np
import pytest

from fastnn.tools import bench, searches, stacks, startup
from fastnn.tools.workloads import WORKLOADS


def _workload(workload_id):
    workload = WORKLOADS[workload_id]
    if workload.missing_requirements():
        pytest.skip(f"{workload_id} needs {', '.join(workload.missing_requirements())} "
                    "(pip install fastnn[bench])")
    return workload


@pytest.mark.parametrize("implementation", list(bench.IMPLEMENTATIONS))
@pytest.mark.parametrize("workload_id", list(WORKLOADS))
def test_train(benchmark, workload_id, implementation):
    workload = _workload(workload_id)
    quick = benchmark.disabled
    data = workload.data(quick)
    epochs = workload.epochs_for(quick)
    benchmark.group = workload_id
    benchmark.extra_info["sample_steps"] = workload.sample_steps(data, epochs)
    train = bench.IMPLEMENTATIONS[implementation]
    loss = benchmark.pedantic(train, (workload, data, epochs), rounds=3, warmup_rounds=1)
    benchmark.extra_info["final_loss"] = loss
    assert np.isfinite(loss)


@pytest.fixture
def start_fresh_process(tmp_path):
    """Setup for benchmark.pedantic: a new startup.FreshProcess each round, with an empty Numba
    cache folder when ``cold``; all of them are waited for at the end."""
    started = []

    def start(case, cold):
        cache_dir = tmp_path / f"cache{len(started)}" if cold else None
        started.append(startup.FreshProcess(case, cache_dir))
        return (started[-1],), {}
    yield start
    for process in started:
        process.close()


@pytest.mark.parametrize("cache", ["cold", "warm"])
@pytest.mark.parametrize("name", [case.name for case in startup.CASES])
def test_first_call(benchmark, start_fresh_process, name, cache):
    case = startup.case_named(name)
    if case.missing_requirements():
        pytest.skip(f"{name} needs {', '.join(case.missing_requirements())}")
    if benchmark.disabled and (cache == "cold" or not case.fastnn):
        pytest.skip("compiling in a new process takes seconds: timed runs only")
    benchmark.group = "startup: the first call in a new process"
    if cache == "warm":  # make sure this process's cache folder holds the kernels
        startup.first_call(case)
    seconds, _ = benchmark.pedantic(startup.FreshProcess.first_call, rounds=3,
                                    setup=functools.partial(start_fresh_process, case,
                                                            cache == "cold"))
    assert seconds > 0


@pytest.mark.parametrize("way", ["stack", "sequential"])
@pytest.mark.parametrize("case", stacks.CASES, ids=lambda case: f"{case.n_models}x{case.workload}")
def test_stack(benchmark, case, way):
    """K networks as one MLPStack and as K fastnn.MLP fits one after another."""
    workload = _workload(case.workload)
    quick = benchmark.disabled
    data = workload.data(quick)
    epochs = case.quick_epochs if quick else workload.epochs
    benchmark.group = f"many networks: {case.n_models} x {case.workload}"
    benchmark.extra_info["sample_steps"] = case.n_models * len(data[0]) * epochs
    if way == "stack":
        train = lambda: workload.train_stack(data, epochs, case.n_models)[1].loss[-1, -1]  # noqa: E731
    else:
        train = lambda: stacks.sequential(workload, data, epochs, case.n_models)  # noqa: E731
    assert np.isfinite(benchmark.pedantic(train, rounds=3, warmup_rounds=1))


@pytest.mark.parametrize("name", list(searches.SEARCHES))
def test_search(benchmark, name):
    """The hyperparameter search of fastnn.tools.searches, by fastnn.model_selection and by
    scikit-learn's GridSearchCV."""
    pytest.importorskip("sklearn", reason="the search needs scikit-learn")
    import warnings
    X, y = searches.digits()
    max_iter = searches.QUICK_MAX_ITER if benchmark.disabled else searches.MAX_ITER
    benchmark.group = "search: GridSearchCV on load_digits"

    def search():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return searches.make_search(*searches.SEARCHES[name], max_iter).fit(X, y)
    assert benchmark.pedantic(search, rounds=3, warmup_rounds=1).best_score_ > 0
