"""A trained model's pictures, as PNG bytes: confusion matrix, ROC and precision-recall curves (binary)
or per-class bars (multi-class), and the top feature importances.

Rendered with matplotlib's Agg backend (no display). Each figure is small (~20 KB): the run's page
in the Prefect UI shows them inline, as data-URI images in a markdown artifact.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure

DPI = 80
TOP_FEATURES = 20


def _figure(width: float = 5.0, height: float = 4.0) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    return figure, figure.add_subplot()


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def confusion_matrix_png(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> bytes:
    """Counts per (true, predicted) class, annotated."""
    import numpy as np

    counts = np.asarray(matrix)
    figure, axes = _figure(4.5 + 0.3 * len(labels), 4.0 + 0.3 * len(labels))
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes)
    axes.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=labels, yticklabels=labels,
             xlabel="predicted", ylabel="true", title="Confusion matrix (hold-out rows)")  # fmt: skip
    threshold = counts.max() / 2 if counts.size else 0
    for (row, column), value in np.ndenumerate(counts):
        axes.text(column, row, str(value), ha="center", va="center",
                  color="white" if value > threshold else "black")  # fmt: skip
    return _png(figure)


def roc_png(y_true: np.ndarray, scores: np.ndarray, positive: str) -> bytes:
    """ROC curve of a binary classifier, ``scores`` being the positive class's probability."""
    from sklearn.metrics import RocCurveDisplay

    figure, axes = _figure()
    RocCurveDisplay.from_predictions(y_true, scores, pos_label=positive, ax=axes, plot_chance_level=True)
    axes.set_title(f"ROC curve (positive class {positive})")
    return _png(figure)


def precision_recall_png(y_true: np.ndarray, scores: np.ndarray, positive: str) -> bytes:
    """Precision-recall curve of a binary classifier."""
    from sklearn.metrics import PrecisionRecallDisplay

    figure, axes = _figure()
    PrecisionRecallDisplay.from_predictions(y_true, scores, pos_label=positive, ax=axes, plot_chance_level=True)
    axes.set_title(f"Precision-recall curve (positive class {positive})")
    return _png(figure)


def per_class_png(per_class: dict[str, dict[str, float]]) -> bytes:
    """Precision, recall and F1 of each class, side by side."""
    import numpy as np

    labels = list(per_class)
    positions = np.arange(len(labels))
    figure, axes = _figure(max(5.0, 1.2 * len(labels)), 4.0)
    for offset, metric in zip((-0.27, 0.0, 0.27), ("precision", "recall", "f1_score"), strict=True):
        axes.bar(positions + offset, [per_class[label][metric] for label in labels], width=0.27, label=metric)
    axes.set(xticks=positions, xticklabels=labels, ylim=(0, 1.05), title="Per-class metrics (hold-out rows)")
    axes.legend(loc="lower right")
    return _png(figure)


def importances_png(names: Sequence[str], values: Sequence[float], title: str) -> bytes:
    """The ``TOP_FEATURES`` largest importances, largest on top."""
    ranked = sorted(zip(values, names, strict=True), reverse=True)[:TOP_FEATURES]
    figure, axes = _figure(6.0, 1.5 + 0.25 * len(ranked))
    axes.barh([name for _, name in reversed(ranked)], [value for value, _ in reversed(ranked)])
    axes.set(title=title, xlabel="importance")
    return _png(figure)
