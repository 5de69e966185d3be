"""A logistic-regression baseline (scikit-learn) on imputed, scaled features; saved with skops."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from trainyard.families.base import Hyperparameters, ModelFamily
from trainyard.families.storage import save_skops_pipeline, skops_pipeline_loader
from trainyard.search_space import Choice, FloatRange

SKOPS_TYPES = frozenset({"sklearn.linear_model._logistic.LogisticRegression"})


class LogisticRegressionHyperparameters(Hyperparameters):
    C: float = Field(1.0, gt=0, le=1e6, description="Inverse regularisation strength.")
    max_iter: int = Field(1000, ge=1, le=100_000)
    class_weight: Literal["balanced"] | None = None
    tol: float = Field(1e-4, gt=0, le=1)


def build(hyperparameters: dict[str, Any], random_state: int, device: str) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**hyperparameters, random_state=random_state)


FAMILY = ModelFamily(
    name="logistic-regression",
    summary="A logistic-regression baseline on one dataset (CPU).",
    hyperparameters=LogisticRegressionHyperparameters,
    build=build,
    save=save_skops_pipeline,
    load=skops_pipeline_loader(SKOPS_TYPES),
    scale=True,
    preload=("sklearn.linear_model",),
    skops_types=SKOPS_TYPES,
    smoke_hyperparameters={"max_iter": 200},
    search_space={"C": FloatRange(1e-3, 1e3, log=True), "class_weight": Choice((None, "balanced"))},
)
