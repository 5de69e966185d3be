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


BATCH_SECONDS = 1.5  # how long one batch of trees may take: the most a cancel waits for the forest


def fit_forest_in_batches(pipeline: Pipeline, X: Any, y: Any) -> None:
    """Grow the pipeline's forest a batch of trees at a time (warm start), checking for a stop in between.

    The same forest as one ``fit``: scikit-learn draws each new tree's seed from the same stream. Every
    batch ends on a barrier (all cores wait for its last tree), so batches are as large as
    ``BATCH_SECONDS`` allows: sized from the time the trees so far took, in multiples of the core count.
    """
    preprocess, forest = pipeline.steps[0][1], pipeline.steps[-1][1]
    features = preprocess.fit_transform(X, y)
    cores = os.cpu_count() or 1
    total, grown, batch = forest.n_estimators, 0, 2 * cores
    started = time.perf_counter()
    while grown < total:
        grown = min(grown + batch, total)
        forest.set_params(n_estimators=grown, warm_start=True)
        forest.fit(features, y)
        cancellation.check()
        progress.advance(grown, total, "trees")
        per_tree = (time.perf_counter() - started) / grown
        batch = max(2 * cores, cores * int(BATCH_SECONDS / max(per_tree * cores, 1e-6)))
    forest.set_params(warm_start=False)
