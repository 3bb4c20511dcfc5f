"""A one-line compiled function and nothing else: its first call in a new process costs what
numba itself costs before any of fastnn's kernels (fastnn.tools.startup's floor)."""
import numba


@numba.njit(cache=True)
def add_one(x):
    """x + 1."""
    return x + 1.0
