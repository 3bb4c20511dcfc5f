"""asv: training throughput per workload and implementation, at the reduced (--quick) size.

``time_train`` is one training run (compilation excluded: setup makes the first call), of
fastnn, the workload's plain NumPy (fastnn.tools.plain) and fastnn.reference side by side.
``track_*`` record ``python -m fastnn bench --quick``: the three interleaved in one process,
so their ratios are measured under the same conditions.
"""
from fastnn.tools import bench
from fastnn.tools.workloads import WORKLOADS

from ._common import workload

IDS = list(WORKLOADS)
IMPLEMENTATIONS = list(bench.IMPLEMENTATIONS)


class Train:
    params = (IDS, IMPLEMENTATIONS)
    param_names = ["workload", "implementation"]
    timeout = 300

    def setup(self, workload_id, implementation):
        self.workload = workload(workload_id)
        self.train = bench.IMPLEMENTATIONS[implementation]
        self.data = self.workload.data(quick=True)
        self.epochs = self.workload.epochs_for(quick=True)
        self.train(self.workload, self.data, 1)

    def time_train(self, workload_id, implementation):
        self.train(self.workload, self.data, self.epochs)


class Bench:
    """The rows of ``python -m fastnn bench --quick``, measured once for all the track_*."""
    timeout = 900

    def setup_cache(self):
        rows = bench.run(quick=True, repeat=3, out=lambda *_: None)
        return {row["workload"]: row for row in rows}

    def track_ratio(self, rows, workload_id):
        if workload_id not in rows:
            workload(workload_id)  # skipped for a missing extra
        return rows[workload_id]["ratio"]
    track_ratio.params = IDS
    track_ratio.param_names = ["workload"]
    track_ratio.unit = "fastnn / plain NumPy"

    def track_ratio_reference(self, rows, workload_id):
        if workload_id not in rows:
            workload(workload_id)
        return rows[workload_id]["ratio_reference"]
    track_ratio_reference.params = IDS
    track_ratio_reference.param_names = ["workload"]
    track_ratio_reference.unit = "fastnn / reference"

    @staticmethod
    def _blas_bound_row(rows, workload_id, key):
        """rows[workload_id][key], for a BLAS-bound workload's fractions."""
        if workload_id not in rows:
            workload(workload_id)  # skipped for a missing extra
        if key not in rows[workload_id]:
            raise NotImplementedError(f"{workload_id} is not BLAS-bound")
        return rows[workload_id][key]

    def track_fraction_of_gemm_peak(self, rows, workload_id, implementation):
        return self._blas_bound_row(rows, workload_id, f"{implementation}_of_peak")
    track_fraction_of_gemm_peak.params = (IDS, IMPLEMENTATIONS)
    track_fraction_of_gemm_peak.param_names = ["workload", "implementation"]
    track_fraction_of_gemm_peak.unit = "of the GEMM peak"

    def track_fraction_of_products_alone(self, rows, workload_id, implementation):
        return self._blas_bound_row(rows, workload_id, f"{implementation}_of_products")
    track_fraction_of_products_alone.params = (IDS, IMPLEMENTATIONS)
    track_fraction_of_products_alone.param_names = ["workload", "implementation"]
    track_fraction_of_products_alone.unit = "of the products' rate alone"

    def track_sample_steps_per_second(self, rows, workload_id, implementation):
        if workload_id not in rows:
            workload(workload_id)
        return rows[workload_id][f"{implementation}_per_s"]
    track_sample_steps_per_second.params = (IDS, IMPLEMENTATIONS)
    track_sample_steps_per_second.param_names = ["workload", "implementation"]
    track_sample_steps_per_second.unit = "sample-steps / s"
