"""scikit-learn's random forest, on the CPU, grown in batches of trees so a cancel stops it within seconds."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from trainyard import cancellation, progress
from trainyard.families.base import Hyperparameters, ModelFamily, classifier_only
from trainyard.families.storage import save_skops_pipeline, skops_pipeline_loader
from trainyard.search_space import Choice, IntRange

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

SKOPS_TYPES = frozenset({
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._tree.Tree",
})  # fmt: skip
BATCH_SECONDS = 1.5  # how long one batch of trees may take: the most a cancel waits for the forest


class RandomForestHyperparameters(Hyperparameters):
    n_estimators: int = Field(100, ge=1, le=1000)
    max_depth: int | None = Field(None, ge=1, le=100)
    min_samples_split: int = Field(2, ge=2, le=10_000)
    min_samples_leaf: int = Field(1, ge=1, le=10_000)
    max_features: Literal["sqrt", "log2"] | None = "sqrt"
    class_weight: Literal["balanced", "balanced_subsample"] | None = None
    n_jobs: int = Field(-1, ge=-1, le=256)


def build(hyperparameters: dict[str, Any], random_state: int, device: str) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(**hyperparameters, random_state=random_state)


def build_regressor(hyperparameters: dict[str, Any], random_state: int, device: str) -> Any:
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(**classifier_only(hyperparameters, "class_weight"), random_state=random_state)


def fit_in_batches(pipeline: Pipeline, X: Any, y: Any) -> None:
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


FAMILY = ModelFamily(
    name="random-forest",
    summary="RandomForest on one dataset (CPU).",
    hyperparameters=RandomForestHyperparameters,
    build=build,
    build_regressor=build_regressor,
    save=save_skops_pipeline,
    load=skops_pipeline_loader(SKOPS_TYPES),
    fit=fit_in_batches,
    preload=("sklearn.ensemble",),
    skops_types=SKOPS_TYPES,
    smoke_hyperparameters={"n_estimators": 20},
    search_space={
        "n_estimators": IntRange(50, 500, log=True),
        "max_depth": IntRange(3, 40),
        "min_samples_split": IntRange(2, 20),
        "min_samples_leaf": IntRange(1, 10),
        "max_features": Choice(("sqrt", "log2", None)),
    },
)
