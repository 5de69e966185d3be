"""Small, JSON-serialisable results passed between tasks and cached by Prefect (never DataFrames)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class DatasetRef(BaseModel):
    """A dataset file as loaded: where it is, its content hash, and its staged copy (Arrow IPC)."""

    path: str
    sha256: str
    rows: int
    columns: list[str]
    kind: str  # the dataset spec's name
    spec_sha256: str = ""  # of its spec file: an edited spec validates again
    staged: str


class ValidatedDataset(BaseModel):
    dataset: DatasetRef
    staged: str
    rows: int
    class_counts: dict[str, int]


class SplitRef(BaseModel):
    """A train/test split: row positions (staged) into the validated table, not copies of it."""

    dataset: DatasetRef
    table: str
    train: str
    test: str
    train_rows: int
    test_rows: int
    test_split: float
    random_state: int
    features: list[str]
    target: str


CLASSIFIER_FIELDS = ("accuracy", "precision", "recall", "f1_score", "precision_macro", "recall_macro", "f1_macro",
                     "roc_auc", "confusion_matrix")  # fmt: skip
REGRESSOR_FIELDS = ("rmse", "mae", "r2")


class Metrics(BaseModel):
    """Hold-out metrics: a classifier's (accuracy … confusion matrix) or a regressor's (RMSE, MAE, R²)."""

    accuracy: float | None = None
    precision: float | None = None
    recall: float | None = None
    f1_score: float | None = None
    precision_macro: float | None = None
    recall_macro: float | None = None
    f1_macro: float | None = None
    roc_auc: float | None = None
    per_class: dict[str, dict[str, float | int]] = {}
    confusion_matrix: dict[str, Any] = {}
    rmse: float | None = None
    mae: float | None = None
    r2: float | None = None
    cv: dict[str, dict[str, float]] | None = None

    @property
    def is_regression(self) -> bool:
        return self.rmse is not None

    def headline(self) -> dict[str, Any]:
        """The task's own metrics, without per-class rows and CV (what the registry's ``metrics`` holds)."""
        other = CLASSIFIER_FIELDS if self.is_regression else REGRESSOR_FIELDS
        return self.model_dump(exclude={"per_class", "cv", *other})


class TrainingOutcome(BaseModel):
    """What a training flow returns."""

    training_run_id: int
    flow_run_id: str
    model_type: str
    model_version: str
    model_path: str
    model_sha256: str
    device: str
    training_duration_seconds: float
    metrics: Metrics


class ScoringOutcome(BaseModel):
    """What the ``score`` flow returns, and the registry's scoring run holds."""

    flow_run_id: str
    model_type: str
    model_version: str
    dataset: str  # the model's dataset spec, which the rows passed
    input_path: str
    input_sha256: str
    rows: int
    output_location: str
    output_sha256: str
    seconds: float


class RunRecord(BaseModel):
    """The registry row a flow run writes to; ``finished`` when its model is already registered (a
    retry of a completed run), which the flow then returns as it is."""

    training_run_id: int
    flow_run_id: str
    model_version: str
    finished: TrainingOutcome | None = None
