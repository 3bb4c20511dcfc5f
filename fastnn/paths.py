"""Which compiled path a network's rows take, with what blocking and split: the one place
that decides.

``choose(task, rows, sizes, itemsize)`` answers for training batches of ``rows`` rows
("train"), one loss-and-gradient pass over ``rows`` rows ("loss_grad") and predictions for
``rows`` rows ("forward"). ``fit``, ``loss_and_grad``, ``forward``/``predict`` and the thread
split all ask it, and the kernels never decide again: compiling one path compiles nothing
of the others.

- per-sample (fastnn.kernels.per_sample): training batches of one row, and of up to
  PER_SAMPLE_MAX_ROWS rows whose layers are too small for BLAS to pay: one fused loop nest.
- narrow (fastnn.kernels.narrow): NARROW_MIN_ROWS rows or more through layers all at most
  NARROW_MAX_WIDTH wide, feature-major, in chunks of about CHUNK_BYTES.
- batched (fastnn.kernels.batched): everything else, in row-major blocks of up to BLOCK_ROWS
  rows. A training batch with PARALLEL_MIN_FLOPS of work splits into one part per usable
  thread (fastnn.kernels.threaded); fastnn.threads measures whether the parts run faster on
  threads or one after another (the same arithmetic either way). Predictions with
  FORWARD_PARALLEL_MIN_FLOPS of work split likewise, and run on threads while the cores are
  free.
- sparse (fastnn.kernels.sparse): every task on sparse input (CSR rows), whatever the rows
  and sizes: the batched path's blocks, its first layer computed from the rows' nonzeros.
  Batches are not split over threads: each part would need a gradient buffer of W_0's full
  size to clear, fill and sum every batch, as much work as the update over all parameters,
  while the products of the nonzeros it would share out are small.
"""
from typing import NamedTuple

from . import threads
from .kernels.dense import BLAS_MIN_ROWS, BLAS_MIN_WORK

PER_SAMPLE, NARROW, BATCHED, SPARSE = "per_sample", "narrow", "batched", "sparse"
TASKS = ("train", "loss_grad", "forward")

BLOCK_ROWS = 1024
"""Rows the batched path pushes through the network at once (bounds activation memory)."""
PER_SAMPLE_MAX_ROWS = 32
"""Training batches of at most this many rows take the per-sample path (see per_sample_fits)."""
NARROW_MAX_WIDTH = 32
"""The narrow path takes a network only if every layer (input and output included) is at
most this wide: up to here its loops over the rows beat the batched path's products by a
wide margin; wider, a layer's product is large enough for blocking or BLAS, while the narrow
path makes each output of a layer its own pass over the rows."""
NARROW_MIN_ROWS = 24
"""... and batches of at least this many rows: the fewest with which the narrow path beat the
per-sample path (which takes batches of up to 32 rows otherwise) in every shape tried; at
16 rows it lost in some."""
CHUNK_BYTES = 1 << 17
"""The narrow path takes a batch in chunks of about this many bytes of activations and
deltas (a multiple of 8 rows, 64 to 1024 rows: see chunk_rows): a chunk's buffers stay in
the core's L2 cache, and the loops over a chunk's rows stay long enough to vectorise."""
PARALLEL_MIN_FLOPS = 5_000_000
"""A training batch splits into parts for threads only when it takes at least this many
floating-point operations (forward and backward, about 6 per weight per row). A split batch
costs more than its threads' starts: each part fills a gradient of every parameter, which
are then summed; BLAS packs each layer's weights once per part; and each update's parameters
move from one core's cache to the other's. Below this the second core did not repay it."""
FORWARD_PARALLEL_MIN_FLOPS = 1_000_000
"""A prediction splits into parts for threads from this many operations (2 per weight per
row): one parallel loop, with no gradient to sum and no parameters that change."""


class Path(NamedTuple):
    """A path and its blocking: ``block_rows`` rows fill the workspace (the batch on the
    per-sample path, a chunk on the narrow path, a block on the batched path); a batched
    training batch splits into ``n_parts`` parts (more than 1: one per thread)."""
    kind: str
    block_rows: int
    n_parts: int = 1


def choose(task, rows, sizes, itemsize, sparse=False):
    """The Path for ``task`` ("train", "loss_grad" or "forward") over ``rows`` rows (a
    training batch's, or all of them) of a network of layer widths ``sizes`` whose numbers
    take ``itemsize`` bytes; ``sparse``: the rows are a sparse matrix's."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if sparse:
        return Path(SPARSE, min(rows, BLOCK_ROWS))
    if narrow_fits(rows, sizes):
        return Path(NARROW, chunk_rows(rows, sizes, itemsize))
    block_rows = min(rows, BLOCK_ROWS)
    if task == "train" and per_sample_fits(rows, sizes):
        return Path(PER_SAMPLE, rows)
    if task == "forward":
        parts = forward_parts(rows, sizes)
        return Path(BATCHED, min(-(-rows // parts), BLOCK_ROWS), parts)
    return Path(BATCHED, block_rows, batch_parts(rows, sizes) if task == "train" else 1)


def narrow_fits(rows, sizes):
    """Whether ``rows`` rows through layers ``sizes`` take the narrow path (NARROW_MIN_ROWS,
    NARROW_MAX_WIDTH): faster there than on the per-sample and the batched path."""
    return rows >= NARROW_MIN_ROWS and max(sizes) <= NARROW_MAX_WIDTH


def per_sample_fits(rows, sizes):
    """Whether training batches of ``rows`` rows take the per-sample path: one row always; up
    to PER_SAMPLE_MAX_ROWS rows (within a block) unless a layer's product for the batch is
    large enough for BLAS (fastnn.kernels.dense), which is faster."""
    if rows == 1:
        return True
    return rows <= min(PER_SAMPLE_MAX_ROWS, BLOCK_ROWS) and all(
        rows * k * n < BLAS_MIN_WORK for k, n in zip(sizes[:-1], sizes[1:]))


def chunk_rows(rows, sizes, itemsize):
    """Rows in a chunk of the narrow path for batches of ``rows`` rows (at most the batch):
    CHUNK_BYTES of activations and deltas, rounded down to a multiple of 8 rows, 64 to 1024
    rows."""
    row_bytes = (sizes[0] + 2 * sum(sizes[1:])) * itemsize
    return min(min(max(CHUNK_BYTES // row_bytes // 8 * 8, 64), 1024), rows)


def batch_parts(rows, sizes):
    """How many parts each batched training batch of ``rows`` rows splits into: one per
    usable thread, each of BLAS_MIN_ROWS to BLOCK_ROWS rows, when the batch has
    PARALLEL_MIN_FLOPS of work; else 1 (one thread, unsplit). Never with numba's workqueue
    layer, which takes about ten times as long as OpenMP to start threads."""
    parts = _parts(rows, sizes, 6, PARALLEL_MIN_FLOPS)
    return 1 if -(-rows // parts) > BLOCK_ROWS else parts


def forward_parts(rows, sizes):
    """How many parts a prediction of ``rows`` rows splits into: as batch_parts, from
    FORWARD_PARALLEL_MIN_FLOPS of the forward pass's 2 operations per weight per row, each
    part of any number of blocks."""
    return _parts(rows, sizes, 2, FORWARD_PARALLEL_MIN_FLOPS)


def _parts(rows, sizes, flops_per_weight, min_flops):
    """One part per usable thread, each of at least BLAS_MIN_ROWS rows, for ``min_flops`` of
    work (``flops_per_weight`` per weight per row); else 1."""
    if rows < 2 * BLAS_MIN_ROWS:  # the common one-row prediction answers at once
        return 1
    flops = flops_per_weight * rows * sum(k * n for k, n in zip(sizes[:-1], sizes[1:]))
    if flops < min_flops:
        return 1
    parts = min(threads.usable_threads(), rows // BLAS_MIN_ROWS)
    if parts < 2 or threads.threading_layer() == "workqueue":
        return 1
    return parts
