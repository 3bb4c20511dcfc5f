"""Activations and their derivatives, elementwise over flat arrays (formulas in fastnn._registry)."""
from .._jit import kernel
from .._registry import LEAKY_RELU, LEAKY_RELU_SLOPE, LINEAR, RELU, SIGMOID, TANH
from .elementary import vexp, vtanh


@kernel
def activate(code, z, a, n_cols):
    """a = f(z) for a flat block of rows of ``n_cols``; z and a may be the same array.

    Softmax is taken row by row: a_j = exp(z_j - max z) / sum_k exp(z_k - max z), the
    exponentials in one loop over the block (a row of 10 is too short to vectorise).
    """
    one = a.dtype.type(1.0)
    zero = a.dtype.type(0.0)
    n = z.size
    if code == SIGMOID:
        for i in range(n):
            a[i] = one / (one + vexp(-z[i]))
    elif code == TANH:
        for i in range(n):
            a[i] = vtanh(z[i])
    elif code == RELU:
        for i in range(n):
            a[i] = z[i] if z[i] > zero else zero
    elif code == LEAKY_RELU:
        slope = a.dtype.type(LEAKY_RELU_SLOPE)
        for i in range(n):
            a[i] = z[i] if z[i] > zero else slope * z[i]
    elif code == LINEAR:
        for i in range(n):
            a[i] = z[i]
    else:  # SOFTMAX
        subtract_row_peaks(z, a, n_cols)
        for i in range(n):
            a[i] = vexp(a[i])
        for start in range(0, n, n_cols):
            row = a[start:start + n_cols]
            total = zero
            for j in range(n_cols):
                total += row[j]
            for j in range(n_cols):
                row[j] = row[j] / total


@kernel(inline=True)
def subtract_row_peaks(z, out, n_cols):
    """out_j = z_j - max z for each row of ``n_cols`` of the flat block z; returns nothing
    (out may be z)."""
    for start in range(0, z.size, n_cols):
        row_z = z[start:start + n_cols]
        row_out = out[start:start + n_cols]
        peak = row_z[0]
        for j in range(1, n_cols):
            peak = max(peak, row_z[j])
        for j in range(n_cols):
            row_out[j] = row_z[j] - peak


@kernel
def multiply_derivative(code, a, d):
    """d *= f'(z), with f' written in terms of the activation a = f(z) (not for softmax)."""
    one = a.dtype.type(1.0)
    zero = a.dtype.type(0.0)
    n = a.size
    if code == SIGMOID:
        for i in range(n):
            d[i] *= a[i] * (one - a[i])
    elif code == TANH:
        for i in range(n):
            d[i] *= one - a[i] * a[i]
    elif code == RELU:
        for i in range(n):
            d[i] = d[i] if a[i] > zero else zero
    elif code == LEAKY_RELU:
        slope = a.dtype.type(LEAKY_RELU_SLOPE)
        for i in range(n):
            d[i] = d[i] if a[i] > zero else slope * d[i]
    # LINEAR: f' = 1, nothing to do.


@kernel(inline=True)
def activate_range(code, a, start, size):
    """a[start + i] = f(a[start + i]) in place for i < size, for an elementwise activation
    (softmax, whose layout is the caller's, and linear are left alone). Inlined into the fused
    loops of fastnn.kernels.per_sample and fastnn.kernels.narrow, with exp and tanh that
    vectorise. (The loops count from 0 and add ``start``: a loop over range(start, stop)
    does not vectorise, as numba cannot tell that its index is never negative. Nor can LLVM
    always tell that start + i does not overflow, which keeps numba's wraparound of negative
    indices; in a large function that makes the loop gather and scatter. There, pass a view
    and start 0: per_sample's few elements run faster without making a view.)"""
    one = a.dtype.type(1.0)
    zero = a.dtype.type(0.0)
    if code == SIGMOID:
        for i in range(size):
            a[start + i] = one / (one + vexp(-a[start + i]))
    elif code == TANH:
        for i in range(size):
            a[start + i] = vtanh(a[start + i])
    elif code == RELU:
        for i in range(size):
            a[start + i] = a[start + i] if a[start + i] > zero else zero
    elif code == LEAKY_RELU:
        slope = a.dtype.type(LEAKY_RELU_SLOPE)
        for i in range(size):
            a[start + i] = a[start + i] if a[start + i] > zero else slope * a[start + i]


@kernel(inline=True)
def multiply_derivative_range(code, a, a_start, d, d_start, size):
    """d[d_start + i] *= f'(z) for i < size, f' in terms of a[a_start + i] = f(z) (not for
    softmax). Inlined, as activate_range."""
    one = a.dtype.type(1.0)
    zero = a.dtype.type(0.0)
    if code == SIGMOID:
        for i in range(size):
            d[d_start + i] *= a[a_start + i] * (one - a[a_start + i])
    elif code == TANH:
        for i in range(size):
            d[d_start + i] *= one - a[a_start + i] * a[a_start + i]
    elif code == RELU:
        for i in range(size):
            d[d_start + i] = d[d_start + i] if a[a_start + i] > zero else zero
    elif code == LEAKY_RELU:
        slope = a.dtype.type(LEAKY_RELU_SLOPE)
        for i in range(size):
            d[d_start + i] *= one if a[a_start + i] > zero else slope
