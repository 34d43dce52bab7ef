"""The figures that ``minigrad train`` and ``minigrad compare`` write (PNG files).

matplotlib is optional: ``import minigrad`` never imports it, and these functions
import it only when called. Without it they return False and the caller prints a
one-line note instead of failing the run.

We draw on ``matplotlib.figure.Figure`` objects, not through ``pyplot``: a Figure
made this way has no window and no global state, so saving a plot from a terminal or a
test never opens a window, and calling these from a notebook does not change the
notebook's plotting backend.

Each picture is saved under a temporary name and renamed over its final name
(``files.atomic_path``), so a run stopped while saving never leaves a broken PNG.
"""

from __future__ import annotations

import numpy

from .files import atomic_path


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401 - only asking whether it imports
    except ImportError:
        return False
    return True


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # lazy: an optional dependency

    return Figure(figsize=(width, height), layout="constrained")


def _save(figure, path) -> None:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=100)


def plot_curves(history: list[dict], path, title: str) -> bool:
    """Loss (left) and accuracy (right) per epoch, training and test, to ``path``.

    ``history`` is the ``"epochs"`` list of metrics.json. Returns False when
    matplotlib is missing (nothing written)."""
    if not matplotlib_available():
        return False
    epochs = [entry["epoch"] for entry in history]
    figure = _figure(10, 4)
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    for axes, key, label in ((loss_axes, "loss", "cross-entropy loss"), (accuracy_axes, "accuracy", "accuracy")):
        axes.plot(epochs, [entry[f"train_{key}"] for entry in history], "o-", label="training (running mean)")
        axes.plot(epochs, [entry[f"test_{key}"] for entry in history], "s-", label="test")
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.set_title(f"{label.capitalize()} per epoch")
        axes.set_xticks(epochs)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(title)
    _save(figure, path)
    return True


def plot_confusion_matrix(matrix: numpy.ndarray, class_names, path, title: str) -> bool:
    """The confusion matrix (rows: true class, columns: predicted class) as a heat map
    with the count in every cell and the class names on both axes."""
    if not matplotlib_available():
        return False
    matrix = numpy.asarray(matrix)
    size = len(class_names)
    figure = _figure(1.0 + 0.75 * size, 0.5 + 0.7 * size)
    axes = figure.subplots()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, label="number of test examples")
    axes.set_xticks(range(size), labels=class_names, rotation=45, ha="right")
    axes.set_yticks(range(size), labels=class_names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(title)
    threshold = matrix.max() / 2  # dark cells get white numbers, light cells black
    for row in range(size):
        for column in range(size):
            colour = "white" if matrix[row, column] > threshold else "black"
            axes.text(column, row, str(matrix[row, column]), ha="center", va="center", color=colour, fontsize=8)
    _save(figure, path)
    return True


def plot_comparison(runs: dict[str, list[dict]], path, title: str) -> bool:
    """Training loss (left) and test accuracy (right) per epoch, one line per
    optimizer. ``runs`` maps a label (e.g. "adam (lr=0.001)") to its metrics.json
    "epochs" list; a run that diverged has the epochs it finished (maybe none) and
    says so in its label."""
    if not matplotlib_available():
        return False
    figure = _figure(11, 4.5)
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    for label, history in runs.items():
        epochs = [entry["epoch"] for entry in history]
        loss_axes.plot(epochs, [entry["train_loss"] for entry in history], "o-", label=label)
        accuracy_axes.plot(epochs, [entry["test_accuracy"] for entry in history], "o-", label=label)
    loss_axes.set_title("Training loss (running mean over each epoch)")
    loss_axes.set_ylabel("cross-entropy loss")
    accuracy_axes.set_title("Test accuracy after each epoch")
    accuracy_axes.set_ylabel("accuracy")
    all_epochs = sorted({entry["epoch"] for history in runs.values() for entry in history})
    for axes in (loss_axes, accuracy_axes):
        axes.set_xlabel("epoch")
        axes.set_xticks(all_epochs)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(title)
    _save(figure, path)
    return True
