"""Moving values between flat buffers."""
from ._jit import kernel


@kernel
def nonnegative(i):
    """max(i, 0): i itself for an index or offset, in a form LLVM knows to be non-negative.
    numba wraps negative indices around (a[-1] is the last element); that select in an index
    would stop the loop around it vectorising."""
    return max(i, 0)


@kernel
def copy(source, target):
    """target[i] = source[i] for every i of source (a loop: numba's slice assignment may copy
    through a temporary, which kernels do not allocate)."""
    for i in range(source.size):
        target[i] = source[i]
