"""``python -m fastnn demo [NAME] [--out DIR] [--quick]``: the tutorials in shared/seeds, run
on fastnn.MLP.

Each tutorial's experiment is one of the workloads (fastnn/tools/workloads.py, data from
fastnn/datasets.py). The demo trains it on fastnn.MLP and prints what the tutorial printed,
then trains it again, from the same weights, in the plain NumPy a tutorial reader writes
(fastnn/tools/plain.py) and on the NumPy reference (fastnn.reference.MLP), and prints the
time each took. fastnn's first call, a one-epoch run that compiles the kernels
(or loads them from Numba's cache), is timed and reported on its own. With matplotlib, the
tutorials' pictures are written as PNG files.
"""
import os
import time
from dataclasses import dataclass


from .. import datasets, reference
from ..model import MLP
from ..network import History
from .workloads import WORKLOADS, Workload


class EpochClock:
    """A fit callback recording the wall time of every epoch."""

    def __init__(self):
        self.seconds = []
        self._last = time.perf_counter()

    def __call__(self, epoch, loss):
        now = time.perf_counter()
        self.seconds.append(now - self._last)
        self._last = now


@dataclass
class Trained:
    net: object
    history: History
    seconds: float
    epoch_seconds: list | None  # per epoch, when timed per epoch


@dataclass
class Run:
    """A workload trained on fastnn and on the reference, from the same starting weights."""
    workload: Workload
    data: tuple
    epochs: int
    first_call_seconds: float  # fastnn's one-epoch warm-up: compiling or loading the kernels
    fastnn: Trained
    reference: Trained
    plain_seconds: float
    plain_loss: float

    def start(self):
        """The starting network, untrained."""
        return self.workload.make_network(MLP)


def train(workload, quick=False, per_epoch=False):
    """Train ``workload`` on fastnn, after a timed one-epoch warm-up, on the reference and
    in plain NumPy; ``per_epoch`` times every epoch (one compiled call per epoch)."""
    data = workload.data(quick)
    epochs = workload.epochs_for(quick)
    started = time.perf_counter()
    workload.train(MLP, data, 1)  # compiles the kernels, or loads them from Numba's cache
    first_call = time.perf_counter() - started
    trained = []
    for cls in (MLP, reference.MLP):
        clock = EpochClock() if per_epoch else None
        started = time.perf_counter()
        net, history = workload.train(cls, data, epochs, callback=clock)
        trained.append(Trained(net, history, time.perf_counter() - started,
                               clock and clock.seconds))
    started = time.perf_counter()
    plain_losses = workload.train_plain(data, epochs)
    plain_seconds = time.perf_counter() - started
    return Run(workload, data, epochs, first_call, *trained, plain_seconds,
               float(plain_losses[-1]))


def report_times(run, out):
    """The training times and final losses (equal losses: the same work was done)."""
    fast, ref = run.fastnn, run.reference
    out(f"time: fastnn {fast.seconds:.3f} s, plain NumPy {run.plain_seconds:.3f} s (speed-up "
        f"{run.plain_seconds / fast.seconds:.1f}x), NumPy reference {ref.seconds:.3f} s for "
        f"{run.epochs:,} epochs; fastnn's first call (compiling or loading the kernels) "
        f"{run.first_call_seconds:.2f} s, not counted")
    out(f"final loss: fastnn {fast.history.loss[-1]:.6g}, plain NumPy {run.plain_loss:.6g}, "
        f"reference {ref.history.loss[-1]:.6g}")


# ---------------------------------------------------------------------------- the tutorials
def report_xor(run, out):
    X, y = run.data
    weights = run.start().get_params()[0]
    out("weights1, weights2 (np.random.seed(1), 2 * np.random.random(shape) - 1):")
    out(str(weights[0]))
    out(str(weights[1]))
    out(f"layer2 after {run.epochs:,} iterations (targets {y[:, 0].astype(int)}):")
    out(str(run.fastnn.net.forward(X)))


def report_points(run, out):
    def print_weights(net):
        weights = net.get_params()[0]
        out("    Layer 1 (4 neurons, each with 2 inputs): ")
        out(str(weights[0]))
        out("    Layer 2 (1 neuron, with 4 inputs):")
        out(str(weights[1]))

    out("Stage 1) Random starting synaptic weights: ")
    print_weights(run.start())
    out(f"Training: {run.epochs:,} iterations")
    out("Stage 2) New synaptic weights after training: ")
    print_weights(run.fastnn.net)
    new_test = datasets.points_test()
    out(f"Stage 3) Considering a new situation {new_test[0].astype(int)}")
    out(str(run.fastnn.net.forward(new_test)[0]))


def report_bits(run, out):
    n_outputs = run.data[1].shape[1]
    out(f"loss: mean over the {n_outputs} outputs, as the tutorial prints it; Time: fastnn "
        "(NumPy reference) per epoch")
    for epoch, (loss, seconds, reference_seconds) in enumerate(zip(
            run.fastnn.history.loss, run.fastnn.epoch_seconds, run.reference.epoch_seconds)):
        out(f" Epoch: {epoch}, loss: {loss / n_outputs:.8f}, Time: {seconds:.4f}s "
            f"({reference_seconds:.4f}s)")
    x = datasets.complement_bits_test()
    out("XOR Prediction")
    out(str(x.astype(int)))
    out(str((run.fastnn.net.forward(x[None])[0] > 0.5).astype(int)))


def report_moons(run, out):
    X, y = run.data
    loss = run.fastnn.history.loss
    for epoch in range(0, run.epochs, max(1, run.epochs // 10)):
        out(f"Error at epoch {epoch} is {loss[epoch]:.5f}")
    out("output[:, :5], y[:, :5]:")
    out(str(run.fastnn.net.forward(X[:5]).T))
    out(str(y[:5].T.astype(int)))
    out(f"predict(X) == y for {(run.fastnn.net.predict(X) == y[:, 0]).mean():.1%} of the points")


def report_captcha(run, out):
    X, Y = run.data
    out(str(X.shape))
    out(str(Y.shape))
    out("train(network, 10000, inputs, targets) took 12.5 s in the tutorial's pure Python")
    out(f"predict, the ten digits: {run.fastnn.net.predict(X)}")
    for digit, bits in datasets.captcha_variants().items():
        out(f"Testing with a different {digit}: predict -> {run.fastnn.net.predict(bits[None])[0]}")


def pictures_points(run, plot, folder):
    path = os.path.join(folder, "points_data.png")
    plot.scatter(*run.data, title="tutorial 001: the labelled points", path=path)
    return [path]


def pictures_moons(run, plot, folder):
    paths = [os.path.join(folder, name) for name in ("moons_loss.png", "moons_boundary.png")]
    plot.loss_curve(run.fastnn.history, title=f"tutorial 003: loss over {run.epochs:,} epochs",
                    path=paths[0])
    plot.decision_boundary(run.fastnn.net, *run.data, title="tutorial 003: decision boundary",
                           path=paths[1])
    return paths


def pictures_captcha(run, plot, folder):
    path = os.path.join(folder, "captcha_weights.png")
    plot.weight_images(run.fastnn.net, title="tutorial 004: first-layer weights", path=path)
    return [path]


@dataclass(frozen=True)
class Tutorial:
    seed: str               # the tutorial's number in shared/seeds
    workload_id: str
    report: callable        # (run, out): print what the tutorial printed
    pictures: callable = None  # (run, fastnn.plot, folder) -> paths of the PNG files written
    per_epoch: bool = False    # time every epoch (the tutorial prints per-epoch times)

    @property
    def workload(self):
        return WORKLOADS[self.workload_id]

    @property
    def name(self):
        """The workload's short name: xor, points, bits, moons, captcha."""
        return self.workload.title.split(",")[0]


TUTORIALS = {t.name: t for t in [
    Tutorial("000", "W1", report_xor),
    Tutorial("001", "W2", report_points, pictures_points),
    Tutorial("002", "W3", report_bits, per_epoch=True),
    Tutorial("003", "W4", report_moons, pictures_moons),
    Tutorial("004", "W5", report_captcha, pictures_captcha),
]}


def run(names=None, folder=".", quick=False, out=print):
    """Run the named tutorials (default: all) and write their pictures to ``folder``."""
    try:
        from .. import plot
    except ImportError as error:
        plot = None
        out(f"pictures skipped: {error}")
    for name in names or TUTORIALS:
        tutorial = TUTORIALS[name]
        out(f"== {name}: tutorial {tutorial.seed}, {tutorial.workload.id} "
            f"{tutorial.workload.title}{' (--quick: a tenth of the epochs)' if quick else ''}")
        result = train(tutorial.workload, quick, tutorial.per_epoch)
        tutorial.report(result, out)
        report_times(result, out)
        if plot is not None and tutorial.pictures is not None:
            os.makedirs(folder, exist_ok=True)
            for path in tutorial.pictures(result, plot, folder):
                out(f"wrote {path}")
        out("")
