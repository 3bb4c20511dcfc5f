"""exp, expm1, tanh and log1p written out, so that a loop over them vectorises.

numba calls libm's scalar exp (about 3.6 ns), tanh (7-27 ns) and log1p (8 ns) once per
element; written out in plain arithmetic, LLVM inlines them and runs 4 (float64) or 8
(float32) elements per AVX2 instruction. ``vexp(x)``, ``vexpm1(x)``, ``vtanh(x)`` and
``vlog1p(x)`` take a
float32 or float64 scalar and return the same type, within about 1 ulp of libm (relative
error below 1e-15 in float64, 3e-7 in float32), with infinities, overflow, underflow and NaN
as libm. Called from Python (NUMBA_DISABLE_JIT) they are NumPy's.
"""
import math

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

from ._jit import ERROR_MODEL, ORDERED_FASTMATH


def vexp(x):
    """exp(x), vectorisable in a compiled loop."""
    return np.exp(x)


def vexpm1(x):
    """exp(x) - 1, accurate near 0, vectorisable in a compiled loop."""
    return np.expm1(x)


def vtanh(x):
    """tanh(x), vectorisable in a compiled loop."""
    return np.tanh(x)


def vlog1p(x):
    """log(1 + x), vectorisable in a compiled loop."""
    return np.log1p(x)


def _layout(float_type):
    """(LLVM integer type of the same width, mantissa bits, exponent bias) of a float type."""
    bits = float_type.bitwidth
    return (ir.IntType(bits),) + ((52, 1023) if bits == 64 else (23, 127))


@intrinsic
def _pow2(typingctx, n):
    """2**n for a float n holding an integer in the normal exponent range (bits set
    directly: the exponent field is n + bias)."""
    if not isinstance(n, types.Float):
        return None

    def codegen(context, builder, signature, args):
        int_type, mantissa, bias = _layout(n)
        exponent = builder.add(builder.fptosi(args[0], int_type), ir.Constant(int_type, bias))
        field = builder.shl(exponent, ir.Constant(int_type, mantissa))
        return builder.bitcast(field, context.get_value_type(n))

    return n(n), codegen


@intrinsic
def _mantissa(typingctx, y):
    """m in [1, 2) with y = m 2^k, for a positive normal float y (its exponent field set to
    the bias)."""
    if not isinstance(y, types.Float):
        return None

    def codegen(context, builder, signature, args):
        int_type, mantissa, bias = _layout(y)
        field = builder.and_(builder.bitcast(args[0], int_type),
                             ir.Constant(int_type, (1 << mantissa) - 1))
        field = builder.or_(field, ir.Constant(int_type, bias << mantissa))
        return builder.bitcast(field, context.get_value_type(y))

    return y(y), codegen


@intrinsic
def _exponent(typingctx, y):
    """k (as a float) with y = m 2^k, m in [1, 2), for a positive normal float y."""
    if not isinstance(y, types.Float):
        return None

    def codegen(context, builder, signature, args):
        int_type, mantissa, bias = _layout(y)
        field = builder.lshr(builder.bitcast(args[0], int_type), ir.Constant(int_type, mantissa))
        exponent = builder.sub(field, ir.Constant(int_type, bias))
        return builder.sitofp(exponent, context.get_value_type(y))

    return y(y), codegen


# exp(x) = 2^n exp(r), n = round(x / ln 2), r = x - n ln 2 (|r| <= ln2 / 2; ln 2 in two parts,
# the first exact times n); exp(r) - 1 by its Taylor series to r^13 (float32: r^7), whose
# remainder is below 2^-53 (2^-24) of exp(r); 2^n applied in two halves, so that n from -1075
# to 1024 (exp's whole range) never leaves the normal exponents.
_EXP = {
    64: dict(low=-746.0, high=710.0, ln2_hi=0.693147180369123816490,
             ln2_lo=1.90821492927058770002e-10, degree=13),
    32: dict(low=-104.0, high=89.0, ln2_hi=0.693145751953125,
             ln2_lo=1.428606765330187045e-06, degree=7),
}
# expm1(x) = 2^n (exp(r) - 1) + (2^n - 1) for x <= 1 (exact near 0, where n = 0), with x
# capped at -40 (below it expm1 is -1 to the last bit in both types); above 1, exp(x) - 1 as
# vexp forms exp(x), from the same n and r.
_EXPM1_LOW = -40.0
# tanh(x) = sign(x) e / (e + 2), e = exp(2|x|) - 1 = 2^n (exp(r) - 1) + (2^n - 1), accurate
# near 0 too; |x| is capped at 20, where tanh is 1 to the last bit in both types.
_TANH_CAP = 20.0
# log1p(x) = k ln 2 + log(m) + c: y = 1 + x = m 2^k with m in [sqrt(1/2), sqrt(2)), c = (x - (y
# - 1)) / y the rounding of y; log(m) = 2 atanh(f) = 2 (f + f^3/3 + f^5/5 + ...), f = (m - 1) /
# (m + 1), |f| <= 0.172, to f^21 (float32: f^11), whose remainder is below 2^-53 (2^-24).
_LOG1P_TERMS = {64: 10, 32: 5}
# The order of operations is the accuracy here (p 2^n1 2^n2 must not become p 2^(n1+n2),
# which overflows; 2^n q + (2^n - 1) must not become 2^n (q + 1) - 1), so no "reassoc".
_JIT_OPTIONS = {"fastmath": ORDERED_FASTMATH, "error_model": ERROR_MODEL}


def _constants(x):
    f = np.float32 if x.bitwidth == 32 else np.float64
    c = _EXP[x.bitwidth]
    taylor = tuple(f(1 / math.factorial(k)) for k in range(c["degree"], 0, -1))
    return (f, f(c["low"]), f(c["high"]), f(c["ln2_hi"]), f(c["ln2_lo"]), f(1 / math.log(2)),
            taylor)


@overload(vexp, jit_options=_JIT_OPTIONS)
def _vexp(x):
    if not isinstance(x, types.Float):
        return None
    f, low, high, ln2_hi, ln2_lo, log2e, taylor = _constants(x)
    half, one = f(0.5), f(1.0)

    def impl(x):
        x = low if x < low else x  # comparisons keep NaN
        x = high if x > high else x
        n = np.rint(x * log2e)
        r = (x - n * ln2_hi) - n * ln2_lo
        q = taylor[0]
        for coefficient in taylor[1:]:
            q = q * r + coefficient
        n1 = np.floor(n * half)
        return (q * r + one) * _pow2(n1) * _pow2(n - n1)

    return impl


@overload(vexpm1, jit_options=_JIT_OPTIONS)
def _vexpm1(x):
    if not isinstance(x, types.Float):
        return None
    f, _, high, ln2_hi, ln2_lo, log2e, taylor = _constants(x)
    half, one, low = f(0.5), f(1.0), f(_EXPM1_LOW)

    def impl(x):
        y = low if x < low else x  # comparisons keep NaN
        y = high if y > high else y
        n = np.rint(y * log2e)
        r = (y - n * ln2_hi) - n * ln2_lo
        q = taylor[0]
        for coefficient in taylor[1:]:
            q = q * r + coefficient
        qr = q * r  # exp(r) - 1
        scale = _pow2(n)  # inf for the largest n, where only `far` is taken
        near = scale * qr + (scale - one)
        n1 = np.floor(n * half)
        far = (qr + one) * _pow2(n1) * _pow2(n - n1) - one
        return far if x > one else near  # both computed, then selected: that vectorises

    return impl


@overload(vtanh, jit_options=_JIT_OPTIONS)
def _vtanh(x):
    if not isinstance(x, types.Float):
        return None
    f, _, _, ln2_hi, ln2_lo, log2e, taylor = _constants(x)
    one, two, cap = f(1.0), f(2.0), f(_TANH_CAP)

    def impl(x):
        a = abs(x)
        a = cap if a > cap else a  # keeps NaN
        y = a + a
        n = np.rint(y * log2e)
        r = (y - n * ln2_hi) - n * ln2_lo
        q = taylor[0]
        for coefficient in taylor[1:]:
            q = q * r + coefficient
        scale = _pow2(n)
        e = scale * (q * r) + (scale - one)
        return math.copysign(e / (e + two), x)

    return impl


@overload(vlog1p, jit_options=_JIT_OPTIONS)
def _vlog1p(x):
    if not isinstance(x, types.Float):
        return None
    f, _, _, ln2_hi, ln2_lo, _, _ = _constants(x)
    zero, half, one, two = f(0.0), f(0.5), f(1.0), f(2.0)
    root2, inf, nan = f(math.sqrt(2.0)), f(np.inf), f(np.nan)
    series = tuple(f(1 / (2 * k + 1)) for k in range(_LOG1P_TERMS[x.bitwidth], 0, -1))

    def impl(x):
        y = one + x
        m = _mantissa(y)
        k = _exponent(y)
        k = k + one if m > root2 else k
        m = m * half if m > root2 else m
        g = (m - one) / (m + one)
        s = g * g
        q = series[0]
        for coefficient in series[1:]:
            q = q * s + coefficient
        log_m = two * g * (q * s + one)
        result = k * ln2_hi + (log_m + (k * ln2_lo + (x - (y - one)) / y))
        result = x if y == inf else result  # x = inf; NaN stays NaN below
        result = -inf if y == zero else result
        return nan if y < zero else result

    return impl
