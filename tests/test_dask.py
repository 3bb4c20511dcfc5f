"""Scale-out on Dask: scikit-learn's GridSearchCV over fastnn's estimators under joblib's dask
backend, and dask-ml's Incremental feeding blocks to partial_fit, on a LocalCluster of two
worker processes, give the results they give without Dask; and worker processes compiling
the same kernels into one empty Numba cache at once neither crash nor leave a broken entry.
"""
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the estimators need scikit-learn")
distributed = pytest.importorskip("distributed", reason="needs dask[distributed] (the dask extra)")
dask_ml = pytest.importorskip("dask_ml", reason="needs dask-ml (the dask extra)")

import joblib  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

import fastnn  # noqa: E402
from fastnn import model_selection  # noqa: E402

X, y = load_digits(return_X_y=True)
X = X[:600] / 16
y = y[:600]


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def search(search_class):
    return search_class(fastnn.MLPClassifier(max_iter=8, random_state=0),
                        {"hidden_layer_sizes": [(16,), (32,)], "alpha": [1e-4, 1e-2]}, cv=3,
                        n_jobs=2)


@pytest.mark.parametrize("search_class", [GridSearchCV, model_selection.GridSearchCV])
def test_grid_search_on_dask_gives_the_scores_it_gives_locally(client, search_class):
    """scikit-learn's search, and fastnn's (whose fits go to threads locally), under joblib's
    dask backend."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        local = search(search_class).fit(X, y)
        with joblib.parallel_backend("dask"), distributed.get_task_stream(client) as tasks:
            on_dask = search(search_class).fit(X, y)
    assert tasks.data  # the fits ran on the cluster (in batches joblib chose)
    for key in ("mean_test_score", "std_test_score", "split0_test_score"):
        np.testing.assert_allclose(on_dask.cv_results_[key], local.cv_results_[key], rtol=1e-12)
    assert on_dask.best_params_ == local.best_params_
    np.testing.assert_array_equal(on_dask.best_estimator_.coefs_[0],
                                  local.best_estimator_.coefs_[0])


def test_incremental_feeds_blocks_to_partial_fit_as_a_loop_would(client):
    import dask.array as da
    from dask_ml.wrappers import Incremental
    blocks = 4
    X_dask = da.from_array(X, chunks=len(X) // blocks)
    y_dask = da.from_array(y, chunks=len(y) // blocks)
    classes = np.unique(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        wrapped = Incremental(fastnn.MLPClassifier((16,), random_state=0, solver="sgd",
                                                   learning_rate_init=0.05),
                              shuffle_blocks=False)
        wrapped.fit(X_dask, y_dask, classes=classes)
        alone = fastnn.MLPClassifier((16,), random_state=0, solver="sgd",
                                     learning_rate_init=0.05)
        for X_block, y_block in zip(np.array_split(X, blocks), np.array_split(y, blocks)):
            alone.partial_fit(X_block, y_block, classes=classes)
    # to rounding: a Dask worker runs BLAS on one thread (distributed sets
    # OPENBLAS_NUM_THREADS=1), which may round a product differently
    for ours, theirs in zip(wrapped.estimator_.coefs_, alone.coefs_):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(wrapped.predict(X_dask).compute(), alone.predict(X))


FIT = textwrap.dedent("""
    import numpy as np, fastnn
    X = np.random.default_rng(0).random((50, 10))
    net = fastnn.MLP([10, 10, 10], hidden="tanh", output="sigmoid", seed=0)
    net.fit(X, 1 - X, loss="binary_cross_entropy", optimizer=fastnn.SGD(lr=0.1), epochs=2,
            batch_size=1, shuffle=False)
    print(repr(net.params.sum()))
""")


def test_processes_compiling_into_one_empty_cache_at_once(tmp_path):
    """Two processes compile the per-sample path into one empty cache at the same time; both
    finish with the same result, and a third loads what they left and gets it too."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    both = [subprocess.Popen([sys.executable, "-c", FIT], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = []
    for process in both:
        out, error = process.communicate(timeout=300)
        assert process.returncode == 0, error
        results.append(out.strip())
    third = subprocess.run([sys.executable, "-c", FIT], env=env, capture_output=True, text=True,
                           timeout=300)
    assert third.returncode == 0, third.stderr
    assert results[0] == results[1] == third.stdout.strip()
