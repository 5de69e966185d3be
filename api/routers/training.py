"""The training-runs API: synchronous-or-async RandomForest training and run records."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse

from api import jobs
from api.deps import READ, TRAIN, GatewayDep, Reader, Trainer
from api.gateway import IdempotencyConflict, JobView
from api.responses import AUTHED, errors
from api.schemas import (
    TRAINING_RUNS_FAMILY,
    InvalidRequestPublic,
    ProgressPublic,
    TrainRunCreate,
    TrainRunDetail,
    TrainRunOutcome,
    TrainRunPublic,
    TrainRunsPublic,
)
from trainyard.errors import ErrorKind
from trainyard.registry.aliases import aliases_by_version
from trainyard.registry.models import TrainingRun
from trainyard.registry.runs import get_run_by_id, page_runs, running_flow_run_ids, version_claimed
from trainyard.settings import get_settings
from trainyard.states import JobStatus, RunStatus

router = APIRouter(prefix="/api/training", tags=["training runs"])


def invalid(details: dict[str, list[str]]) -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST, {"error": "Invalid request data", "details": details})


TRAIN_RESPONSES = {
    201: {"model": TrainRunOutcome, "description": "Trained; metrics included"},
    202: {"model": TrainRunOutcome, "description": "Started (async) or still running after the sync wait"},
    409: {"model": TrainRunOutcome, "description": "The run was cancelled (in the UI or through the jobs API)"},
    **errors(400, 500, *AUTHED, bodies={400: InvalidRequestPublic | TrainRunOutcome, 500: TrainRunOutcome}),
}
INVALID = errors(400, 404, *AUTHED, bodies={400: InvalidRequestPublic})


@router.post("/train/", status_code=201, dependencies=[Depends(TRAIN)], responses=TRAIN_RESPONSES)
def train(
    gateway: GatewayDep, user: Trainer, body: Annotated[TrainRunCreate | None, Body()] = None,
    key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> JSONResponse:  # fmt: skip
    """Train the RandomForest through its deployment; wait (bounded) for the outcome. Every field is
    optional: no body at all trains on the HR table with the defaults."""
    started = time.monotonic()
    body = body or TrainRunCreate()
    if (earlier := jobs.replayed_run(TRAINING_RUNS_FAMILY, user, key)) is not None:
        # A retried request: answer for the run it made (its generated version, not a new one).
        requested = {"dataset": body.dataset_path, "test_split": body.test_split, "notes": body.notes,
                     "hyperparameters": body.hyperparameters.model_dump(),
                     "model_version": body.model_version}  # fmt: skip
        if any(value is not None and earlier.parameters.get(name) != value for name, value in requested.items()):
            raise IdempotencyConflict(f"Idempotency-Key already used for run {earlier.id} with other parameters")
        version, job = earlier.model_version, gateway.get(earlier.flow_run_id)
    else:
        # A default version is chosen unclaimed; an explicit one may be registered or in training.
        if body.model_version is not None and version_claimed(TRAINING_RUNS_FAMILY, body.model_version):
            raise invalid({"model_version": [f"Model version {body.model_version!r} already exists."]})
        version = body.model_version or _default_version()
        fields = {"dataset": body.dataset_path, "test_split": body.test_split, "use_cv": False,
                  "hyperparameters": body.hyperparameters.model_dump(), "model_version": version,
                  "notes": body.notes, "trained_by": user.username}  # fmt: skip
        params = jobs.build_params(TRAINING_RUNS_FAMILY, fields)
        jobs.resolve_dataset(TRAINING_RUNS_FAMILY, params.dataset)  # refuse bad datasets before anything runs
        job = jobs.trigger(gateway, TRAINING_RUNS_FAMILY, params, user, key)
    if not body.async_training:
        job = gateway.wait(job.id, timeout=get_settings().sync_wait_seconds)
    run = jobs.reconcile(job)
    assert run is not None  # trigger() created it
    if job.status is JobStatus.COMPLETED:
        elapsed = time.monotonic() - started
        metrics = {"accuracy": run.accuracy, "precision": run.precision, "recall": run.recall,
                   "f1_score": run.f1_score, "training_duration_seconds": run.training_duration_seconds}  # fmt: skip
        return JSONResponse(
            {"training_run_id": run.id, "status": RunStatus.COMPLETED, "model_version": version, "metrics": metrics,
             "message": f"Training completed successfully in {elapsed:.2f}s"},
            status_code=201,
        )  # fmt: skip
    if job.status is JobStatus.CANCELLED:  # an operator's decision, not a training error
        return JSONResponse(
            {"training_run_id": run.id, "status": RunStatus.CANCELLED, "message": "Training was cancelled",
             "error": run.error_message or job.message or job.state_name},
            status_code=409,
        )  # fmt: skip
    if job.status is JobStatus.FAILED:
        return failed_response(run, job)
    message = "Training started asynchronously" if body.async_training else "Training still running; poll the run"
    return JSONResponse(
        {"training_run_id": run.id, "status": RunStatus.RUNNING, "message": message, "model_version": version,
         "job_id": job.id},
        status_code=202,
    )  # fmt: skip


def failed_response(run: TrainingRun, job: JobView) -> JSONResponse:
    """A failed run's answer: 400 when the data was at fault, 500 for training; told by the error's type
    (recorded with the run as its ``error_kind``), never by its message."""
    data = run.error_kind == ErrorKind.DATA
    return JSONResponse(
        {"training_run_id": run.id, "status": RunStatus.FAILED, "message": "Data loading or validation failed"
         if data else "Training failed", "error": run.error_message or job.message or job.state_name},
        status_code=400 if data else 500,
    )  # fmt: skip


@router.get("/runs/", response_model=TrainRunsPublic, dependencies=[Depends(READ)], responses=INVALID)
def list_runs(
    request: Request, gateway: GatewayDep, _user: Reader,
    page: Annotated[int, Query(ge=1, le=2**31)] = 1, page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    status_: Annotated[str | None, Query(alias="status")] = None,
    trained_by: Annotated[str | None, Query(max_length=150)] = None,
    model_type: Annotated[str | None, Query(max_length=32)] = None,
) -> TrainRunsPublic:  # fmt: skip
    """Training runs newest first (``-run_date, -id``), paginated like Django REST framework."""
    wanted = None
    if status_ is not None:
        try:
            wanted = RunStatus(status_.upper())
        except ValueError:
            raise invalid({"status": [f"Unknown status {status_!r}; allowed: {', '.join(RunStatus)}"]}) from None
    _reconcile_running(gateway)
    total, rows = page_runs(page, page_size, wanted, trained_by, model_type)
    if rows == [] and page > 1:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Invalid page.")
    url = request.url
    next_url = str(url.include_query_params(page=page + 1)) if page * page_size < total else None
    previous = str(url.include_query_params(page=page - 1)) if page > 1 else None
    return TrainRunsPublic(count=total, next=next_url, previous=previous,
                           results=[TrainRunPublic.model_validate(r, from_attributes=True) for r in rows])  # fmt: skip


@router.get("/runs/{run_id}/", response_model=TrainRunDetail, dependencies=[Depends(READ)], responses=INVALID)
def run_detail(run_id: Annotated[int, Path(ge=1, le=2**63 - 1)], gateway: GatewayDep, _user: Reader) -> TrainRunDetail:
    """One run with its lineage, per-class metrics and error message."""
    run = get_run_by_id(run_id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Training run not found.")
    progress = None
    with contextlib.suppress(LookupError):  # a run whose flow run Prefect no longer has keeps its record
        job = gateway.get(run.flow_run_id)
        run = jobs.reconcile(job) or run
        found = gateway.progress(job)
        progress = ProgressPublic(fraction=found.fraction, step=found.step)
    aliases = aliases_by_version().get((run.model_type, run.model_version or ""), [])
    return TrainRunDetail.model_validate(
        {**{c: getattr(run, c) for c in TrainRunDetail.model_fields if hasattr(run, c)},
         "n_estimators": run.hyperparameters.get("n_estimators"), "aliases": aliases,
         "champion": jobs.champion_view(run), "progress": progress}
    )  # fmt: skip


def _default_version() -> str:
    """``api_v<YYYYmmdd_HHMMSS>`` (the contract's default), with ``_2``, ``_3``... if a run already claimed
    that second's: runs now finish within a second, so two trainings can start in the same one."""
    stamp = f"api_v{datetime.now(UTC):%Y%m%d_%H%M%S}"
    candidates = (stamp, *(f"{stamp}_{n}" for n in range(2, 1000)))
    return next(v for v in candidates if not version_claimed(TRAINING_RUNS_FAMILY, v))


def _reconcile_running(gateway: GatewayDep) -> None:
    """Runs the registry still calls RUNNING are checked against Prefect (bounded per request)."""
    for flow_run_id in running_flow_run_ids(limit=50):
        try:
            jobs.reconcile(gateway.get(flow_run_id))
        except LookupError:
            continue
