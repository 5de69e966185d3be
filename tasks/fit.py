"""Fit step: the family's estimator behind the dataset's preprocessor, on the family's device."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.split import read_side
from trainyard.datasets import get_spec
from trainyard.errors import TrainingError
from trainyard.families import ModelFamily, get_family
from trainyard.refs import SplitRef

if TYPE_CHECKING:
    from pydantic import BaseModel
    from sklearn.pipeline import Pipeline


@dataclass
class FittedModel:
    """A fitted pipeline and how it was made; lives in memory only (never cached or pickled)."""

    pipeline: Pipeline
    device: str
    hyperparameters: dict[str, Any]
    fit_seconds: float


@task(name="fit-model", cache_policy=NO_CACHE, persist_result=False)
def fit_model(family_name: str, split: SplitRef, hyperparameters: BaseModel, random_state: int,
              device: str = "auto") -> FittedModel:  # fmt: skip
    """Train the family's estimator on the split's training side."""
    family = get_family(family_name)
    chosen = family.choose_device(device)
    params = hyperparameters.model_dump()
    build = family.builder(get_spec(split.dataset.kind).task)
    try:
        estimator = build(params, random_state, chosen)
    except ValueError as exc:  # a hyperparameter the dataset's task has no use for
        raise TrainingError(f"{family.name}: {exc}") from None
    return fit_pipeline(family, split, estimator, chosen, params)


def fit_task(family: ModelFamily) -> Any:
    """``fit_model`` as the family's own task (``fit-<family>`` on the run's page)."""
    return fit_model.with_options(name=f"fit-{family.name}")


def fit_pipeline(family: ModelFamily, split: SplitRef, estimator: Any, device: str,
                 hyperparameters: dict[str, Any]) -> FittedModel:  # fmt: skip
    """Fit the dataset's preprocessor + ``estimator`` with the family's fit loop."""
    from sklearn.pipeline import Pipeline

    from trainyard.preprocessing import build_preprocessor

    logger = get_run_logger()
    train = read_side(split, "train")
    preprocessor = build_preprocessor(get_spec(split.dataset.kind), impute=family.impute, scale=family.scale)
    pipeline = Pipeline([("preprocess", preprocessor), ("model", estimator)])
    logger.info("fitting %s on %d rows x %d features (device %s)", type(estimator).__name__, len(train),
                len(split.features), device)  # fmt: skip
    started = time.perf_counter()
    try:
        family.fit(pipeline, train[split.features], train[split.target])
    except (ValueError, RuntimeError, MemoryError) as exc:
        raise TrainingError(f"fitting failed: {type(exc).__name__}: {exc}") from exc
    elapsed = time.perf_counter() - started
    logger.info("fitted in %.2fs", elapsed)
    return FittedModel(pipeline=pipeline, device=device, hyperparameters=hyperparameters, fit_seconds=elapsed)
