"""XGBoost's gradient-boosted trees, on CUDA when the worker has a GPU; saved in XGBoost's UBJ format."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from trainyard import cancellation, progress
from trainyard.devices import choose, cuda_device_count
from trainyard.estimators import LabelEncodedClassifier
from trainyard.families.base import Hyperparameters, ModelFamily
from trainyard.families.storage import classes_of, save_preprocessor, with_preprocessor
from trainyard.search_space import FloatRange, IntRange

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

MODEL_FILE = "model.ubj"


class XGBoostHyperparameters(Hyperparameters):
    n_estimators: int = Field(300, ge=1, le=10_000)
    max_depth: int = Field(6, ge=1, le=20)
    learning_rate: float = Field(0.1, gt=0, le=1)
    subsample: float = Field(1.0, gt=0, le=1)
    colsample_bytree: float = Field(1.0, gt=0, le=1)
    min_child_weight: float = Field(1.0, ge=0, le=1000)
    reg_lambda: float = Field(1.0, ge=0, le=1000)
    tree_method: Literal["hist", "approx", "exact"] = "hist"
    n_jobs: int = Field(-1, ge=-1, le=256)


def choose_device(requested: str) -> str:
    """cuda when XGBoost's build has CUDA and the driver reports a device (XGBoost itself only warns
    and falls back to the CPU when told ``cuda`` without a GPU)."""
    import xgboost

    return choose(requested, bool(xgboost.build_info().get("USE_CUDA")) and cuda_device_count() > 0, "XGBoost")


def round_callback(rounds: int = 0) -> Any:
    """A training callback run after every boosting round: checks for a stop, and reports the round to
    the run's progress (of ``rounds``, when given)."""
    from xgboost.callback import TrainingCallback

    class StopOnCancel(TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            cancellation.check()
            if rounds:
                progress.advance(epoch + 1, rounds, "boosting rounds")
            return False

    return StopOnCancel()


def build(hyperparameters: dict[str, Any], random_state: int, device: str) -> Any:
    from xgboost import XGBClassifier

    rounds = round_callback(hyperparameters["n_estimators"])  # stop checks and progress, every round
    return LabelEncodedClassifier(XGBClassifier(**hyperparameters, device=device, random_state=random_state,
                                                callbacks=[rounds]))  # fmt: skip


def build_regressor(hyperparameters: dict[str, Any], random_state: int, device: str) -> Any:
    from xgboost import XGBRegressor

    rounds = round_callback(hyperparameters["n_estimators"])
    return XGBRegressor(**hyperparameters, device=device, random_state=random_state, callbacks=[rounds])


def save(pipeline: Pipeline, folder: Path) -> dict[str, Any]:
    model = save_preprocessor(pipeline, folder)
    getattr(model, "estimator_", model).save_model(folder / MODEL_FILE)  # a classifier's, or the regressor
    return classes_of(model)


def load(folder: Path, manifest: dict[str, Any], device: str) -> Pipeline:
    import xgboost

    if "classes" not in manifest:
        regressor = xgboost.XGBRegressor()
        regressor.load_model(folder / MODEL_FILE)
        return with_preprocessor(folder, regressor)
    booster = xgboost.XGBClassifier()
    booster.load_model(folder / MODEL_FILE)
    return with_preprocessor(folder, LabelEncodedClassifier.from_fitted(booster, manifest["classes"]))


FAMILY = ModelFamily(
    name="xgboost",
    summary="XGBoost on one dataset; CUDA when the worker has a GPU.",
    hyperparameters=XGBoostHyperparameters,
    build=build,
    build_regressor=build_regressor,
    save=save,
    load=load,
    pool="gpu",
    choose_device=choose_device,
    impute=False,  # XGBoost takes NaN itself
    preload=("xgboost",),
    libraries=("xgboost",),
    smoke_hyperparameters={"n_estimators": 20},
    search_space={
        "n_estimators": IntRange(50, 1000, log=True),
        "max_depth": IntRange(2, 12),
        "learning_rate": FloatRange(0.005, 0.3, log=True),
        "subsample": FloatRange(0.5, 1.0),
        "colsample_bytree": FloatRange(0.5, 1.0),
        "min_child_weight": FloatRange(0.1, 20.0, log=True),
        "reg_lambda": FloatRange(1e-3, 100.0, log=True),
    },
)
