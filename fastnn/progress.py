"""What ``fit(verbose=True)`` prints: one line per epoch for short runs (as tutorial 002), a
progress bar for long ones (tqdm when it is installed, otherwise one line rewritten in place).
Both are updated once per compiled chunk of epochs (about 10 times a second), so they cost
nothing measurable."""
import sys

MAX_EPOCH_LINES = 200
"""Up to this many epochs, verbose prints a line per epoch; beyond, a progress bar."""
BAR_WIDTH = 30


def reporter(epochs, n_samples, verbose):
    """The output of a fit of ``epochs`` epochs over ``n_samples`` samples (none unless
    ``verbose``), as a context manager that closes it however training ends."""
    if not verbose:
        return Silent()
    if epochs <= MAX_EPOCH_LINES:
        return EpochLines()
    try:
        from tqdm import tqdm
    except ImportError:
        return LineBar(epochs, n_samples)
    return TqdmBar(tqdm, epochs, n_samples)


class Silent:
    """No output; the base of the others: ``update`` after each compiled chunk of epochs,
    ``close`` at the end (on leaving the ``with`` block)."""

    def update(self, first_epoch, losses, seconds):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class EpochLines(Silent):
    """Tutorial 002's line per epoch: `` Epoch: e, loss: L, Time: s``."""

    def update(self, first_epoch, losses, seconds):
        per_epoch = seconds / len(losses)
        for i, loss in enumerate(losses):
            print(f" Epoch: {first_epoch + i}, loss: {loss:.8f}, Time: {per_epoch:.4f}s")


class LineBar(Silent):
    """``Epoch 1200/100000 [###.......] loss 0.0123, 4,512,000 samples/s`` on one line."""

    def __init__(self, epochs, n_samples):
        self.epochs, self.n_samples = epochs, n_samples
        self.seconds = 0.0

    def update(self, first_epoch, losses, seconds):
        self.seconds += seconds
        done = first_epoch + len(losses)
        filled = BAR_WIDTH * done // self.epochs
        rate = done * self.n_samples / max(self.seconds, 1e-12)
        sys.stdout.write(f"\rEpoch {done}/{self.epochs} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}]"
                         f" loss {losses[-1]:.6g}, {rate:,.0f} samples/s")
        sys.stdout.flush()

    def close(self):
        sys.stdout.write("\n")
        sys.stdout.flush()


class TqdmBar(Silent):
    """A tqdm bar over epochs with the loss and samples/s after it."""

    def __init__(self, tqdm, epochs, n_samples):
        self.bar = tqdm(total=epochs, unit="epoch", file=sys.stdout)
        self.n_samples = n_samples
        self.seconds = 0.0

    def update(self, first_epoch, losses, seconds):
        self.seconds += seconds
        done = first_epoch + len(losses)
        self.bar.set_postfix(loss=f"{losses[-1]:.6g}",
                             samples_s=f"{done * self.n_samples / max(self.seconds, 1e-12):,.0f}",
                             refresh=False)
        self.bar.update(len(losses))

    def close(self):
        self.bar.close()
