"""Request and response bodies of both contracts (field names are the seeds')."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from trainyard.datasets.schedules import check_cron, check_timezone
from trainyard.families import get_family
from trainyard.params import ModelType, ModelVersion, ScoreParams
from trainyard.registry.aliases import ALIAS_PATTERN

JOB_TYPES = [*(str(t) for t in ModelType), "all"]
# The training-runs API trains this one family: its hyperparameters are that API's body.
TRAINING_RUNS_FAMILY = "random-forest"
TrainingRunsHyperparameters = get_family(TRAINING_RUNS_FAMILY).hyperparameters


LEGACY_DATA_DIR = "ml/data/"  # where the original Django service kept its datasets


class _Body(BaseModel):
    # Strict: ``"use_cv": 0`` or ``"retrain": "yes"`` is a client bug to report, not to guess at.
    model_config = ConfigDict(extra="forbid", strict=True)


# --- jobs API ---
class TrainOptions(_Body):
    retrain: bool = False
    use_cv: bool = True
    hyperparameters: dict[str, Any] | None = None
    dataset: str | None = Field(None, max_length=1024)
    promote: bool = Field(
        False, description="Compete for champion: promoted only if it beats the current champion on its held-out rows"
    )


class TrainingRequest(TrainOptions):
    # The enum is documentation; api.jobs.parse_job_type matches leniently and answers 400 per the contract.
    model_type: str = Field(json_schema_extra={"enum": JOB_TYPES})


class TrainResponse(BaseModel):
    job_id: str
    status: str
    message: str
    model_type: str
    prefect_ui_url: str
    cached: bool = False


class ChampionPublic(BaseModel):
    is_champion: bool = Field(description="The model carries the champion alias now")
    promoted: bool | None = Field(description="The run's own decision: it made its model champion (None: not taken)")
    reason: str | None = Field(description="Why it was or was not promoted")


class ProgressPublic(BaseModel):
    fraction: float = Field(description="0 to 1, as the run last published it (at most once a second)")
    step: str = Field(description='The step it is in, e.g. "fit: 12/30 epochs" or "evaluate: CV fold 2/5"')


class SubJob(BaseModel):
    job_id: str
    model_type: str
    status: str
    prefect_state: str
    progress: ProgressPublic | None = None


class JobPublic(BaseModel):
    job_id: str
    status: str
    prefect_state: str
    model_type: str
    started_at: datetime | None
    completed_at: datetime | None


class JobStatusPublic(JobPublic):
    model_path: str | None
    metrics: dict[str, Any] | None
    error: str | None
    logs: list[str]
    sub_jobs: list[SubJob]
    message: str | None = Field(
        None, description="Why a job that has not started cannot start now (no live worker, paused pool)"
    )
    progress: ProgressPublic
    scoring: ScoringPublic | None = Field(None, description="A score job's model version, input and predictions file")
    champion: ChampionPublic | None = Field(
        None, description="Whether the job's model became champion, and why (single-model jobs that registered one)"
    )


class JobsPublic(BaseModel):
    jobs: list[JobPublic]
    total_count: int
    filtered_count: int


class CancelPublic(BaseModel):
    message: str
    job_id: str
    status: str


class ModelPublic(BaseModel):
    path: str
    type: str
    size: int
    modified: datetime
    version: str
    job_id: str
    sha256: str
    metrics: dict[str, Any]
    dataset: str | None = None
    aliases: list[str] = Field(default_factory=list, description="e.g. ['champion']; set through the aliases route")


class AliasRequest(_Body):
    alias: str = Field(pattern=ALIAS_PATTERN, description="`champion`, or a free-form name such as `staging`")


class AliasPublic(BaseModel):
    model_type: str
    dataset: str
    alias: str
    version: str | None = Field(description="The version that carries it now (None: removed)")
    previous_version: str | None
    set_by: str
    set_at: datetime


class AliasEventPublic(BaseModel):
    model_type: str
    dataset: str
    alias: str
    version: str | None
    previous_version: str | None
    actor: str
    reason: str
    at: datetime


class ModelsPublic(BaseModel):
    available_models: dict[str, ModelPublic]
    models_directory: str


# --- training-runs API ---
class TrainRunCreate(_Body):
    dataset_path: str = Field(
        "future_skills_dataset.csv",
        min_length=1,
        max_length=1024,
        description="Inside a data root; the original service's `ml/data/` prefix names the root.",
    )

    @field_validator("dataset_path")
    @classmethod
    def _legacy_data_dir(cls, value: str) -> str:
        """The original service kept its datasets in ``ml/data/``: here that directory is the data roots."""
        return value.removeprefix(LEGACY_DATA_DIR) or value

    test_split: float = Field(0.2, ge=0.1, le=0.5)
    hyperparameters: TrainingRunsHyperparameters = Field(default_factory=TrainingRunsHyperparameters)
    model_version: ModelVersion | None = None
    notes: str = Field("", max_length=10_000)
    async_training: bool = False


class TrainRunMetrics(BaseModel):
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1_score: float | None
    training_duration_seconds: float | None


class TrainRunPublic(BaseModel):
    id: int
    run_date: datetime
    model_version: str | None
    model_type: str
    status: str
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1_score: float | None
    training_duration_seconds: float | None
    trained_by_username: str | None


class TrainRunDetail(TrainRunPublic):
    model_path: str | None
    dataset_path: str | None
    dataset_sha256: str | None
    error_message: str | None
    total_samples: int | None
    train_samples: int | None
    test_samples: int | None
    test_split: float | None
    n_estimators: int | None
    random_state: int | None
    hyperparameters: dict[str, Any]
    per_class_metrics: dict[str, Any]
    cv_metrics: dict[str, Any] | None
    features_used: list[str]
    notes: str
    flow_run_id: str
    device: str | None
    aliases: list[str] = Field(default_factory=list, description="Aliases its model version carries now")
    champion: ChampionPublic | None = None
    progress: ProgressPublic | None = None


class TrainRunsPublic(BaseModel):
    count: int
    next: str | None
    previous: str | None
    results: list[TrainRunPublic]


class TokenPublic(BaseModel):
    token: str


class TokenRequest(_Body):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)


# --- error bodies (documented in OpenAPI through api.responses) ---
class ErrorPublic(BaseModel):
    detail: str


class InvalidRequestPublic(BaseModel):
    error: str
    details: dict[str, list[str]]


class LoginErrorPublic(BaseModel):
    non_field_errors: list[str]


class ThrottledPublic(BaseModel):
    detail: str
    retry_after: int = Field(description="Seconds to wait, as the Retry-After header says.")


class TrainRunOutcome(BaseModel):
    """What POST /api/training/train/ answers: 201 done, 202 still running, 400/500 failed."""

    training_run_id: int
    status: str
    message: str
    model_version: str | None = None
    metrics: TrainRunMetrics | None = None
    error: str | None = None
    job_id: str | None = None


# --- scoring ---
MAX_PREDICT_ROWS = 1000


# The score flow's parameters but who asked (the API fills it in from the token).
ScoreRequest: type[BaseModel] = create_model(
    "ScoreRequest", __base__=_Body,
    **{name: (field.annotation, field) for name, field in ScoreParams.model_fields.items() if name != "requested_by"},
)  # fmt: skip


class ScoringPublic(BaseModel):
    model_type: str | None
    model_version: str | None
    dataset_path: str | None
    input_sha256: str | None
    rows: int | None
    output_location: str | None = Field(description="The predictions file, once written")
    output_sha256: str | None


class PredictRequest(_Body):
    rows: list[dict[str, Any]] = Field(min_length=1, description=f"Up to {MAX_PREDICT_ROWS} rows, each a mapping of "
                                       "the model's dataset columns (the target may be left out)")


class PredictPublic(BaseModel):
    model_type: str
    model_version: str = Field(description="The version that answered")
    dataset: str = Field(description="The dataset spec the rows were checked against")
    task: Literal["classification", "regression"]
    predictions: list[Any] = Field(description="A label per row (classification) or a value (regression)")
    probabilities: list[dict[str, float]] | None = Field(description="Per row, each class's probability; null "
                                                         "for regression")


# --- datasets ---


class ColumnPublic(BaseModel):
    type: Literal["id", "category", "float", "int", "flag"]
    min: float | None = None
    max: float | None = None
    nullable: bool = False


class DatasetPublic(BaseModel):
    name: str
    file: str
    task: Literal["classification", "regression"]
    target: str
    classes: list[str] | list[int] | None = Field(description="A classification target's classes; null for regression")
    primary_metric: str = Field(description="What the champion gate compares (rmse and mae: lower is better)")
    spec_sha256: str
    builtin: bool
    columns: dict[str, ColumnPublic]


class DatasetsPublic(BaseModel):
    datasets: list[DatasetPublic]
    count: int


# --- schedules ---


class ScheduleCreate(_Body):
    """One entry of a spec's ``schedules:``, for one dataset: retrain ``families`` or ``score`` with one model."""

    dataset: str = Field(max_length=64, description="A registered dataset (GET /datasets)")
    cron: str = Field(max_length=128, description="Five fields: minute hour day-of-month month day-of-week")
    timezone: str = Field("UTC", max_length=64, description="IANA time zone the cron is read in")
    families: list[Annotated[str, Field(max_length=64)]] | None = Field(
        None, min_length=1, max_length=32, description="Families to retrain (one Prefect schedule each), or [\"all\"]"
    )
    score: str | None = Field(None, max_length=128, description="Score the table with family@alias or family:version")
    promote: bool = Field(False, description="Training only: a retrained model competes for champion")
    active: bool = Field(True, description="false: declared paused")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return check_cron(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)

    @model_validator(mode="after")
    def _one_job(self) -> ScheduleCreate:
        if (self.families is None) == (self.score is None):
            raise ValueError("give families (retrain) or score (a model reference), not both nor neither")
        if self.score is not None and self.promote:
            raise ValueError("promote applies to training; a score schedule has no champion gate")
        return self


class ScheduleUpdate(_Body):
    active: bool = Field(description="false pauses the schedule (its future runs are withdrawn), true resumes it")


class SchedulePublic(BaseModel):
    id: str = Field(description="<dataset>.<job>.<digest of its time>: the slug Prefect's UI shows")
    dataset: str
    kind: Literal["train", "score"]
    job: str = Field(description="The family retrained, all, or score")
    model: str | None = Field(description="What a score schedule scores with")
    cron: str
    timezone: str
    promote: bool
    active: bool = Field(description="Prefect's state when deployed (a pause in its UI shows here at once)")
    deployed: bool = Field(description="Prefect holds it (false: see problem)")
    deployment: str = Field(description="The Prefect deployment it is a schedule of")
    deployment_paused: bool
    next_run_at: datetime | None = Field(description="When it fires next; null when paused or not deployed")
    problem: str | None = Field(None, description="Why it cannot be deployed (e.g. its family is gone)")
    prefect_ui_url: str | None = Field(None, description="The deployment's page, where it can be paused")


class SchedulesPublic(BaseModel):
    schedules: list[SchedulePublic]
    count: int


class AuditEntryPublic(BaseModel):
    id: int
    at: datetime
    actor: str | None = Field(description="A user name (the one tried, for a login), `cli:<os user>`, or a flow.")
    action: str
    outcome: str = Field(description="ok, failed or throttled")
    target: str | None = Field(description="What it was done to: a user, a token id, a run id, an alias, a schedule")
    address: str | None = Field(description="The client's address, for a login")
    detail: dict[str, Any]


class AuditPublic(BaseModel):
    total: int = Field(description="Entries matching the filters")
    limit: int
    offset: int
    entries: list[AuditEntryPublic] = Field(description="Newest first")
