"""fastnn.MLP: the shared API (fastnn.network) running on the compiled kernels."""
import time

import numba
import numpy as np

from . import _registry as reg
from .kernels.parallel import train_parts
from .kernels.training import batch_loss_grad, forward_rows, train_epochs
from .network import Network
from .threads import batch_parts, choice_for, one_blas_thread

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
        n_parts = batch_parts(batch_size, self._sizes)
        block_rows = min(-(-batch_size // n_parts), BLOCK_ROWS)
        x_buf = np.empty((n_parts, block_rows * X.shape[1] if shuffled else 0), self._dtype)
        t_buf = np.empty((n_parts, block_rows * T.shape[1] if shuffled else 0), self._dtype)
        losses = np.empty(orders.shape[0])
        penalties = np.empty(orders.shape[0])
        grad = np.zeros_like(self._params)
        arguments = (X, T, orders, shuffled, orders.shape[0], batch_size, mean,
                     self._dtype.type(l2), self._params, grad)
        model = (self._layer_sizes, self._w_off, self._b_off, *self._codes(), reg.LOSSES[loss],
                 opt_code, state, hyper, step, block_rows)
        if n_parts == 1:
            done = train_epochs(*arguments, np.empty_like(self._params), *model,
                                *self._buffers(block_rows), x_buf[0], t_buf[0], losses,
                                penalties)
            return losses[:done], penalties[:done]
        parts = [self._buffers(block_rows) for _ in range(n_parts)]
        arrays = (np.zeros((n_parts, grad.size), self._dtype),
                  np.empty((n_parts, grad.size), self._dtype), *model,
                  *(np.stack(buffers) for buffers in zip(*parts)), x_buf, t_buf)
        choice = choice_for((tuple(self._sizes), batch_size, self._dtype.name, n_parts))
        done = 0
        while done < orders.shape[0]:
            threaded, probe = choice.best()
            count = 1 if probe else orders.shape[0] - done
            ran, seconds = self._run_parts(
                (X, T, orders[done:done + count], shuffled, count, *arguments[5:]), arrays,
                losses[done:], penalties[done:],
                min(n_parts, numba.config.NUMBA_NUM_THREADS) if threaded else 1)
            if seconds is not None:
                choice.record(threaded, probe, ran * X.shape[0], seconds)
            done += ran
            if ran < count:  # stopped at a non-finite loss
                break
        return losses[:done], penalties[:done]

    @staticmethod
    def _run_parts(run, arrays, losses, penalties, threads):
        """train_parts on ``threads`` threads, BLAS on one; returns (epochs run, seconds),
        seconds None when the call compiled or loaded code."""
        numba_threads = numba.get_num_threads()
        compiled = len(train_parts.signatures)
        started = time.perf_counter()
        with one_blas_thread():
            numba.set_num_threads(threads)
            try:
                done = train_parts(*run, *arrays, losses, penalties)
            finally:
                numba.set_num_threads(numba_threads)
        seconds = time.perf_counter() - started
        return done, None if len(train_parts.signatures) > compiled else seconds
