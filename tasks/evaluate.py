"""Evaluate step: hold-out metrics, per-class metrics, confusion matrix, optional k-fold CV."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.split import read_side
from trainyard.refs import Metrics, SplitRef

if TYPE_CHECKING:
    import numpy as np

    from tasks.fitting import FittedModel

# scikit-learn and numpy are imported inside the functions: importing them here would add ~1.5 s
# to flow-module import, i.e. to every run's time to Running.

CV_SCORING = ("accuracy", "precision_weighted", "recall_weighted", "f1_weighted")


@task(name="evaluate-model", cache_policy=NO_CACHE, persist_result=False)
def evaluate_model(
    model: FittedModel, split: SplitRef, use_cv: bool = False, cv_folds: int = 5, random_state: int = 42
) -> Metrics:
    """Score the fitted model on the held-out rows (and by stratified k-fold CV on the train rows)."""
    import numpy as np

    test = read_side(split, "test")
    y_true = test[split.target].to_numpy()
    proba = model.pipeline.predict_proba(test[split.features])
    classes = model.pipeline.classes_
    y_pred = classes[np.argmax(proba, axis=1)]
    metrics = compute_metrics(y_true, y_pred, proba, classes)
    if use_cv:
        metrics.cv = cross_validation(model, split, cv_folds, random_state)
    get_run_logger().info("accuracy %.4f, weighted F1 %.4f, ROC-AUC %s", metrics.accuracy, metrics.f1_score,
                          "n/a" if metrics.roc_auc is None else f"{metrics.roc_auc:.4f}")  # fmt: skip
    return metrics


def compute_metrics(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> Metrics:
    """Pure metric computation, separate from I/O so it can be unit-tested."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    weighted = precision_recall_fscore_support(y_true, y_pred, average="weighted", zero_division=0)
    macro = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    prec, rec, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    per_class = {
        str(label): {
            "precision": float(p),
            "recall": float(r),
            "accuracy": float(r),
            "f1_score": float(f),
            "support": int(s),
        }
        for label, p, r, f, s in zip(classes, prec, rec, f1, support, strict=True)
    }
    return Metrics(
        accuracy=float(accuracy_score(y_true, y_pred)),
        precision=float(weighted[0]),
        recall=float(weighted[1]),
        f1_score=float(weighted[2]),
        precision_macro=float(macro[0]),
        recall_macro=float(macro[1]),
        f1_macro=float(macro[2]),
        roc_auc=_roc_auc(y_true, proba, classes),
        per_class=per_class,
        confusion_matrix={
            "labels": [str(c) for c in classes],
            "matrix": confusion_matrix(y_true, y_pred, labels=classes).tolist(),
        },
    )


def _roc_auc(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float | None:
    import numpy as np
    from sklearn.metrics import roc_auc_score

    present = np.unique(y_true)
    if len(present) < 2:
        return None  # undefined with one class in the test rows; reported as null, not 0
    if len(classes) == 2:
        return float(roc_auc_score(y_true == classes[1], proba[:, 1]))
    if len(present) < len(classes):
        return None
    return float(roc_auc_score(y_true, proba, multi_class="ovr", average="weighted", labels=classes))


def cross_validation(model: FittedModel, split: SplitRef, folds: int, random_state: int) -> dict[str, dict]:
    """Stratified k-fold CV of a fresh copy of the pipeline on the training rows."""
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_validate

    train = read_side(split, "train")
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    scores = cross_validate(clone(model.pipeline), train[split.features], train[split.target], cv=cv,
                            scoring=list(CV_SCORING))  # fmt: skip
    return {
        name: {"mean": float(np.mean(scores[f"test_{name}"])), "std": float(np.std(scores[f"test_{name}"]))}
        for name in CV_SCORING
    }
