"""What a model family is: everything trainyard needs to know to train, save, load and deploy it.

A family is one module of ``trainyard.families`` (or of a package registered under the
``trainyard.families`` entry-point group) that defines ``FAMILY = ModelFamily(...)``. Flows,
deployments, the API's ``model_type``, ``train-all``, the warm servers' preload and lineage all read
the registry (``trainyard.families.registry``); no other module names a family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from trainyard.errors import UnsupportedTaskError
from trainyard.search_space import SearchSpace

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

Pool = Literal["cpu", "gpu"]


class Hyperparameters(BaseModel):
    """Base of every family's hyperparameters: strict, so ``"epochs": "10"`` is refused with the key
    named, never guessed at; defaults and bounds are the family's."""

    model_config = ConfigDict(extra="forbid", strict=True)


def cpu_only(requested: str) -> str:
    """The device of a family that trains on the CPU only, whatever was asked."""
    return "cpu"


def classifier_only(hyperparameters: dict[str, Any], *names: str) -> dict[str, Any]:
    """``hyperparameters`` for the family's regressor, without ``names`` (classifier options); a
    ValueError naming any of them that was set."""
    set_ = [name for name in names if hyperparameters.get(name) is not None]
    if set_:
        raise ValueError(f"{', '.join(set_)} applies to classification only; leave it unset for a regression dataset")
    return {key: value for key, value in hyperparameters.items() if key not in names}


def fit_pipeline(pipeline: Pipeline, X: Any, y: Any) -> None:
    """The default fit: the whole pipeline at once."""
    pipeline.fit(X, y)


@dataclass(frozen=True)
class ModelFamily:
    """One model family, as the rest of trainyard sees it."""

    name: str  # the API's model_type, the deployment's name, the flow's "train-<name>"
    summary: str  # one line: the flow's and the deployment's description
    hyperparameters: type[Hyperparameters]
    # (hyperparameters as a dict, random_state, device) -> an unfitted estimator with the scikit-learn API
    build: Callable[[dict[str, Any], int, str], Any]
    # (fitted pipeline, an empty folder) -> extra manifest entries; writes the model's files there, no pickle
    save: Callable[[Pipeline, Path], dict[str, Any]]
    # (the model's verified folder, its manifest, device) -> the fitted pipeline
    load: Callable[[Path, dict[str, Any], str], Pipeline]
    # the same for a regression target; None: the family trains classifiers only
    build_regressor: Callable[[dict[str, Any], int, str], Any] | None = None
    pool: Pool = "cpu"  # the work pool its deployment goes to (gpu: CUDA when the worker has it)
    choose_device: Callable[[str], str] = cpu_only  # "auto" | "cpu" | "cuda" -> the device it will use
    impute: bool = True  # median-impute numeric columns first (False: the estimator takes NaN itself)
    scale: bool = False  # standardise numeric columns
    fit: Callable[[Pipeline, Any, Any], None] = fit_pipeline  # a fit loop of its own (batches, stop checks)
    preload: tuple[str, ...] = ()  # modules its pool's warm server imports before forking runs
    libraries: tuple[str, ...] = ()  # distributions whose versions its runs record
    skops_types: frozenset[str] = field(default_factory=frozenset)  # types its skops files may hold
    smoke_hyperparameters: dict[str, Any] = field(default_factory=dict)  # a fit of about a second, for tests
    # What a sweep may vary (trainyard.search_space), inside the hyperparameters' bounds; empty: not sweepable
    search_space: SearchSpace = field(default_factory=dict)

    @property
    def tasks(self) -> tuple[str, ...]:
        """The dataset tasks it trains: classification, and regression when it has ``build_regressor``."""
        return ("classification", "regression") if self.build_regressor else ("classification",)

    def builder(self, task: str) -> Callable[[dict[str, Any], int, str], Any]:
        """Its estimator factory for a dataset ``task``; UnsupportedTaskError when it does not train that task."""
        if task not in self.tasks:
            raise UnsupportedTaskError(f"{self.name} does not train {task} models (it trains: {', '.join(self.tasks)})")
        return self.build_regressor if task == "regression" else self.build  # type: ignore[return-value]

    @property
    def flow_name(self) -> str:
        return f"train-{self.name}"

    @property
    def attribute(self) -> str:
        """Its name as a Python identifier: ``random_forest`` (flow attributes, train-all's fields)."""
        return self.name.replace("-", "_")

    @property
    def deployment(self) -> str:
        """``<flow name>/<deployment name>``, as Prefect names a deployment."""
        return f"{self.flow_name}/{self.name}"
