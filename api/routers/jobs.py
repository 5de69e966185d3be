"""The jobs API: trigger, status, list, cancel, available models."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Path, Query, status
from fastapi.exceptions import RequestValidationError

from api import jobs
from api.deps import READ, TRAIN, GatewayDep, Reader, Trainer
from api.gateway import JobNotFound, JobView, Progress
from api.responses import AUTHED, errors
from api.schemas import (
    AliasEventPublic,
    AliasPublic,
    AliasRequest,
    CancelPublic,
    JobPublic,
    JobsPublic,
    JobStatusPublic,
    ModelPublic,
    ModelsPublic,
    ProgressPublic,
    ScoringPublic,
    SubJob,
    TrainingRequest,
    TrainOptions,
    TrainResponse,
)
from trainyard.artifact_store import get_store
from trainyard.errors import ArtifactError
from trainyard.model_store import local_copy, verify
from trainyard.params import MODEL_VERSION_PATTERN, ModelType
from trainyard.registry import audit
from trainyard.registry.aliases import (
    ALIAS_PATTERN,
    AliasChange,
    AliasConflict,
    UnknownModelVersion,
    aliases_by_version,
    history,
    remove_alias,
    set_alias,
)
from trainyard.registry.audit import Action
from trainyard.registry.runs import list_model_versions
from trainyard.registry.scoring import get_scoring
from trainyard.settings import get_settings
from trainyard.states import TERMINAL_JOB_STATUSES, JobStatus

router = APIRouter(tags=["jobs"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]
# Documented as an enum; matched leniently (case, ``_`` for ``-``) and answered 400 per the contract.
JobTypePath = Annotated[str, Path(json_schema_extra={"enum": jobs.JOB_TYPES})]


def _start(gateway: GatewayDep, job_type: str, options: TrainOptions, user: Trainer, key: str | None) -> TrainResponse:
    fields = {"use_cv": options.use_cv, "hyperparameters": options.hyperparameters or {}, "trained_by": user.username,
              "promote": options.promote}  # fmt: skip
    if options.dataset:
        fields["dataset"] = options.dataset
    params = jobs.build_params(job_type, fields)
    # Refuses paths outside the data roots (and a table the family cannot train), whatever `retrain` says.
    dataset = jobs.resolve_dataset(job_type, params.dataset)
    ui = get_settings().prefect_ui_url
    if not options.retrain and (previous := jobs.reusable_run(job_type, params, dataset)) is not None:
        return TrainResponse(job_id=previous.flow_run_id, status="completed", cached=True, model_type=job_type,
                             message=f"Model for {job_type} is up to date (run {previous.id}); nothing trained",
                             prefect_ui_url=f"{ui}/runs/flow-run/{previous.flow_run_id}")  # fmt: skip
    job = jobs.trigger(gateway, job_type, params, user, key)
    return TrainResponse(job_id=job.id, status=job.status, message=f"Training initiated for {job_type}",
                         model_type=job_type, prefect_ui_url=f"{ui}/runs/flow-run/{job.id}")  # fmt: skip


@router.post("/train/{model_type}", response_model=TrainResponse, dependencies=[Depends(TRAIN)],
             responses=errors(400, *AUTHED))  # fmt: skip
def train_model_type(
    model_type: JobTypePath, gateway: GatewayDep, user: Trainer, key: IdempotencyKey = None,
    options: Annotated[TrainOptions | None, Body()] = None,
) -> TrainResponse:  # fmt: skip
    """Start training one model type (or ``all``)."""
    return _start(gateway, jobs.parse_job_type(model_type), options or TrainOptions(), user, key)


@router.post("/train", response_model=TrainResponse, dependencies=[Depends(TRAIN)], responses=errors(400, *AUTHED))
def train(request: TrainingRequest, gateway: GatewayDep, user: Trainer, key: IdempotencyKey = None) -> TrainResponse:
    """Start training from a TrainingRequest body; ``all`` trains every family as sub-jobs."""
    return _start(gateway, jobs.parse_job_type(request.model_type), request, user, key)


def _get_job(gateway: GatewayDep, job_id: str) -> JobView:
    try:
        return gateway.get(job_id)
    except JobNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Job ID not found") from None


def _public(job: JobView) -> JobPublic:
    ended = job.ended_at if job.status in TERMINAL_JOB_STATUSES else None
    return JobPublic(job_id=job.id, status=job.status, prefect_state=job.state_name, model_type=job.model_type,
                     started_at=job.started_at, completed_at=ended)  # fmt: skip


@router.get("/train/status/{job_id}", response_model=JobStatusPublic, dependencies=[Depends(READ)],
            responses=errors(404, *AUTHED))  # fmt: skip
def job_status(job_id: str, gateway: GatewayDep, _user: Reader) -> JobStatusPublic:
    """Live status from Prefect, plus what the run produced (from the registry)."""
    job = _get_job(gateway, job_id)
    run = jobs.terminal_record(gateway, job)
    completed = job.status is JobStatus.COMPLETED and run is not None
    sub_jobs = [
        SubJob(job_id=c.id, model_type=c.model_type, status=c.status, prefect_state=c.state_name,
               progress=_progress(gateway.progress(c)))
        for c in (gateway.children(job.id) if job.model_type == "all" else [])
    ]  # fmt: skip
    error = None
    if job.status is JobStatus.FAILED:
        error = (run.error_message if run else None) or job.message
    return JobStatusPublic(
        **_public(job).model_dump(),
        model_path=run.model_path if completed else None,
        metrics=({**run.metrics, "per_class": run.per_class_metrics, "cv": run.cv_metrics} if completed else None),
        error=error,
        logs=gateway.logs(job.id),
        sub_jobs=sub_jobs,
        message=gateway.waiting_reason(job),
        progress=_progress(gateway.progress(job)),
        champion=jobs.champion_view(run) if completed else None,
        scoring=_scoring(job.id) if job.model_type == "score" else None,
    )


def _scoring(job_id: str) -> ScoringPublic | None:
    record = get_scoring(job_id)
    return None if record is None else ScoringPublic.model_validate(record, from_attributes=True)


def _progress(progress: Progress) -> ProgressPublic:
    return ProgressPublic(fraction=progress.fraction, step=progress.step)


@router.get("/train/jobs", response_model=JobsPublic, dependencies=[Depends(READ)], responses=errors(*AUTHED))
def list_jobs(
    gateway: GatewayDep, _user: Reader, limit: Annotated[int, Query(ge=1, le=100)] = 10,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    model_type: Annotated[str | None, Query(json_schema_extra={"enum": jobs.LISTED_TYPES})] = None,
) -> JobsPublic:  # fmt: skip
    """Training jobs newest first (scoring jobs with ``model_type=score``); ``total_count`` counts all
    matches, ``filtered_count`` this page."""
    types = jobs.JOB_TYPES
    if model_type is not None:
        normalized = jobs.normalize_job_type(model_type, jobs.LISTED_TYPES)
        if normalized is None:
            known = ", ".join(jobs.LISTED_TYPES)
            raise RequestValidationError([{"type": "enum", "loc": ("query", "model_type"), "input": model_type,
                                           "msg": f"Input should be one of: {known}"}])  # fmt: skip
        types = [normalized]
    found, total = gateway.list(limit, [status_] if status_ else [], types)
    return JobsPublic(jobs=[_public(job) for job in found], total_count=total, filtered_count=len(found))


@router.delete("/train/job/{job_id}", response_model=CancelPublic, dependencies=[Depends(TRAIN)],
               responses=errors(400, 404, *AUTHED))  # fmt: skip
def cancel_job(job_id: str, gateway: GatewayDep, user: Trainer) -> CancelPublic:
    """Real cancellation: the worker terminates the run's process; sub-jobs of ``all`` are cancelled too."""
    job = _get_job(gateway, job_id)
    if job.status in TERMINAL_JOB_STATUSES:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"Cannot cancel job with status: {job.status}")
    # Sub-jobs first: once Cancelled, Prefect keeps them so, and their persist step registers nothing.
    children = [child for child in (gateway.children(job.id) if job.model_type == "all" else [])
                if child.status not in TERMINAL_JOB_STATUSES]  # fmt: skip
    for child in children:
        gateway.cancel(child, has_own_process=False)
    new_status = gateway.cancel(job)
    audit.record(Action.RUN_CANCELLED, actor=user.username, target=job.id,
                 detail={"job_type": job.model_type, "sub_jobs": [child.id for child in children],
                         "status": str(new_status)})  # fmt: skip
    return CancelPublic(message=f"Job {job_id} cancelled successfully", job_id=job_id, status=new_status)


@router.get("/train/models/available", response_model=ModelsPublic, dependencies=[Depends(READ)],
            responses=errors(*AUTHED))  # fmt: skip
def available_models(_user: Reader) -> ModelsPublic:
    """Models that a completed run wrote and whose files still match their recorded hashes."""
    found: dict[str, ModelPublic] = {}
    aliases = aliases_by_version()
    store = get_store()
    for version, run in list_model_versions():
        modified = _intact_since(version.path, version.sha256)
        if modified is None:
            continue
        found[f"{version.model_type}/{version.version}"] = ModelPublic(
            path=version.path, type=version.model_type, size=version.size_bytes, version=version.version,
            modified=modified, job_id=run.flow_run_id, sha256=version.sha256, metrics=run.metrics,
            dataset=run.dataset_path, aliases=aliases.get((version.model_type, version.version), []),
        )  # fmt: skip
    return ModelsPublic(available_models=found, models_directory=store.location("models"))


def _intact_since(location: str, manifest_sha256: str) -> datetime | None:
    """When the model at ``location`` was written, if its files still match their hashes; else None.

    A model in an object store is checked through its local copy (fetched and verified once)."""
    try:
        verify(local_copy(location, manifest_sha256), manifest_sha256)
        return get_store().modified(f"{location.rstrip('/')}/manifest.json")
    except (OSError, ValueError, ArtifactError):
        return None


ModelTypePath = Annotated[str, Path(json_schema_extra={"enum": [str(t) for t in ModelType]})]
VersionPath = Annotated[str, Path(pattern=MODEL_VERSION_PATTERN)]
AliasPath = Annotated[str, Path(pattern=ALIAS_PATTERN)]


def _model_type(value: str) -> str:
    try:
        return str(ModelType.parse(value))
    except ValueError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"Unsupported model type {value!r}. Supported types: "
                            f"{', '.join(str(t) for t in ModelType)}") from None  # fmt: skip


@contextmanager
def _alias_errors() -> Iterator[None]:
    """An unknown model version is 404; an alias another writer kept moving, 409."""
    try:
        yield
    except UnknownModelVersion as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except AliasConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


def _alias_public(change: AliasChange) -> AliasPublic:
    return AliasPublic(model_type=change.model_type, dataset=change.dataset, alias=change.alias, version=change.version,
                       previous_version=change.previous_version, set_by=change.actor, set_at=change.at)  # fmt: skip


@router.post("/train/models/{model_type}/{version}/aliases", response_model=AliasPublic, dependencies=[Depends(TRAIN)],
             responses=errors(400, 404, 409, *AUTHED))  # fmt: skip
def add_alias(model_type: ModelTypePath, version: VersionPath, request: AliasRequest, user: Trainer) -> AliasPublic:
    """Point an alias (``champion``, or any name) at a model version of a model type and dataset, moving it
    from the version that carried it; audited (who, when, previous holder)."""
    with _alias_errors():
        return _alias_public(set_alias(_model_type(model_type), version, request.alias, user.username))


@router.delete("/train/models/{model_type}/{version}/aliases/{alias}", response_model=AliasPublic,
               dependencies=[Depends(TRAIN)], responses=errors(400, 404, 409, *AUTHED))  # fmt: skip
def delete_alias(model_type: ModelTypePath, version: VersionPath, alias: AliasPath, user: Trainer) -> AliasPublic:
    """Take an alias off a model version; audited."""
    with _alias_errors():
        return _alias_public(remove_alias(_model_type(model_type), version, alias, user.username))


@router.get("/train/models/alias-events", response_model=list[AliasEventPublic], dependencies=[Depends(READ)],
            responses=errors(*AUTHED))  # fmt: skip
def alias_events(_user: Reader, model_type: Annotated[ModelType | None, Query()] = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[AliasEventPublic]:  # fmt: skip
    """The audit trail of aliases, newest first: manual changes and retraining's promotions."""
    return [AliasEventPublic.model_validate(e, from_attributes=True)
            for e in history(str(model_type) if model_type else None, limit)]  # fmt: skip
