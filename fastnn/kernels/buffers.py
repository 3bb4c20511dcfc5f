"""Moving values between flat buffers.

Offsets into flat buffers are written max(i, 0) where a loop indexes with them: i itself, in
a form LLVM knows to be non-negative. numba wraps negative indices around (a[-1] is the last
element); that select in an index would stop the loop around it vectorising.
"""
from ._jit import kernel


@kernel
def copy(source, target):
    """target[i] = source[i] for every i of source (a loop: numba's slice assignment may copy
    through a temporary, which kernels do not allocate)."""
    for i in range(source.size):
        target[i] = source[i]
