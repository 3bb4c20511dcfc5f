"""The one place that says how kernels are compiled."""
import functools

import numba

# As STUMPY: fast-math without nnan/ninf, so NaN/inf checks keep working.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}

kernel = functools.partial(numba.njit, cache=True, fastmath=FASTMATH, nogil=True)
"""Decorator for every compiled kernel: ``@kernel``."""
