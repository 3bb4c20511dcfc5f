"""The exp, expm1, tanh and log1p written out so loops over them vectorise
(fastnn.kernels.elementary): as accurate as libm, and no libm call left."""
import re

import numpy as np
import pytest

from fastnn.kernels.elementary import vexp, vexpm1, vlog1p, vtanh

DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("dtype", DTYPES)
def test_vexp_vexpm1_vtanh_vlog1p_match_libm(dtype):
    from numba import njit

    @njit(error_model="numpy")
    def apply(x, e, m, t, l):
        for i in range(x.size):
            e[i] = vexp(x[i])
            m[i] = vexpm1(x[i])
            t[i] = vtanh(x[i])
            l[i] = vlog1p(x[i])

    rng = np.random.default_rng(28)
    special = [0.0, -0.0, 1e-300, -1e-30, 1e-8, 0.3465, 0.4142, 0.625, 1.0, -1.0 + 1e-12,
               1.0 + 1e-12, -39.9, -40.1, 19.9, 20.1, 88.72, 88.73,
               -87.4, -103.9, -104.5, 709.78, 709.79, 710.0, -708.4, -744.4, -745.2, -746.0,
               -0.5, -0.9999999, -1.0, -1.5, 1e6, -1e6, 3e38, 1e300, np.inf, -np.inf, np.nan]
    x = np.concatenate([rng.uniform(-800, 800, 20000), rng.normal(0, 3, 20000),
                        10.0 ** rng.uniform(-30, 2, 20000) * rng.choice([-1, 1], 20000),
                        -rng.uniform(0, 1, 20000), special])
    with np.errstate(over="ignore"):
        x = x.astype(dtype)
    e, m, t, l = (np.empty_like(x) for _ in range(4))
    apply(x, e, m, t, l)
    assert e.dtype == m.dtype == t.dtype == l.dtype == dtype
    tolerance = 4 * np.finfo(dtype).eps
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for mine, theirs in ((e, np.exp(x)), (m, np.expm1(x)), (t, np.tanh(x)),
                             (l, np.log1p(x))):
            assert np.array_equal(np.isnan(mine), np.isnan(theirs))
            assert np.array_equal(np.isinf(mine), np.isinf(theirs))
            assert np.array_equal(mine[np.isinf(theirs)], theirs[np.isinf(theirs)])
            normal = np.isfinite(theirs) & (np.abs(theirs) >= np.finfo(dtype).tiny)
            rel = np.abs(mine[normal] - theirs[normal]) / np.abs(theirs[normal])
            assert rel.max() < tolerance, x[normal][rel.argmax()]
            # below the normal range (exp's underflow, tiny x): within one subnormal step
            tiny = np.isfinite(theirs) & ~normal
            assert (np.abs(mine[tiny] - theirs[tiny]) <= np.finfo(dtype).smallest_subnormal).all()


def test_elementary_loops_call_no_libm():
    """Written out, not libm calls, so loops over them vectorise."""
    from numba import njit

    @njit(fastmath=True, error_model="numpy")
    def apply(x, out):
        for i in range(x.size):
            out[i] = vexp(x[i]) + vexpm1(x[i]) + vtanh(x[i]) + vlog1p(x[i])

    for dtype in DTYPES:
        x = np.ones(8, dtype)
        apply(x, x.copy())
        ir = apply.inspect_llvm(apply.signatures[-1])
        assert not any(f"@{name}" in ir for name in ("exp", "expm1", "tanh", "log1p", "llvm.exp",
                                                      "llvm.log"))
        assert re.search(r"<\d+ x (float|double)>", ir), "the loop did not vectorise"
        if dtype == np.float32:
            assert "fpext float" not in ir
