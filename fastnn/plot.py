"""Pictures of training: loss curves, decision boundaries of 2-D classifiers, first-layer
weights as images, labelled 2-D data.

Needs matplotlib (an optional extra: ``pip install matplotlib`` or ``pip install
fastnn[bench]``). Every function returns the matplotlib objects it drew, ``(fig, ax)`` or
``(fig, axes)``, draws into ``ax`` when given one, and saves the figure to ``path`` when
given one. Figures are pyplot figures, so notebooks and interactive shells show them, except
when saving on a machine without a display: then the figure is rendered with Agg and pyplot
is left alone. Nothing here calls ``plt.show()``.
"""
import math
import os
import sys

import numpy as np

try:
    import matplotlib
except ImportError:
    raise ImportError("fastnn.plot needs matplotlib: pip install matplotlib "
                      "(or pip install fastnn[bench])") from None

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

__all__ = ["loss_curve", "decision_boundary", "weight_images", "scatter"]


def loss_curve(losses, *, log=False, label=None, title="training loss", ax=None, path=None):
    """Loss against epoch, from a fastnn History or a sequence of per-epoch losses.

    log: logarithmic loss axis. Call again with the returned ``ax`` and a ``label`` to
    compare runs. Returns (fig, ax).
    """
    losses = np.asarray(getattr(losses, "loss", losses), dtype=np.float64)
    if losses.ndim != 1 or losses.size == 0:
        raise ValueError(f"losses must be a History or a non-empty 1-D sequence, got shape "
                         f"{losses.shape}")
    fig, ax = _figure_and_axes(ax, path)
    ax.plot(np.arange(losses.size), losses, label=label)
    ax.set(xlabel="epoch", ylabel="loss", title=title, yscale="log" if log else "linear")
    ax.grid(True, alpha=0.3)
    if label is not None:
        ax.legend()
    return _finish(fig, ax, path)


def decision_boundary(model, X, y, *, resolution=300, threshold=0.5, title="decision boundary",
                      ax=None, path=None):
    """The classes a model assigns over the plane around 2-D data, with the data on top.

    model: anything with ``predict`` (fastnn and scikit-learn models) or ``forward``, or a
    callable, applied to an (n, 2) array of grid points in one call. Class scores with
    several columns are turned into classes by argmax, one column of fractional scores by
    ``> threshold`` (0.5 suits a sigmoid output). y: class indices 0..k-1, or one-hot rows.
    Returns (fig, ax).
    """
    X = _points_2d(X)
    padding = 0.05 * np.ptp(X, axis=0) + 1e-9
    low, high = X.min(axis=0) - padding, X.max(axis=0) + padding
    xx, yy = np.meshgrid(np.linspace(low[0], high[0], resolution),
                         np.linspace(low[1], high[1], resolution))
    predict = getattr(model, "predict", None) or getattr(model, "forward", None) or model
    grid_classes = _classes(predict(np.column_stack([xx.ravel(), yy.ravel()])), threshold)
    labels = _labels(y, len(X))
    n_classes = int(max(grid_classes.max(), labels.max())) + 1
    fig, ax = _figure_and_axes(ax, path)
    cmap, norm = _class_colours(n_classes)
    ax.contourf(xx, yy, grid_classes.reshape(xx.shape), levels=norm.boundaries, cmap=cmap,
                norm=norm, alpha=0.25)
    _draw_points(ax, X, labels, n_classes)
    ax.set_title(title)
    return _finish(fig, ax, path)


def scatter(X, y, *, title="data", ax=None, path=None):
    """2-D points coloured by class (class 0 blue and 1 red for two classes, as in the
    tutorials). y: class indices 0..k-1, or one-hot rows. Returns (fig, ax)."""
    X = _points_2d(X)
    labels = _labels(y, len(X))
    fig, ax = _figure_and_axes(ax, path)
    _draw_points(ax, X, labels, int(labels.max()) + 1)
    ax.set_title(title)
    return _finish(fig, ax, path)


def weight_images(weights, *, image_shape=None, columns=None, cmap="RdBu_r",
                  title="first-layer weights", path=None):
    """One small image per hidden unit of its incoming weights, e.g. 5x5 for 25 inputs.

    weights: a model (its first layer is shown) or an (n_inputs, n_units) array, as in
    ``get_params()[0][0]``. image_shape: (rows, columns) of one image, by default square.
    One colour scale for all panels, symmetric about 0 (white). Returns (fig, axes), one axes
    per unit.
    """
    if hasattr(weights, "get_params"):
        weights = weights.get_params()[0][0]
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2:
        raise ValueError(f"weights must be (n_inputs, n_units), got shape {weights.shape}")
    n_inputs, n_units = weights.shape
    if image_shape is None:
        side = math.isqrt(n_inputs)
        if side * side != n_inputs:
            raise ValueError(f"{n_inputs} inputs are not a square image: give image_shape")
        image_shape = (side, side)
    if math.prod(image_shape) != n_inputs:
        raise ValueError(f"image_shape {tuple(image_shape)} does not hold {n_inputs} inputs")
    columns = columns or min(n_units, 8)
    rows = -(-n_units // columns)
    fig, grid = _figure_and_axes(None, path, nrows=rows, ncols=columns,
                                 figsize=(1.6 * columns + 1, 1.7 * rows + 0.6),
                                 layout="constrained")
    axes = grid.ravel()
    limit = float(np.abs(weights).max()) or 1.0
    for unit, ax in enumerate(axes[:n_units]):
        image = ax.imshow(weights[:, unit].reshape(image_shape), cmap=cmap, vmin=-limit,
                          vmax=limit, interpolation="nearest")
        ax.set(xticks=[], yticks=[], title=f"unit {unit}")
    for ax in axes[n_units:]:
        ax.set_visible(False)
    fig.colorbar(image, ax=axes[:n_units].tolist(), shrink=0.8, label="weight")
    fig.suptitle(title)
    return _finish(fig, axes[:n_units], path)


# ---------------------------------------------------------------------------- helpers
def _points_2d(X):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2 or len(X) == 0:
        raise ValueError(f"X must be (n, 2) points, got shape {X.shape}")
    return X


def _labels(y, n_points):
    labels = _classes(y, 0.5)
    if labels.shape != (n_points,):
        raise ValueError(f"y must hold one label per point ({n_points}), got shape {labels.shape}")
    return labels


def _draw_points(ax, X, labels, n_classes):
    """The points coloured by class, with a legend of the classes present."""
    cmap, norm = _class_colours(n_classes)
    ax.scatter(X[:, 0], X[:, 1], c=labels, cmap=cmap, norm=norm, s=12 if len(X) > 100 else 40,
               edgecolors="white", linewidths=0.4)
    ax.legend(handles=[Line2D([], [], marker="o", linestyle="", color=cmap(k), label=f"class {k}")
                       for k in np.unique(labels)], fontsize="small")
    ax.set(xlabel="x1", ylabel="x2")


def _classes(scores, threshold):
    """Class indices from labels (whole numbers), one-hot rows or class scores (argmax of
    several columns, ``> threshold`` for one column of fractional scores)."""
    scores = np.asarray(scores)
    if scores.ndim == 2 and scores.shape[1] > 1:
        return scores.argmax(axis=1)
    scores = scores.reshape(len(scores))
    if scores.dtype == bool or (scores == np.round(scores)).all():
        return scores.astype(np.int64)
    return (scores > threshold).astype(np.int64)


def _class_colours(n_classes):
    """(colormap, norm) giving class k one flat colour: blue and red for two classes."""
    colours = ["tab:blue", "tab:red"] if n_classes <= 2 else [
        matplotlib.colormaps["tab10" if n_classes <= 10 else "tab20"](k % 20)
        for k in range(n_classes)]
    return ListedColormap(colours), BoundaryNorm(np.arange(len(colours) + 1) - 0.5, len(colours))


def _can_show():
    """Whether figures can be shown here: a display, pyplot already in use, or a backend the
    user chose (MPLBACKEND; Jupyter sets it to its inline backend)."""
    return (sys.platform in ("win32", "darwin") or "matplotlib.pyplot" in sys.modules
            or any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")))


def _figure_and_axes(ax, path, nrows=None, ncols=None, **figure):
    """(figure, axes): ``ax`` and its figure if given; else a new figure, rendered with Agg
    outside pyplot when saving without a display, otherwise a pyplot figure. With ``nrows``
    and ``ncols`` the axes are a 2-D array, else one axes."""
    if ax is not None:
        return ax.figure, ax
    if path is not None and not _can_show():
        fig = Figure(**figure)
        FigureCanvasAgg(fig)
    else:
        import matplotlib.pyplot as plt
        fig = plt.figure(**figure)
    if nrows is None:
        return fig, fig.subplots()
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def _finish(fig, axes, path):
    if path is not None:  # str, bytes or os.PathLike, as NumPy takes paths
        fig.savefig(os.fsdecode(os.fspath(path)), dpi=110)
    return fig, axes
