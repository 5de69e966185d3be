"""One trial's score: the family's pipeline with the sampled hyperparameters, cross-validated fold by fold on
the training rows only, the running mean reported after each fold so a pruner can stop a hopeless trial."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainyard import cancellation
from trainyard.datasets.spec import LOWER_IS_BETTER, DatasetSpec
from trainyard.errors import TrainingError

if TYPE_CHECKING:
    import pandas as pd

    from trainyard.families.base import ModelFamily

# The dataset spec's metrics as scikit-learn scorers, with the averaging the hold-out metrics use
# (tasks/evaluate.compute_metrics: weighted precision, recall and F1; macro F1). Errors come negated.
SCORERS = {"accuracy": "accuracy", "precision": "precision_weighted", "recall": "recall_weighted",
           "f1_score": "f1_weighted", "f1_macro": "f1_macro", "roc_auc": "roc_auc_ovr_weighted",
           "rmse": "neg_root_mean_squared_error", "mae": "neg_mean_absolute_error", "r2": "r2"}  # fmt: skip


class Pruned(Exception):
    """The pruner asked this trial to stop after a fold."""


@dataclass(frozen=True)
class TrainingRows:
    """The training side of a split: the only rows a trial sees."""

    X: pd.DataFrame
    y: pd.Series
    spec: DatasetSpec


def direction(metric: str) -> str:
    """Optuna's study direction for a spec metric."""
    return "minimize" if metric in LOWER_IS_BETTER else "maximize"


def cross_validated(
    family: ModelFamily,
    hyperparameters: dict[str, Any],
    rows: TrainingRows,
    metric: str,
    *,
    folds: int = 3,
    random_state: int = 42,
    device: str = "cpu",
    report: Callable[[int, float], bool] | None = None,
) -> float:
    """The mean of ``metric`` over ``folds`` folds (stratified for a classifier) of the training rows, in the
    metric's own sense (an RMSE is positive). ``report(fold, running mean)`` is called after each fold;
    when it answers True the trial is pruned (``Pruned``)."""
    import numpy as np
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.pipeline import Pipeline

    from trainyard.preprocessing import build_preprocessor

    if metric not in SCORERS:
        raise TrainingError(f"no cross-validation scorer for metric {metric!r}; one of {', '.join(SCORERS)}")
    checked = family.hyperparameters.model_validate(hyperparameters).model_dump()
    build = family.builder(rows.spec.task)
    scorer = get_scorer(SCORERS[metric])
    sign = -1.0 if SCORERS[metric].startswith("neg_") else 1.0
    regression = rows.spec.task == "regression"
    splitter = (KFold if regression else StratifiedKFold)(n_splits=folds, shuffle=True, random_state=random_state)
    scores: list[float] = []
    for index, (train, held_out) in enumerate(splitter.split(rows.X, rows.y)):
        preprocessor = build_preprocessor(rows.spec, impute=family.impute, scale=family.scale)
        pipeline = Pipeline([("preprocess", preprocessor), ("model", build(dict(checked), random_state, device))])
        family.fit(pipeline, rows.X.iloc[train], rows.y.iloc[train])
        scores.append(sign * float(scorer(pipeline, rows.X.iloc[held_out], rows.y.iloc[held_out])))
        cancellation.check()
        if report is not None and report(index, float(np.mean(scores))):
            raise Pruned(f"pruned after fold {index + 1} of {folds} at {np.mean(scores):.4g}")
    return float(np.mean(scores))
