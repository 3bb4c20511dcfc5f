"""asv: many networks at once (fastnn.MLPStack), as ``python -m fastnn bench --stack --quick``
measures them in one run (fastnn.tools.stacks): the stack's aggregate sample-steps/s over
one fastnn.MLP's and over as many fastnn.MLP fits one after another."""
from fastnn.tools import stacks

from ._common import workload

NAMES = [f"{case.n_models}x{case.workload}" for case in stacks.CASES]


class Stack:
    timeout = 900

    def setup_cache(self):
        rows = stacks.run(quick=True, repeat=3, out=lambda *_: None)
        return {f"{row['n_models']}x{row['workload']}": row for row in rows}

    def track_ratio(self, rows, name, versus):
        if name not in rows:
            workload(name.split("x")[1])  # skipped for a missing extra
        return rows[name][f"stack_vs_{versus}"]
    track_ratio.params = (NAMES, ["one", "sequential"])
    track_ratio.param_names = ["stack", "versus"]
    track_ratio.unit = "stacked / fastnn.MLP"
