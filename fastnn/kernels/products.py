"""The matrix products of batched training alone, through BLAS: the benchmarks' measure of
what any implementation that multiplies through this BLAS can reach (fastnn.tools.bench).

A training batch of m rows through layers k -> n takes, per layer, the forward product
Z = A W (m x k by k x n) and the weight gradient dW = A^T D (k x m by m x n), and, for every
layer but the first, the delta passed back, D_in = D W^T (m x n by n x k): 6 k n m flops,
the rest of training (activations, loss, update) none of BLAS's.
"""
import numpy as np

from ._jit import kernel


@kernel(blas=True)
def batch_products(sizes, params, grad, acts, deltas, rows, n_batches):
    """The products of ``n_batches`` batches of ``rows`` rows through layers ``sizes``
    (int64), the weights flat in ``params`` (each layer's k x n in turn), their gradients in
    ``grad``; ``acts`` and ``deltas`` hold rows x sizes[l] for every layer l, in turn."""
    n_layers = sizes.size - 1
    for _ in range(n_batches):
        w_start = 0
        a_start = 0
        for layer in range(n_layers):
            k, n = sizes[layer], sizes[layer + 1]
            A = acts[a_start:a_start + rows * k].reshape((rows, k))
            Z = acts[a_start + rows * k:a_start + rows * (k + n)].reshape((rows, n))
            np.dot(A, params[w_start:w_start + k * n].reshape((k, n)), Z)
            w_start += k * n
            a_start += rows * k
        for layer in range(n_layers - 1, -1, -1):
            k, n = sizes[layer], sizes[layer + 1]
            w_start -= k * n
            a_start -= rows * k
            A = acts[a_start:a_start + rows * k].reshape((rows, k))
            D = deltas[a_start + rows * k:a_start + rows * (k + n)].reshape((rows, n))
            np.dot(A.T, D, grad[w_start:w_start + k * n].reshape((k, n)))
            if layer > 0:
                W = params[w_start:w_start + k * n].reshape((k, n))
                np.dot(D, W.T, deltas[a_start:a_start + rows * k].reshape((rows, k)))
