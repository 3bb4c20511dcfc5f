"""asv: fastnn's first training call in a new process (W1: float64 kernels, W6: float32).

``track_compile_seconds``: with an empty Numba cache folder, so the call compiles.
``track_first_call_warm_seconds``: with the caller's cache (NUMBA_CACHE_DIR, or the installed
package's folders), filled by a first new process, so the call loads the compiled kernels.
Both are timed inside the new process, after its imports.
"""
import tempfile

from fastnn.tools import bench

from ._common import workload

IDS = ["W1", "W6"]


class FirstCall:
    params = IDS
    param_names = ["workload"]
    timeout = 300
    unit = "seconds"

    def setup(self, workload_id):
        workload(workload_id)  # skipped when an optional extra is missing

    def track_compile_seconds(self, workload_id):
        with tempfile.TemporaryDirectory() as cache_dir:
            return bench.first_call_seconds(workload_id, cache_dir)

    def track_first_call_warm_seconds(self, workload_id):
        bench.first_call_seconds(workload_id)  # fills the cache if it was empty
        return bench.first_call_seconds(workload_id)
