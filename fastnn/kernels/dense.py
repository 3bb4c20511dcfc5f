"""One dense layer over a block of rows: Z = A W + b forward; dW, db and the input delta backward.

Products call BLAS through ``np.dot`` (SciPy's BLAS) unless ``use_blas`` says plain loops are
faster. A block of one row (the per-sample path) never calls BLAS.
"""
import numpy as np

from .._jit import kernel

BLAS_MIN_WORK = 32768
"""Products of at least this many multiply-adds call BLAS however few rows they have."""
BLAS_MIN_ROWS = 8
"""Blocks of at least this many rows call BLAS for any product. Measured (float32 and float64,
this machine): a BLAS call costs ~0.07 us, and for 8 or more rows it is as fast as the loops
below or faster, by up to 8x where the layer is narrow (32 x 64 x 10: 0.9 us against 6.9 us;
an inner loop 10 wide barely vectorises). The loops win only for a few rows into a wide
layer (4 x 64 x 64: 1.0 us against 1.5 us)."""


@kernel(inline=True)
def use_blas(m, k, n):
    """Whether an (m x k) by (k x n) product of a layer calls BLAS."""
    return m > 1 and (m >= BLAS_MIN_ROWS or m * k * n >= BLAS_MIN_WORK)


@kernel
def dense_forward(A, W, b, Z, part_rows):
    """Z = A W + b (A: m x k, W: k x n, b: n or empty for no bias, Z: m x n), by BLAS or by
    loops as for ``part_rows`` rows (so the rows of a part come out the same whether the
    part runs alone or in a block of several; BLAS gives each row the same result whatever m).
    """
    m, k = A.shape
    n = W.shape[1]
    if use_blas(min(m, part_rows), k, n):
        np.dot(A, W, Z)
    else:
        zero = Z.dtype.type(0.0)
        for i in range(m):
            for j in range(n):
                Z[i, j] = zero
            for p in range(k):
                a = A[i, p]
                for j in range(n):
                    Z[i, j] += a * W[p, j]
    if b.size > 0:
        for i in range(m):
            for j in range(n):
                Z[i, j] += b[j]


@kernel(inline=True)
def weight_gradient(A, D, dW):
    """dW = A^T D."""
    m, k = A.shape
    n = D.shape[1]
    if use_blas(m, k, n):
        np.dot(A.T, D, dW)
    else:
        zero = dW.dtype.type(0.0)
        for p in range(k):
            for j in range(n):
                dW[p, j] = zero
        for i in range(m):
            for p in range(k):
                a = A[i, p]
                for j in range(n):
                    dW[p, j] += a * D[i, j]


@kernel(inline=True)
def column_sums(D, db):
    """db = sum over the rows of D (row after row)."""
    m, n = D.shape
    zero = db.dtype.type(0.0)
    for j in range(n):
        db[j] = zero
    for i in range(m):
        for j in range(n):
            db[j] += D[i, j]


@kernel
def dense_backward(A, D, W, dW, db, D_in, dW_part, db_part, accumulate, need_input_delta,
                   part_rows):
    """dW (+)= A^T D, db (+)= sum over rows of D, and D_in = D W^T if ``need_input_delta``.

    The rows go in parts of ``part_rows``: each part's dW and db are formed on their own and
    added in order (dW = part 0 + part 1 + ...), the arithmetic of threads that each form one
    part (fastnn.kernels.parallel). ``accumulate`` adds to dW/db (a batch split into blocks)
    instead of overwriting them; ``dW_part``/``db_part`` hold a part's before it is added.
    """
    m, k = A.shape
    n = W.shape[1]
    for first in range(0, m, part_rows):
        stop = min(first + part_rows, m)
        if accumulate or first > 0:
            weight_gradient(A[first:stop], D[first:stop], dW_part)
            for p in range(k):
                for j in range(n):
                    dW[p, j] += dW_part[p, j]
            if db.size > 0:
                column_sums(D[first:stop], db_part)
                for j in range(n):
                    db[j] += db_part[j]
        else:
            weight_gradient(A[first:stop], D[first:stop], dW)
            if db.size > 0:
                column_sums(D[first:stop], db)
    if need_input_delta:
        if use_blas(min(m, part_rows), k, n):
            np.dot(D, W.T, D_in)
        else:
            zero = W.dtype.type(0.0)
            for i in range(m):
                for p in range(k):
                    s = zero
                    for j in range(n):
                        s += D[i, j] * W[p, j]
                    D_in[i, p] = s
