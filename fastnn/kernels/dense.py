"""One dense layer over a block of rows: Z = A W + b forward; dW, db and the input delta backward.

Products call BLAS through ``np.dot`` (SciPy's BLAS) unless ``use_blas`` says plain loops are
faster. A block of one row (the per-sample path) never calls BLAS.
"""
import numpy as np

from ._jit import kernel

BLAS_MIN_WORK = 32768
"""Products of at least this many multiply-adds call BLAS however few rows they have."""
BLAS_MIN_ROWS = 8
"""Blocks of at least this many rows call BLAS for any product: from here BLAS was as fast
as the loops below or faster (much faster into narrow layers, whose short inner loops barely
vectorise); the loops win only for a few rows into a wide layer. The forward product has
loops of its own (forward_loops), with their own crossover."""
FORWARD_LOOP_BYTES = 64
FORWARD_LOOP_MIN_WIDTH = 32
"""A forward product runs as forward_loops, not BLAS, for fewer than BLAS_MIN_ROWS rows, and
for at most FORWARD_LOOP_BYTES of a column's rows (16 float32 rows, 8 float64) into a layer at
least FORWARD_LOOP_MIN_WIDTH wide: BLAS packs W into its own layout on every call, which
costs as much as the products when the rows are few, while into narrow outputs the loops
do not vectorise."""


@kernel
def use_blas(m, k, n):
    """Whether an (m x k) by (k x n) product of a layer calls BLAS."""
    return m > 1 and (m >= BLAS_MIN_ROWS or m * k * n >= BLAS_MIN_WORK)


@kernel
def forward_uses_blas(m, k, n, itemsize):
    """Whether Z = A W for a part of m rows (A: m x k, W: k x n, ``itemsize`` bytes a number)
    calls BLAS rather than forward_loops."""
    return use_blas(m, k, n) and not (m < BLAS_MIN_ROWS or (
        m * itemsize <= FORWARD_LOOP_BYTES and n >= FORWARD_LOOP_MIN_WIDTH))


@kernel
def forward_loops(A, W, b, Z, first, stop):
    """Z[i] = b + A[i] W for the rows first..stop-1, two rows per pass and four rows of W per
    step: each W load serves two rows and each load and store of Z four products."""
    k = A.shape[1]
    n = W.shape[1]
    k_fours = k - k % 4  # the rows of W taken four at a time
    for i in range(first, stop, 2):
        z0 = Z[i]
        a0 = A[i]
        for j in range(n):
            z0[j] = b[j] if b.size > 0 else Z.dtype.type(0.0)
        if i + 1 < stop:
            z1 = Z[i + 1]
            a1 = A[i + 1]
            for j in range(n):
                z1[j] = z0[j]
            for p in range(0, k_fours, 4):
                w0, w1, w2, w3 = W[p], W[p + 1], W[p + 2], W[p + 3]
                s0, s1, s2, s3 = a0[p], a0[p + 1], a0[p + 2], a0[p + 3]
                t0, t1, t2, t3 = a1[p], a1[p + 1], a1[p + 2], a1[p + 3]
                for j in range(n):
                    z0[j] += s0 * w0[j] + s1 * w1[j] + s2 * w2[j] + s3 * w3[j]
                    z1[j] += t0 * w0[j] + t1 * w1[j] + t2 * w2[j] + t3 * w3[j]
            for p in range(k_fours, k):
                w0 = W[p]
                s0, t0 = a0[p], a1[p]
                for j in range(n):
                    z0[j] += s0 * w0[j]
                    z1[j] += t0 * w0[j]
        else:
            for p in range(0, k_fours, 4):
                w0, w1, w2, w3 = W[p], W[p + 1], W[p + 2], W[p + 3]
                s0, s1, s2, s3 = a0[p], a0[p + 1], a0[p + 2], a0[p + 3]
                for j in range(n):
                    z0[j] += s0 * w0[j] + s1 * w1[j] + s2 * w2[j] + s3 * w3[j]
            for p in range(k_fours, k):
                w0 = W[p]
                s0 = a0[p]
                for j in range(n):
                    z0[j] += s0 * w0[j]


@kernel(blas=True)
def dense_forward(A, W, b, Z, part_rows):
    """Z = A W + b (A: m x k, W: k x n, b: n or empty for no bias, Z: m x n), by BLAS or by
    forward_loops, one product per part of ``part_rows`` rows: a part's rows come out the same
    whether it runs alone (on a thread of its own) or in a block of several parts. (BLAS's
    rounding of a row depends on how many rows the product has, and where the row is in it.)
    """
    m, k = A.shape
    n = W.shape[1]
    for first in range(0, m, part_rows):
        stop = min(first + part_rows, m)
        if forward_uses_blas(stop - first, k, n, Z.itemsize):
            np.dot(A[first:stop], W, Z[first:stop])
            if b.size > 0:
                for i in range(first, stop):
                    for j in range(n):
                        Z[i, j] += b[j]
        else:
            forward_loops(A, W, b, Z, first, stop)


@kernel(blas=True)
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


@kernel
def column_sums(D, db):
    """db = sum over the rows of D (row after row)."""
    m, n = D.shape
    zero = db.dtype.type(0.0)
    for j in range(n):
        db[j] = zero
    for i in range(m):
        for j in range(n):
            db[j] += D[i, j]


@kernel(blas=True)
def dense_backward(A, D, W, dW, db, D_in, dW_part, db_part, accumulate, need_input_delta,
                   part_rows):
    """dW (+)= A^T D, db (+)= sum over rows of D, and D_in = D W^T if ``need_input_delta``.

    The rows go in parts of ``part_rows``: each part's dW and db are formed on their own and
    added in order (dW = part 0 + part 1 + ...), and each part's D_in is a product of its own,
    the arithmetic of threads that each take one part (fastnn.kernels.threaded).
    ``accumulate`` adds to dW/db (a batch split into blocks) instead of overwriting them;
    ``dW_part``/``db_part`` hold a part's before it is added.
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
        for first in range(0, m, part_rows):  # one product per part, as dense_forward
            stop = min(first + part_rows, m)
            if use_blas(stop - first, k, n):
                np.dot(D[first:stop], W.T, D_in[first:stop])
            else:
                zero = W.dtype.type(0.0)
                for i in range(first, stop):
                    for p in range(k):
                        s = zero
                        for j in range(n):
                            s += D[i, j] * W[p, j]
                        D_in[i, p] = s
