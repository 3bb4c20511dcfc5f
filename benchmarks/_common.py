"""What the asv suites share."""
from fastnn.tools.workloads import WORKLOADS


def workload(workload_id):
    """The workload, or NotImplementedError (asv: skipped) when an optional extra is missing."""
    w = WORKLOADS[workload_id]
    if w.missing_requirements():
        raise NotImplementedError(f"{workload_id} needs {', '.join(w.missing_requirements())}")
    return w
