"""The dense layer's forward product (fastnn.kernels.dense): BLAS or forward_loops, against
NumPy, and a part's rows the same whether it runs alone or in a block of parts."""
import numpy as np
import pytest

from fastnn.kernels.dense import (BLAS_MIN_ROWS, FORWARD_LOOP_BYTES, FORWARD_LOOP_MIN_WIDTH,
                                  dense_forward, forward_uses_blas)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,part_rows", [(1, 1), (5, 5), (7, 3), (16, 16), (32, 16), (33, 11),
                                         (40, 40)])
@pytest.mark.parametrize("k", [1, 3, 4, 6, 64])
@pytest.mark.parametrize("n", [1, 10, 32, 129])
@pytest.mark.parametrize("bias", [True, False])
def test_forward_against_numpy(dtype, m, part_rows, k, n, bias):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    A = rng.standard_normal((m, k)).astype(dtype)
    W = rng.standard_normal((k, n)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype) if bias else np.empty(0, dtype)
    Z = np.full((m, n), np.nan, dtype)
    dense_forward(A, W, b, Z, part_rows)
    expected = A.astype(np.float64) @ W.astype(np.float64) + (b if bias else 0)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(Z, expected, rtol=tol, atol=tol * np.sqrt(k))
    # each part alone gives the same bits as the block of parts
    for first in range(0, m, part_rows):
        stop = min(first + part_rows, m)
        Z_part = np.empty((stop - first, n), dtype)
        dense_forward(A[first:stop], W, b, Z_part, part_rows)
        np.testing.assert_array_equal(Z_part, Z[first:stop])


def test_forward_crossover():
    """Loops for a few rows, or for a short column of rows into a wide layer; BLAS otherwise."""
    f32, f64 = 4, 8
    wide = FORWARD_LOOP_MIN_WIDTH
    assert not forward_uses_blas(BLAS_MIN_ROWS - 1, 784, 256, f64)
    assert not forward_uses_blas(FORWARD_LOOP_BYTES // f32, 64, wide, f32)
    assert not forward_uses_blas(FORWARD_LOOP_BYTES // f64, 64, wide, f64)
    assert forward_uses_blas(FORWARD_LOOP_BYTES // f32 + 1, 64, wide, f32)
    assert forward_uses_blas(FORWARD_LOOP_BYTES // f64 + 1, 64, wide, f64)
    assert forward_uses_blas(BLAS_MIN_ROWS, 64, wide - 1, f32)
