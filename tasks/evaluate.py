"""Evaluate step: hold-out metrics (a classifier's per-class metrics and confusion matrix, a regressor's
RMSE, MAE and R²), optional k-fold CV."""

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
# scikit-learn's scorers are "greater is better": errors come negated (reported as positive errors).
CV_REGRESSION_SCORING = {"rmse": "neg_root_mean_squared_error", "mae": "neg_mean_absolute_error", "r2": "r2"}


@dataclass
class Evaluation:
    """Hold-out metrics, and the predictions they came from (for the run's plots); in memory only."""

    metrics: Metrics
    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray | None = None  # a classifier's class probabilities
    classes: np.ndarray | None = None

    @property
    def is_regression(self) -> bool:
        return self.proba is None


@task(name="evaluate-model", cache_policy=NO_CACHE, persist_result=False)
def evaluate_model(
    model: FittedModel, split: SplitRef, use_cv: bool = False, cv_folds: int = 5, random_state: int = 42
) -> Evaluation:
    """Score the fitted model on the held-out rows (and by k-fold CV on the train rows: stratified for a
    classifier)."""
    evaluation = score_on_test_rows(model.pipeline, split)
    metrics = evaluation.metrics
    if use_cv:
        metrics.cv = cross_validation(model, split, cv_folds, random_state)
    if metrics.is_regression:
        get_run_logger().info("RMSE %.4g, MAE %.4g, R² %.4f", metrics.rmse, metrics.mae, metrics.r2)
    else:
        get_run_logger().info("accuracy %.4f, weighted F1 %.4f, ROC-AUC %s", metrics.accuracy, metrics.f1_score,
                              "n/a" if metrics.roc_auc is None else f"{metrics.roc_auc:.4f}")  # fmt: skip
    return evaluation


def score_on_test_rows(pipeline: Any, split: SplitRef) -> Evaluation:
    """Any fitted model's metrics on the split's held-out rows (the champion's, too): a classifier's when
    its model has classes, a regressor's otherwise."""
    import numpy as np

    test = read_side(split, "test")
    y_true = test[split.target].to_numpy()
    if not hasattr(pipeline[-1], "classes_"):
        y_pred = np.asarray(pipeline.predict(test[split.features]), dtype=np.float64)
        return Evaluation(regression_metrics(y_true, y_pred), y_true, y_pred)
    proba = pipeline.predict_proba(test[split.features])
    classes = pipeline.classes_
    y_pred = classes[np.argmax(proba, axis=1)]
    return Evaluation(compute_metrics(y_true, y_pred, proba, classes), y_true, y_pred, proba, classes)


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> Metrics:
    """RMSE, MAE and R² (pure, unit-tested)."""
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    return Metrics(rmse=float(root_mean_squared_error(y_true, y_pred)), mae=float(mean_absolute_error(y_true, y_pred)),
                   r2=float(r2_score(y_true, y_pred)))  # fmt: skip


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
    """k-fold CV (stratified for a classifier) of a fresh copy of the pipeline on the training rows, one
    fold at a time (so the run's progress shows the fold, and a cancel lands between folds)."""
    import numpy as np
    from sklearn.base import clone, is_regressor
    from sklearn.model_selection import KFold, StratifiedKFold, cross_validate

    train = read_side(split, "train")
    X, y = train[split.features], train[split.target]
    regression = is_regressor(model.pipeline[-1])
    scoring = CV_REGRESSION_SCORING if regression else {name: name for name in CV_SCORING}
    splitter = (KFold if regression else StratifiedKFold)(n_splits=folds, shuffle=True, random_state=random_state)
    scores: dict[str, list[float]] = {name: [] for name in scoring}
    for index, fold in enumerate(splitter.split(X, y)):
        with progress.stage(f"CV fold {index + 1}/{folds}", index / folds, (index + 1) / folds):
            result = cross_validate(clone(model.pipeline), X, y, cv=[fold], scoring=scoring)
        cancellation.check()
        for name, scorer in scoring.items():
            value = float(result[f"test_{name}"][0])
            scores[name].append(-value if scorer.startswith("neg_") else value)
    return {name: {"mean": float(np.mean(values)), "std": float(np.std(values))} for name, values in scores.items()}
