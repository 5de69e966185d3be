"""Jobs logic shared by both routers: build parameters, trigger, find reusable runs, reconcile."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.gateway import TERMINAL, JobView, PrefectGateway
from api.schemas import JOB_TYPES, ChampionPublic
from trainyard.dataset_files import file_sha256
from trainyard.datasets.registry import request_spec
from trainyard.errors import DatasetError, UnsupportedTaskError
from trainyard.families import families, get_family
from trainyard.lineage import training_signature
from trainyard.params import PARAMS_BY_TYPE, ModelType, TrainAllParams, TrainingParams
from trainyard.registry import audit
from trainyard.registry.aliases import decision_of, holder
from trainyard.registry.audit import Action
from trainyard.registry.auth import Principal
from trainyard.registry.models import TrainingRun
from trainyard.registry.runs import (
    RunStart,
    ensure_run,
    find_by_idempotency_key,
    find_completed,
    get_run,
    set_outcome,
    update_run,
)
from trainyard.states import RunStatus, run_status

LISTED_TYPES = [*JOB_TYPES, "score"]  # GET /train/jobs?model_type=: the training jobs' types and the scoring one


def normalize_job_type(value: str, known: list[str] = JOB_TYPES) -> str | None:
    """The canonical spelling of a job type (case, ``_`` for ``-``), or None if there is no such type."""
    normalized = value.strip().lower().replace("_", "-")
    return normalized if normalized in known else None


def parse_job_type(value: str) -> str:
    """Canonical job type, or 400 naming the supported ones."""
    normalized = normalize_job_type(value)
    if normalized is None:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"Unsupported model type {value!r}. Supported types: {', '.join(JOB_TYPES)}",
        )
    return normalized


def build_params(job_type: str, fields: dict[str, Any], loc: tuple[str, ...] = ("body",)) -> TrainingParams:
    """Validate flow parameters; errors become a 422 whose ``loc`` names the offending key."""
    written: dict[str, str] = {}  # for `all`: the flow's field name -> the hyperparameters key as the caller wrote it
    try:
        if job_type == "all":
            per_type = fields.pop("hyperparameters", None) or {}
            written = {k.replace("-", "_"): k for k in per_type}
            return TrainAllParams(**fields, **{k.replace("-", "_"): v for k, v in per_type.items()})
        return PARAMS_BY_TYPE[ModelType(job_type)](**fields)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False)
        raise RequestValidationError([{**e, "loc": (*loc, *_as_written(e["loc"], written))} for e in errors]) from None


def _as_written(error_loc: tuple[Any, ...], written: dict[str, str]) -> tuple[Any, ...]:
    if error_loc and error_loc[0] in written:
        return ("hyperparameters", written[str(error_loc[0])], *error_loc[1:])
    return error_loc


@dataclass(frozen=True)
class DatasetIdentity:
    """What a run's dataset is: its file's content and its spec file's (in the reuse signature)."""

    sha256: str
    spec_sha256: str  # "" when no spec matches its header (the run then fails naming the registered ones)


def resolve_dataset(job_type: str, requested: str) -> DatasetIdentity:
    """Resolve a requested dataset, a registered name or a file inside the data roots, and hash its file.
    Refused with a 422 naming the ``dataset`` field: an unknown name (listing the registered ones), a path
    outside the data roots, a regression table for a family that trains classifiers only."""
    try:
        path, spec = request_spec(requested)
        if spec is not None and job_type in PARAMS_BY_TYPE:
            get_family(job_type).builder(spec.task)
        return DatasetIdentity(file_sha256(path), spec.sha256 if spec else "")
    except DatasetError as exc:
        msg = str(exc)
        if isinstance(exc, UnsupportedTaskError):
            able = [name for name, family in families().items() if spec is not None and spec.task in family.tasks]
            msg = f"dataset {requested!r} is a {spec.task} table and {exc}; families that train it: {', '.join(able)}"
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "dataset"), "msg": msg, "input": requested}]
        ) from None


def reusable_run(job_type: str, params: TrainingParams, dataset: DatasetIdentity) -> TrainingRun | None:
    """A completed run with the same model type, dataset content and spec, parameters and code, if any."""
    if job_type == "all":
        return None
    return find_completed(training_signature(job_type, dataset.sha256, dataset.spec_sha256, params))


def scoped_key(job_type: str, user: Principal, idempotency_key: str | None) -> str | None:
    """Keys are per caller and per job type, as Prefect's are per deployment."""
    return f"{user.id}:{job_type}:{idempotency_key}" if idempotency_key else None


def replayed_run(job_type: str, user: Principal, idempotency_key: str | None) -> TrainingRun | None:
    """The run an earlier request with this Idempotency-Key created, if any."""
    key = scoped_key(job_type, user, idempotency_key)
    return find_by_idempotency_key(key) if key else None


def trigger(
    gateway: PrefectGateway, job_type: str, params: TrainingParams, user: Principal, idempotency_key: str | None
) -> JobView:
    """Create the flow run and, for a single model, its registry row (so the run has an id at once)."""
    key = scoped_key(job_type, user, idempotency_key)
    job = gateway.trigger(job_type, {"params": params.model_dump(mode="json")}, key)
    if job_type != "all":
        ensure_run(
            RunStart(
                flow_run_id=job.id,
                model_type=job_type,
                parameters=params.model_dump(mode="json"),
                model_version=params.model_version,
                trained_by_username=user.username,
                notes=params.notes,
                idempotency_key=key,
            )
        )
    audit.record(Action.RUN_STARTED, actor=user.username, target=job.id,
                 detail={"job_type": job_type, "dataset": params.dataset, "idempotency_key": idempotency_key})
    return job


def terminal_record(gateway: PrefectGateway, job: JobView) -> TrainingRun | None:
    """The registry row of a finished job, reconciled; kept with the gateway's other reads of the run.

    A terminal job's row no longer changes until Prefect reports something new about the run (a UI
    retry), and that event drops the entry. Running jobs have no outcome yet: None without a read.
    """
    if job.state_type not in TERMINAL:
        return None
    return gateway.cache.get(("record", job.id), lambda: reconcile(job))


def reconcile(job: JobView) -> TrainingRun | None:
    """Bring the registry's copy of a job's status in line with Prefect (never the reverse): a final
    state with its message, or RUNNING again while a retried run reruns."""
    run = get_run(job.id)
    if run is None or run.status == run_status(job.state_type):
        return run
    if job.state_type in TERMINAL:
        set_outcome(job.id, run_status(job.state_type), job.state_name, job.message, at=job.ended_at)
    else:
        update_run(job.id, status=run_status(job.state_type), prefect_state=job.state_name, completed_at=None)
    return get_run(job.id)


def champion_view(run: TrainingRun | None) -> ChampionPublic | None:
    """Whether a run's registered model is champion now, and the run's own promotion decision."""
    if run is None or run.model_version is None or run.dataset_path is None:
        return None
    decision = decision_of(run.flow_run_id)
    if decision is None and run.status != RunStatus.COMPLETED:
        return None
    return ChampionPublic(
        is_champion=holder(run.model_type, run.dataset_path) == run.model_version,
        promoted=decision.promoted if decision else None,
        reason=decision.reason if decision else None,
    )
