"""What the three fit tasks share: read the training table, fit a pipeline, time it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prefect import get_run_logger

from tasks.split import read_side
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
    from sklearn.pipeline import Pipeline

    logger = get_run_logger()
    train = read_side(split, "train")
    pipeline = Pipeline([("preprocess", preprocessor), ("model", estimator)])
    logger.info("fitting %s on %d rows x %d features (device %s)", type(estimator).__name__, len(train),
                len(split.features), device)  # fmt: skip
    started = time.perf_counter()
    try:
        pipeline.fit(train[split.features], train[split.target])
    except (ValueError, RuntimeError, MemoryError) as exc:
        raise TrainingError(f"fitting failed: {type(exc).__name__}: {exc}") from exc
    elapsed = time.perf_counter() - started
    logger.info("fitted in %.2fs", elapsed)
    return FittedModel(pipeline=pipeline, device=device, hyperparameters=hyperparameters, fit_seconds=elapsed)
