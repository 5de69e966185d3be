"""Flow parameter models, shared by the flows, the Prefect UI form and the API request bodies."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

MODEL_VERSION_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
ModelVersion = Annotated[str, Field(pattern=MODEL_VERSION_PATTERN)]


class ModelType(StrEnum):
    RANDOM_FOREST = "random-forest"
    XGBOOST = "xgboost"
    NEURAL_NET = "neural-net"

    @classmethod
    def parse(cls, value: str) -> ModelType:
        """Accept the canonical spelling or its underscore alias (``random_forest``)."""
        return cls(value.strip().lower().replace("_", "-"))


class _Strict(BaseModel):
    # No coercion: ``"n_jobs": false`` or ``"epochs": "10"`` is refused with the key named, not guessed at.
    model_config = ConfigDict(extra="forbid", strict=True)


class RandomForestHyperparameters(_Strict):
    n_estimators: int = Field(100, ge=1, le=1000)
    max_depth: int | None = Field(None, ge=1, le=100)
    min_samples_split: int = Field(2, ge=2, le=10_000)
    min_samples_leaf: int = Field(1, ge=1, le=10_000)
    max_features: Literal["sqrt", "log2"] | None = "sqrt"
    class_weight: Literal["balanced", "balanced_subsample"] | None = None
    n_jobs: int = Field(-1, ge=-1, le=256)


class XGBoostHyperparameters(_Strict):
    n_estimators: int = Field(300, ge=1, le=10_000)
    max_depth: int = Field(6, ge=1, le=20)
    learning_rate: float = Field(0.1, gt=0, le=1)
    subsample: float = Field(1.0, gt=0, le=1)
    colsample_bytree: float = Field(1.0, gt=0, le=1)
    min_child_weight: float = Field(1.0, ge=0, le=1000)
    reg_lambda: float = Field(1.0, ge=0, le=1000)
    tree_method: Literal["hist", "approx", "exact"] = "hist"
    n_jobs: int = Field(-1, ge=-1, le=256)


class NeuralNetHyperparameters(_Strict):
    hidden_layer_sizes: list[Annotated[int, Field(ge=1, le=4096)]] = Field(
        default_factory=lambda: [64, 32], min_length=1, max_length=8
    )
    dropout: float = Field(0.1, ge=0, lt=1)
    learning_rate: float = Field(1e-3, gt=0, le=1)
    weight_decay: float = Field(1e-4, ge=0, le=1)
    epochs: int = Field(30, ge=1, le=1000)
    batch_size: int = Field(256, ge=1, le=65_536)
    # Small-batch MLP steps are latency-bound: on 2 cores, 1 thread trained 3.6x faster than 2.
    num_threads: int = Field(1, ge=1, le=256)


class TrainingParams(_Strict):
    """What every training flow takes: a dataset reference, the split, and bookkeeping."""

    dataset: str = Field(
        "churn.csv",
        min_length=1,
        max_length=1024,
        description="CSV or Parquet file, relative to a data root or absolute inside one.",
    )
    test_split: float = Field(0.2, ge=0.1, le=0.5)
    random_state: int = Field(42, ge=0, le=2**32 - 1)
    use_cv: bool = False
    cv_folds: int = Field(5, ge=2, le=20)
    model_version: ModelVersion | None = None
    notes: str = Field("", max_length=10_000)
    trained_by: str | None = Field(None, max_length=150)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    promote: bool = Field(
        False,
        description="Compete for champion: the model becomes its type's and dataset's champion only if it beats "
        "the current one on this run's held-out rows (TRAINYARD_PROMOTION_METRIC, _MARGIN). Scheduled "
        "retraining sets it. The first model of a type and dataset is champion either way.",
    )


class RandomForestParams(TrainingParams):
    hyperparameters: RandomForestHyperparameters = Field(default_factory=RandomForestHyperparameters)


class XGBoostParams(TrainingParams):
    hyperparameters: XGBoostHyperparameters = Field(default_factory=XGBoostHyperparameters)


class NeuralNetParams(TrainingParams):
    hyperparameters: NeuralNetHyperparameters = Field(default_factory=NeuralNetHyperparameters)


class TrainAllParams(TrainingParams):
    random_forest: RandomForestHyperparameters = Field(default_factory=RandomForestHyperparameters)
    xgboost: XGBoostHyperparameters = Field(default_factory=XGBoostHyperparameters)
    neural_net: NeuralNetHyperparameters = Field(default_factory=NeuralNetHyperparameters)

    def for_model(self, model_type: ModelType) -> TrainingParams:
        """The single-model parameters this run hands to the flow of ``model_type``."""
        common = self.model_dump(exclude={"random_forest", "xgboost", "neural_net"})
        hyper = {
            ModelType.RANDOM_FOREST: (RandomForestParams, self.random_forest),
            ModelType.XGBOOST: (XGBoostParams, self.xgboost),
            ModelType.NEURAL_NET: (NeuralNetParams, self.neural_net),
        }[model_type]
        return hyper[0](**common, hyperparameters=hyper[1])


PARAMS_BY_TYPE: dict[ModelType, type[TrainingParams]] = {
    ModelType.RANDOM_FOREST: RandomForestParams,
    ModelType.XGBOOST: XGBoostParams,
    ModelType.NEURAL_NET: NeuralNetParams,
}

ModelParams = RandomForestParams | XGBoostParams | NeuralNetParams
