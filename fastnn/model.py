"""fastnn.MLP: the shared API (fastnn.network) running on the compiled kernels."""
import numpy as np

from . import _registry as reg
from .kernels.training import batch_loss_grad, forward_rows, train_epochs
from .network import Network

BLOCK_ROWS = 1024
"""Rows a kernel pushes through the network at once (bounds activation memory)."""


class MLP(Network):
    """Multilayer perceptron trained by compiled Numba kernels.

    MLP(sizes, hidden="tanh", output="sigmoid", bias=True, init="xavier", seed=None,
        dtype="float64"); see the README for the API and the formulas.
    """

    def _codes(self):
        return reg.ACTIVATIONS[self._hidden], reg.ACTIVATIONS[self._output]

    def _buffers(self, block_rows):
        """Activation, delta and output-z buffers for blocks of up to ``block_rows`` rows (the
        activations with room for the input rows, which the per-sample path copies there)."""
        width = block_rows * sum(self._sizes[1:])
        return (np.empty(width + block_rows * self._sizes[0], self._dtype),
                np.empty(width, self._dtype),
                np.empty(block_rows * self._sizes[-1], self._dtype))

    def _forward(self, X):
        block_rows = min(X.shape[0], BLOCK_ROWS)
        acts, _, z_out = self._buffers(block_rows)
        out = np.empty((X.shape[0], self._sizes[-1]), self._dtype)
        forward_rows(X, self._params, self._layer_sizes, self._w_off, self._b_off,
                     *self._codes(), block_rows, acts, z_out, out)
        return out

    def _loss_grad(self, X, T, loss, scale):
        block_rows = min(X.shape[0], BLOCK_ROWS)
        grad = np.zeros_like(self._params)
        scratch = np.empty_like(self._params)
        no_order = np.empty(0, np.int64)
        no_rows = np.empty(0, self._dtype)  # rows are read in order: no gather buffers
        total = batch_loss_grad(X, T, no_order, False, 0, X.shape[0], scale, self._params, grad,
                                scratch, self._layer_sizes, self._w_off, self._b_off,
                                *self._codes(), reg.LOSSES[loss], block_rows,
                                *self._buffers(block_rows), no_rows, no_rows)
        return total, grad

    def _train_epochs(self, X, T, orders, shuffled, batch_size, mean, l2, loss, opt_code,
                      state, hyper, step):
        block_rows = min(batch_size, BLOCK_ROWS)
        x_buf = np.empty(block_rows * X.shape[1] if shuffled else 0, self._dtype)
        t_buf = np.empty(block_rows * T.shape[1] if shuffled else 0, self._dtype)
        losses = np.empty(orders.shape[0])
        penalties = np.empty(orders.shape[0])
        done = train_epochs(X, T, orders, shuffled, orders.shape[0], batch_size, mean,
                            self._dtype.type(l2), self._params, np.zeros_like(self._params),
                            np.empty_like(self._params), self._layer_sizes, self._w_off,
                            self._b_off, *self._codes(), reg.LOSSES[loss], opt_code, state,
                            hyper, step, block_rows, *self._buffers(block_rows), x_buf, t_buf,
                            losses, penalties)
        return losses[:done], penalties[:done]
