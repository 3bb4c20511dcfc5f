"""One dense layer over a block of rows: Z = A W + b forward; dW, db and the input delta backward.

Small products run as plain loops (unit-stride inner loops that vectorise); products of at
least ``BLAS_MIN_WORK`` multiply-adds call BLAS through ``np.dot`` (SciPy's BLAS), where the
call overhead is paid back. A block of one row (the per-sample path) never calls BLAS.
"""
import numpy as np

from .._jit import kernel

BLAS_MIN_WORK = 32768


@kernel
def dense_forward(A, W, b, Z):
    """Z = A W + b (A: m x k, W: k x n, b: n or empty for no bias, Z: m x n)."""
    m, k = A.shape
    n = W.shape[1]
    if m > 1 and m * k * n >= BLAS_MIN_WORK:
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


@kernel
def dense_backward(A, D, W, dW, db, D_in, scratch, accumulate, need_input_delta):
    """dW (+)= A^T D, db (+)= sum over rows of D, and D_in = D W^T if ``need_input_delta``.

    ``accumulate`` adds to dW/db (a batch split into blocks) instead of overwriting them;
    ``scratch`` (shaped like dW) holds the BLAS product before it is added.
    """
    m, k = A.shape
    n = W.shape[1]
    zero = W.dtype.type(0.0)
    if m > 1 and m * k * n >= BLAS_MIN_WORK:
        if accumulate:
            np.dot(A.T, D, scratch)
            for p in range(k):
                for j in range(n):
                    dW[p, j] += scratch[p, j]
        else:
            np.dot(A.T, D, dW)
    else:
        if not accumulate:
            for p in range(k):
                for j in range(n):
                    dW[p, j] = zero
        for i in range(m):
            for p in range(k):
                a = A[i, p]
                for j in range(n):
                    dW[p, j] += a * D[i, j]
    if db.size > 0:
        if not accumulate:
            for j in range(n):
                db[j] = zero
        for i in range(m):
            for j in range(n):
                db[j] += D[i, j]
    if need_input_delta:
        if m > 1 and m * k * n >= BLAS_MIN_WORK:
            np.dot(D, W.T, D_in)
        else:
            for i in range(m):
                for p in range(k):
                    s = zero
                    for j in range(n):
                        s += D[i, j] * W[p, j]
                    D_in[i, p] = s
