"""Evaluate step: hold-out metrics, per-class metrics, confusion matrix, optional k-fold CV."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.split import read_side
from trainyard import cancellation, progress
from trainyard.refs import Metrics, SplitRef

if TYPE_CHECKING:
    import numpy as np

    from tasks.fit import FittedModel

# scikit-learn and numpy are imported inside the functions: importing them here would add ~1.5 s
# to flow-module import, i.e. to every run's time to Running.

CV_SCORING = ("accuracy", "precision_weighted", "recall_weighted", "f1_weighted")


@dataclass
class Evaluation:
    """Hold-out metrics, and the predictions they came from (for the run's plots); in memory only."""

    metrics: Metrics
    y_true: np.ndarray
    proba: np.ndarray
    classes: np.ndarray


@task(name="evaluate-model", cache_policy=NO_CACHE, persist_result=False)
def evaluate_model(
    model: FittedModel, split: SplitRef, use_cv: bool = False, cv_folds: int = 5, random_state: int = 42
) -> Evaluation:
    """Score the fitted model on the held-out rows (and by stratified k-fold CV on the train rows)."""
    evaluation = score_on_test_rows(model.pipeline, split)
    metrics = evaluation.metrics
    if use_cv:
        metrics.cv = cross_validation(model, split, cv_folds, random_state)
    get_run_logger().info("accuracy %.4f, weighted F1 %.4f, ROC-AUC %s", metrics.accuracy, metrics.f1_score,
                          "n/a" if metrics.roc_auc is None else f"{metrics.roc_auc:.4f}")  # fmt: skip
    return evaluation


def score_on_test_rows(pipeline: Any, split: SplitRef) -> Evaluation:
    """Any fitted classifier's metrics on the split's held-out rows (the champion's, too)."""
    import numpy as np

    test = read_side(split, "test")
    y_true = test[split.target].to_numpy()
    proba = pipeline.predict_proba(test[split.features])
    classes = pipeline.classes_
    y_pred = classes[np.argmax(proba, axis=1)]
    return Evaluation(compute_metrics(y_true, y_pred, proba, classes), y_true, proba, classes)


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
    """Stratified k-fold CV of a fresh copy of the pipeline on the training rows, one fold at a time
    (so the run's progress shows the fold, and a cancel lands between folds)."""
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_validate

    train = read_side(split, "train")
    X, y = train[split.features], train[split.target]
    scores: dict[str, list[float]] = {name: [] for name in CV_SCORING}
    for index, fold in enumerate(StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state).split(X, y)):
        with progress.stage(f"CV fold {index + 1}/{folds}", index / folds, (index + 1) / folds):
            result = cross_validate(clone(model.pipeline), X, y, cv=[fold], scoring=list(CV_SCORING))
        cancellation.check()
        for name in CV_SCORING:
            scores[name].append(float(result[f"test_{name}"][0]))
    return {name: {"mean": float(np.mean(values)), "std": float(np.std(values))} for name, values in scores.items()}
