"""asv: the first call of each startup case (fastnn.tools.startup) in a new process.

``track_cold_seconds``: with an empty Numba cache folder, so the call compiles the kernels it
needs. ``track_warm_seconds``: with that folder filled by the cold process, so the call loads
them. Both are timed inside the new process, after its imports; scikit-learn's first fit is
one of the cases, measured in the same run.
"""
from fastnn.tools import startup

NAMES = [case.name for case in startup.CASES]


class Startup:
    params = NAMES
    param_names = ["case"]
    timeout = 300
    unit = "seconds"

    def setup_cache(self):
        return {case.name: startup.measure(case) for case in startup.CASES
                if not case.missing_requirements()}

    def track_cold_seconds(self, rows, name):
        return self._row(rows, name)["cold_s"]

    def track_warm_seconds(self, rows, name):
        return self._row(rows, name)["warm_s"]

    @staticmethod
    def _row(rows, name):
        if name not in rows:
            raise NotImplementedError(
                f"{name} needs {', '.join(startup.case_named(name).missing_requirements())}")
        return rows[name]
