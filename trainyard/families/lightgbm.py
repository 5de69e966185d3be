"""LightGBM's gradient-boosted trees on the CPU; saved in LightGBM's own text model format (no pickle)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from trainyard import cancellation, progress
from trainyard.estimators import LabelEncodedClassifier
from trainyard.families.base import Hyperparameters, ModelFamily
from trainyard.families.storage import save_preprocessor, with_preprocessor

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

MODEL_FILE = "model.lgb.txt"


class LightGBMHyperparameters(Hyperparameters):
    n_estimators: int = Field(200, ge=1, le=10_000)
    num_leaves: int = Field(31, ge=2, le=131_072)
    max_depth: int = Field(-1, ge=-1, le=64)
    learning_rate: float = Field(0.1, gt=0, le=1)
    subsample: float = Field(1.0, gt=0, le=1)
    colsample_bytree: float = Field(1.0, gt=0, le=1)
    min_child_samples: int = Field(20, ge=1, le=100_000)
    reg_lambda: float = Field(0.0, ge=0, le=1000)
    n_jobs: int = Field(-1, ge=-1, le=256)


def on_every_round(rounds: int) -> Any:
    """A LightGBM callback: checks for a stop after every boosting round and reports it as progress."""

    def callback(env: Any) -> None:
        cancellation.check()
        progress.advance(env.iteration + 1, rounds, "boosting rounds")

    return callback


def build(hyperparameters: dict[str, Any], random_state: int, device: str) -> Any:
    from lightgbm import LGBMClassifier

    class StoppableLGBMClassifier(LGBMClassifier):
        """LightGBM takes callbacks in ``fit`` only: this one always passes the stop/progress check."""

        def fit(self, X: Any, y: Any, **kwargs: Any) -> Any:
            return super().fit(X, y, callbacks=[on_every_round(self.n_estimators)], **kwargs)

    return LabelEncodedClassifier(StoppableLGBMClassifier(**hyperparameters, random_state=random_state, verbose=-1))


class BoosterProbabilities:
    """A booster loaded from its text file, answering ``predict_proba`` as the classifier it was saved from."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def predict_proba(self, X: Any) -> np.ndarray:
        probabilities = self.booster.predict(np.asarray(X, dtype=np.float64))
        return np.column_stack([1 - probabilities, probabilities]) if probabilities.ndim == 1 else probabilities


def save(pipeline: Pipeline, folder: Path) -> dict[str, Any]:
    model = save_preprocessor(pipeline, folder)
    model.estimator_.booster_.save_model(str(folder / MODEL_FILE))
    return {"classes": model.classes_.tolist()}


def load(folder: Path, manifest: dict[str, Any], device: str) -> Pipeline:
    import lightgbm

    booster = lightgbm.Booster(model_file=str(folder / MODEL_FILE))
    return with_preprocessor(folder, LabelEncodedClassifier.from_fitted(BoosterProbabilities(booster),
                                                                        manifest["classes"]))  # fmt: skip


FAMILY = ModelFamily(
    name="lightgbm",
    summary="LightGBM on one dataset (CPU).",
    hyperparameters=LightGBMHyperparameters,
    build=build,
    save=save,
    load=load,
    impute=False,  # LightGBM takes NaN itself
    preload=("lightgbm",),
    libraries=("lightgbm",),
    smoke_hyperparameters={"n_estimators": 20},
)
