"""What the three fit tasks share: read the training table, fit a pipeline, time it."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prefect import get_run_logger

from tasks.split import read_side
from trainyard import cancellation, progress
from trainyard.errors import TrainingError
from trainyard.refs import SplitRef

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline


@dataclass
class FittedModel:
    """A fitted pipeline and how it was made; lives in memory only (never cached or pickled)."""

    pipeline: Pipeline
    device: str
    hyperparameters: dict[str, Any]
    fit_seconds: float


def fit_pipeline(
    split: SplitRef, preprocessor: ColumnTransformer, estimator: Any, device: str, hyperparameters: dict[str, Any]
) -> FittedModel:
    """Fit ``preprocessor`` + ``estimator`` on the split's training side."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    logger = get_run_logger()
    train = read_side(split, "train")
    pipeline = Pipeline([("preprocess", preprocessor), ("model", estimator)])
    logger.info("fitting %s on %d rows x %d features (device %s)", type(estimator).__name__, len(train),
                len(split.features), device)  # fmt: skip
    started = time.perf_counter()
    try:
        if isinstance(estimator, RandomForestClassifier):
            fit_forest_in_batches(pipeline, train[split.features], train[split.target])
        else:
            pipeline.fit(train[split.features], train[split.target])
    except (ValueError, RuntimeError, MemoryError) as exc:
        raise TrainingError(f"fitting failed: {type(exc).__name__}: {exc}") from exc
    elapsed = time.perf_counter() - started
    logger.info("fitted in %.2fs", elapsed)
    return FittedModel(pipeline=pipeline, device=device, hyperparameters=hyperparameters, fit_seconds=elapsed)


def fit_forest_in_batches(pipeline: Pipeline, X: Any, y: Any) -> None:
    """Grow the pipeline's forest a few trees at a time (warm start), checking for a stop in between.

    The same forest as one ``fit``: scikit-learn draws each new tree's seed from the same stream.
    """
    preprocess, forest = pipeline.steps[0][1], pipeline.steps[-1][1]
    features = preprocess.fit_transform(X, y)
    total, step = forest.n_estimators, 2 * (os.cpu_count() or 1)
    for grown in range(min(step, total), total + step, step):
        forest.set_params(n_estimators=min(grown, total), warm_start=True)
        forest.fit(features, y)
        cancellation.check()
        progress.advance(min(grown, total), total, "trees")
    forest.set_params(warm_start=False)
