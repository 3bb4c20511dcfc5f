"""fastnn.plot: every function returns its matplotlib objects and writes a PNG (Agg backend);
without matplotlib, importing fastnn.plot says how to install it."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import datasets


@pytest.fixture
def plot():
    matplotlib = pytest.importorskip(
        "matplotlib", reason="fastnn.plot needs matplotlib (optional extra: pip install fastnn[test])")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from fastnn import plot
    yield plot
    plt.close("all")


def assert_png(path):
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 1000


def trained_moons_net(epochs=200, sizes=(2, 8, 1), hidden="tanh"):
    X, y = datasets.make_moons(200, noise=0.1, random_state=0)
    net = fastnn.MLP(list(sizes), hidden=hidden, output="sigmoid", seed=0)
    history = net.fit(X, y, loss="binary_cross_entropy", optimizer=fastnn.SGD(lr=0.5, momentum=0.9),
                      epochs=epochs, batch_size=32, seed=0)
    return net, history, X, y


def test_loss_curve_from_a_history_and_from_a_list(plot, tmp_path):
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    _, history, _, _ = trained_moons_net(epochs=20)
    path = tmp_path / "loss.png"
    fig, ax = plot.loss_curve(history, path=path)
    assert isinstance(fig, Figure) and isinstance(ax, Axes)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), history.loss)
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), np.arange(20))
    assert ax.get_yscale() == "linear"
    assert_png(path)
    # A list, log scale, and a second labelled curve on the same axes.
    fig2, ax2 = plot.loss_curve([1.0, 0.1, 0.01], log=True, label="a")
    assert ax2.get_yscale() == "log"
    assert plot.loss_curve([2.0, 1.0], label="b", ax=ax2) == (fig2, ax2)
    assert len(ax2.lines) == 2 and [t.get_text() for t in ax2.get_legend().get_texts()] == ["a", "b"]


def test_loss_curve_rejects_empty_losses(plot):
    with pytest.raises(ValueError, match="losses"):
        plot.loss_curve([])


@pytest.mark.parametrize("sizes,hidden", [((2, 8, 1), "tanh"),
                                          ((2, 8, 6, 1), ["softplus", "relu"])])
def test_decision_boundary_of_a_model_separates_its_classes(plot, tmp_path, sizes, hidden):
    net, _, X, y = trained_moons_net(sizes=sizes, hidden=hidden)
    assert (net.predict(X) == y).mean() > 0.9
    path = tmp_path / "boundary.png"
    fig, ax = plot.decision_boundary(net, X, y, resolution=50, path=path)
    assert fig is ax.figure and ax.collections  # the filled regions and the points
    assert_png(path)


@pytest.mark.parametrize("scores, classes", [
    (lambda P: P[:, 0] > 0.5, [0, 1]),                                   # booleans
    (lambda P: 1 / (1 + np.exp(-10 * (P[:, 0] - 0.5))), [0, 1]),          # one probability
    (lambda P: np.column_stack([P[:, 0], P[:, 1], 1 - P.sum(1)]), [0, 1, 2]),  # argmax of 3
])
def test_decision_boundary_of_a_callable_evaluates_the_grid_in_one_call(plot, scores, classes):
    calls = []

    def model(P):
        calls.append(P.shape)
        return scores(P)

    X = np.array([[0.0, 0.0], [1.0, 0.2], [0.3, 1.0]])
    fig, ax = plot.decision_boundary(model, X, [0, 1, 0], resolution=40)
    assert calls == [(40 * 40, 2)]
    regions, points = ax.collections
    assert [len(path.vertices) > 0 for path in regions.get_paths()] == [True] * len(classes)
    assert points.cmap.colors == regions.cmap.colors  # a class has one colour in both


def test_scatter_takes_labels_or_one_hot_rows(plot, tmp_path):
    from matplotlib.colors import to_rgba
    X, y = datasets.points()
    path = tmp_path / "points.png"
    fig, ax = plot.scatter(X, y, path=path)
    points = ax.collections[0]
    np.testing.assert_array_equal(points.get_array(), y[:, 0])
    assert points.cmap(points.norm(0)) == to_rgba("tab:blue")  # as in tutorial 001
    assert points.cmap(points.norm(1)) == to_rgba("tab:red")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1"]
    assert_png(path)
    _, ax2 = plot.scatter(X, np.eye(2)[y[:, 0].astype(int)])
    np.testing.assert_array_equal(ax2.collections[0].get_array(), y[:, 0])
    with pytest.raises(ValueError, match="one label per point"):
        plot.scatter(X, y[:5])
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plot.scatter(np.zeros((4, 3)), [0, 1, 0, 1])


def test_weight_images_show_one_image_per_hidden_unit(plot, tmp_path):
    net = fastnn.MLP([25, 5, 10], hidden="sigmoid", output="sigmoid", init="uniform", seed=0)
    path = tmp_path / "weights.png"
    fig, axes = plot.weight_images(net, path=path)
    assert len(axes) == 5 and all(ax.figure is fig for ax in axes)
    W = net.get_params()[0][0]
    for unit, ax in enumerate(axes):
        image = ax.images[0]
        np.testing.assert_array_equal(image.get_array(), W[:, unit].reshape(5, 5))
        assert image.get_clim() == (-np.abs(W).max(), np.abs(W).max())  # one scale, 0 white
    assert_png(path)


def test_weight_images_of_an_array_with_a_given_shape(plot):
    weights = np.arange(30.0).reshape(10, 3)
    _, axes = plot.weight_images(weights, image_shape=(2, 5), columns=2)
    assert len(axes) == 3 and axes[0].images[0].get_array().shape == (2, 5)
    with pytest.raises(ValueError, match="give image_shape"):
        plot.weight_images(weights)
    with pytest.raises(ValueError, match="does not hold 10 inputs"):
        plot.weight_images(weights, image_shape=(3, 3))


def run_python(code, env_drop=()):
    import os
    env = {k: v for k, v in os.environ.items() if k not in env_drop}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          check=True).stdout


def test_saving_without_a_display_leaves_pyplot_alone(plot, tmp_path):
    path = tmp_path / "loss.png"
    out = run_python("import sys; from fastnn import plot\n"
                     f"fig, ax = plot.loss_curve([1.0, 0.5], path={str(path)!r})\n"
                     "print(type(fig.canvas).__name__, 'matplotlib.pyplot' in sys.modules)",
                     env_drop=("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND"))
    assert out.split() == ["FigureCanvasAgg", "False"]
    assert_png(path)


def test_without_matplotlib_fastnn_imports_and_plot_says_how_to_install_it():
    out = run_python("import sys; sys.modules['matplotlib'] = None\n"
                     "import fastnn\n"
                     "try:\n"
                     "    import fastnn.plot\n"
                     "except ImportError as error:\n"
                     "    print(error)\n")
    assert "pip install matplotlib" in out and "fastnn[bench]" in out


@pytest.mark.parametrize("kind", [str, bytes, "pathlike"])
def test_pictures_take_str_bytes_and_pathlike_paths(plot, tmp_path, kind):
    path = tmp_path / "curve.png"
    given = {str: str(path), bytes: os.fsencode(path), "pathlike": path}[kind]
    plot.loss_curve([1.0, 0.5, 0.25], path=given)
    assert_png(path)
