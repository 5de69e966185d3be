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


class Metrics(BaseModel):
    accuracy: float
    precision: float
    recall: float
    f1_score: float
    precision_macro: float
    recall_macro: float
    f1_macro: float
    roc_auc: float | None
    per_class: dict[str, dict[str, float | int]]
    confusion_matrix: dict[str, Any]
    cv: dict[str, dict[str, float]] | None = None


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


class RunRecord(BaseModel):
    """The registry row a flow run writes to; ``finished`` when its model is already registered (a
    retry of a completed run), which the flow then returns as it is."""

    training_run_id: int
    flow_run_id: str
    model_version: str
    finished: TrainingOutcome | None = None
