"""fastnn.MLP: the shared API (fastnn.network) running on the compiled kernels."""
import time

import numba
import numpy as np

from . import _registry as reg
from .kernels.narrow import loss_grad_narrow, narrow_fits, train_narrow
from .kernels.parallel import train_parts
from .kernels.per_sample import per_sample_fits, train_rows
from .kernels.training import batch_loss_grad, forward_rows, train_epochs
from .network import Network
from .threads import batch_parts, choice_for, one_blas_thread, wake_threads

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
        grad = np.zeros_like(self._params)
        if narrow_fits(X.shape[0], self._layer_sizes):
            total = loss_grad_narrow(X, T, scale, self._params, grad, self._layer_sizes,
                                     self._w_off, self._b_off, *self._codes(), reg.LOSSES[loss])
            return total, grad
        block_rows = min(X.shape[0], BLOCK_ROWS)
        scratch = np.empty_like(self._params)
        no_order = np.empty(0, np.int64)
        no_rows = np.empty(0, self._dtype)  # rows are read in order: no gather buffers
        total = batch_loss_grad(X, T, no_order, False, 0, X.shape[0], X.shape[0], scale,
                                self._params, grad,
                                scratch, self._layer_sizes, self._w_off, self._b_off,
                                *self._codes(), reg.LOSSES[loss], block_rows,
                                *self._buffers(block_rows), no_rows, no_rows)
        return total, grad

    def _train_epochs(self, X, T, orders, shuffled, batch_size, mean, l2, loss, opt_code,
                      state, hyper, step):
        n_parts = batch_parts(batch_size, self._layer_sizes, BLOCK_ROWS)
        part_rows = -(-batch_size // n_parts)
        block_rows = min(batch_size, BLOCK_ROWS)
        model = (self._layer_sizes, self._w_off, self._b_off, *self._codes(), reg.LOSSES[loss],
                 opt_code, state, hyper, step)
        losses = np.empty(len(orders))
        penalties = np.empty(len(orders))
        grad = np.zeros_like(self._params)
        scratch = np.empty_like(self._params)
        buffers = self._buffers(block_rows) + self._row_buffers(shuffled, block_rows, X, T)

        def epochs(first, count):
            return (X, T, orders[first:first + count], shuffled, count, batch_size, mean,
                    self._dtype.type(l2), self._params, grad)

        if n_parts == 1:
            if narrow_fits(batch_size, self._layer_sizes):
                done = train_narrow(*epochs(0, len(orders)), *model, losses, penalties)
            elif per_sample_fits(batch_size, block_rows, self._layer_sizes):
                done = train_rows(*epochs(0, len(orders)), *model, *buffers[:3], losses,
                                  penalties)
            else:
                done = train_epochs(*epochs(0, len(orders)), scratch, *model, block_rows,
                                    *buffers, losses, penalties, 1)
            return losses[:done], penalties[:done]
        part_buffers = [self._buffers(part_rows) + self._row_buffers(shuffled, part_rows, X, T)
                        for _ in range(n_parts)]
        part_buffers = [np.stack(parts) for parts in zip(*part_buffers)]
        part_grads = (np.zeros((n_parts, grad.size), self._dtype),
                      np.empty((n_parts, grad.size), self._dtype))
        choice = choice_for((tuple(self._sizes), batch_size, self._dtype.name, n_parts))
        done = 0
        while done < len(orders):
            threaded, probe = choice.best()
            count = min(len(orders) - done, choice.epochs(threaded, probe, X.shape[0]))
            run = epochs(done, count)
            results = (losses[done:], penalties[done:])
            with one_blas_thread():
                if threaded:
                    wake_threads()
                compiled = len(train_parts.overloads) + len(train_epochs.overloads)
                started = time.perf_counter()
                if threaded:
                    ran = self._on_threads(n_parts, train_parts, *run, *part_grads, *model,
                                           part_rows, *part_buffers, *results)
                else:
                    ran = train_epochs(*run, scratch, *model, block_rows, *buffers, *results,
                                       n_parts)
                seconds = time.perf_counter() - started
            if len(train_parts.overloads) + len(train_epochs.overloads) == compiled:
                choice.record(threaded, probe, ran * X.shape[0], seconds)  # not compiling
            done += ran
            if ran < count:  # stopped at a non-finite loss
                break
        return losses[:done], penalties[:done]

    def _row_buffers(self, shuffled, rows, X, T):
        """Buffers for ``rows`` shuffled input and target rows gathered together."""
        return (np.empty(rows * X.shape[1] if shuffled else 0, self._dtype),
                np.empty(rows * T.shape[1] if shuffled else 0, self._dtype))

    @staticmethod
    def _on_threads(n_threads, compiled, *arguments):
        """compiled(*arguments) with numba's parallel loops on ``n_threads`` threads."""
        threads = numba.get_num_threads()
        numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
        try:
            return compiled(*arguments)
        finally:
            numba.set_num_threads(threads)
