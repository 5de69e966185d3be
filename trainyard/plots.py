"""A trained model's pictures, as PNG bytes: a classifier's confusion matrix, ROC and precision-recall
curves (binary) or per-class bars (multi-class); a regressor's predicted-vs-actual and residual plots;
the top feature importances.

Rendered with matplotlib's Agg backend (no display). Each figure is small (~20 KB): the run's page
in the Prefect UI shows them inline, as data-URI images in a markdown artifact.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

DPI = 80
TOP_FEATURES = 20


def drawing_apart(draw: Callable[[], bytes], warn: Callable[..., None] = logger.warning) -> Callable[[], bytes]:
    """Start ``draw()`` in a forked child (``trainyard.forked``), on a core of its own while the caller
    goes on; the returned function waits for its bytes. Where no child can do it (no ``fork``, a fork
    that fails, a child that fails), ``draw()`` runs here when the bytes are asked for (so a drawing
    that fails raises with its own traceback), and ``warn`` says why."""
    from matplotlib.figure import Figure

    from trainyard import forked

    # The lock on matplotlib's shared font caches: another thread may be drawing at the fork's instant.
    # A private name (older releases had RendererAgg.lock; a unit test pins it): without it, no child.
    render_lock = getattr(Figure, "_render_lock", None)
    if not hasattr(os, "fork") or render_lock is None:
        return draw
    try:
        child = forked.start(draw, holding=(render_lock,))
    except OSError as error:
        warn("plots drawn in this process: no child process (%s)", error)
        return draw

    def drawn() -> bytes:
        try:
            return child.result()
        except forked.ChildFailed as failure:
            warn("plots drawn in this process: the child could not (%s)", failure)
            return draw()

    return drawn


def _figure(width: float = 5.0, height: float = 4.0) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    # Fixed margins, not a layout engine: constrained/tight layout draws every figure twice.
    figure = Figure(figsize=(width, height), dpi=DPI)
    return figure, figure.add_subplot()


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # zlib level 1: these flat-colour charts compress almost as well as at the default 6, ~3x faster.
    figure.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
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
    # drop_intermediate: the curve's corners only, not a point per distinct score (thousands).
    PrecisionRecallDisplay.from_predictions(y_true, scores, pos_label=positive, ax=axes, plot_chance_level=True,
                                            drop_intermediate=True)  # fmt: skip
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


def predicted_vs_actual_png(y_true: np.ndarray, y_pred: np.ndarray, target: str) -> bytes:
    """Each held-out row's prediction against its value, with the diagonal a perfect model would lie on."""
    return _prediction_error_png(y_true, y_pred, "actual_vs_predicted", f"Predicted vs actual {target}")


def residuals_png(y_true: np.ndarray, y_pred: np.ndarray, target: str) -> bytes:
    """Residuals (actual - predicted) against the prediction: a pattern means the model misses something."""
    return _prediction_error_png(y_true, y_pred, "residual_vs_predicted", f"Residuals of {target}")


def _prediction_error_png(y_true: np.ndarray, y_pred: np.ndarray, kind: str, title: str) -> bytes:
    from sklearn.metrics import PredictionErrorDisplay

    figure, axes = _figure()
    # At most 2,000 points drawn (a random sample): the picture of 1M rows, at the cost of 2,000.
    PredictionErrorDisplay.from_predictions(y_true, y_pred, kind=kind, ax=axes, subsample=2000, random_state=0)
    axes.set_title(f"{title} (hold-out rows)")
    return _png(figure)


def importances_png(names: Sequence[str], values: Sequence[float], title: str) -> bytes:
    """The ``TOP_FEATURES`` largest importances, largest on top."""
    ranked = sorted(zip(values, names, strict=True), reverse=True)[:TOP_FEATURES]
    label_inches = 0.2 + 0.08 * max((len(name) for _, name in ranked), default=0)  # ~0.08 in per character
    width, height = 4.5 + label_inches, 1.5 + 0.25 * len(ranked)
    figure, axes = _figure(width, height)
    figure.subplots_adjust(left=label_inches / width, right=0.95, bottom=0.65 / height, top=1 - 0.35 / height)
    axes.barh([name for _, name in reversed(ranked)], [value for value, _ in reversed(ranked)])
    axes.set(title=title, xlabel="importance")
    return _png(figure)
