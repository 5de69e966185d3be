"""LightGBM's gradient-boosted trees on the CPU; saved in LightGBM's own text model format (no pickle)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field
from sklearn.base import BaseEstimator

from trainyard import cancellation, progress
from trainyard.estimators import LabelEncodedClassifier
from trainyard.families.base import Hyperparameters, ModelFamily
from trainyard.families.storage import classes_of, save_preprocessor, with_preprocessor
from trainyard.search_space import FloatRange, IntRange

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


def stoppable(estimator_class: type) -> type:
    """``estimator_class`` (LightGBM's classifier or regressor) always passing the stop/progress check:
    LightGBM takes callbacks in ``fit`` only."""

    class Stoppable(estimator_class):  # type: ignore[misc, valid-type]
        def fit(self, X: Any, y: Any, **kwargs: Any) -> Any:
            return super().fit(X, y, callbacks=[on_every_round(self.n_estimators)], **kwargs)

    Stoppable.__name__ = Stoppable.__qualname__ = f"Stoppable{estimator_class.__name__}"
    return Stoppable


def build(hyperparameters: dict[str, Any], random_state: int, device: str) -> Any:
    from lightgbm import LGBMClassifier

    return LabelEncodedClassifier(stoppable(LGBMClassifier)(**hyperparameters, random_state=random_state, verbose=-1))


def build_regressor(hyperparameters: dict[str, Any], random_state: int, device: str) -> Any:
    from lightgbm import LGBMRegressor

    return stoppable(LGBMRegressor)(**hyperparameters, random_state=random_state, verbose=-1)


class LoadedBooster(BaseEstimator):
    """A booster loaded from its text file, answering as the classifier (``predict_proba``) or the
    regressor (``predict``) it was saved from."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def fit(self, X: Any, y: Any) -> LoadedBooster:
        raise TypeError("a loaded LightGBM model predicts only; train a new version instead")

    def __sklearn_is_fitted__(self) -> bool:  # a pipeline checks its last step is fitted before predicting
        return True

    def predict(self, X: Any) -> np.ndarray:
        """A regression booster's predicted values."""
        return self.booster.predict(np.asarray(X, dtype=np.float64))

    def predict_proba(self, X: Any) -> np.ndarray:
        probabilities = self.booster.predict(np.asarray(X, dtype=np.float64))
        return np.column_stack([1 - probabilities, probabilities]) if probabilities.ndim == 1 else probabilities


def save(pipeline: Pipeline, folder: Path) -> dict[str, Any]:
    model = save_preprocessor(pipeline, folder)
    getattr(model, "estimator_", model).booster_.save_model(str(folder / MODEL_FILE))
    return classes_of(model)


def load(folder: Path, manifest: dict[str, Any], device: str) -> Pipeline:
    import lightgbm

    booster = LoadedBooster(lightgbm.Booster(model_file=str(folder / MODEL_FILE)))
    if "classes" not in manifest:
        return with_preprocessor(folder, booster)
    return with_preprocessor(folder, LabelEncodedClassifier.from_fitted(booster,
                                                                        manifest["classes"]))  # fmt: skip


FAMILY = ModelFamily(
    name="lightgbm",
    summary="LightGBM on one dataset (CPU).",
    hyperparameters=LightGBMHyperparameters,
    build=build,
    build_regressor=build_regressor,
    save=save,
    load=load,
    impute=False,  # LightGBM takes NaN itself
    preload=("lightgbm",),
    libraries=("lightgbm",),
    smoke_hyperparameters={"n_estimators": 20},
    search_space={
        "n_estimators": IntRange(50, 1000, log=True),
        "num_leaves": IntRange(8, 256, log=True),
        "learning_rate": FloatRange(0.005, 0.3, log=True),
        "subsample": FloatRange(0.5, 1.0),
        "colsample_bytree": FloatRange(0.5, 1.0),
        "min_child_samples": IntRange(5, 100, log=True),
        "reg_lambda": FloatRange(1e-3, 100.0, log=True),
    },
)
