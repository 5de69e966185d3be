"""Registry writes and reads for training runs and model versions."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect.client.schemas.objects import StateType
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trainyard.errors import DuplicateVersionError, RegistryError
from trainyard.registry.db import retry_on_disconnect, session_scope
from trainyard.registry.models import ModelVersionRecord, TrainingRun, utcnow
from trainyard.states import RunStatus, default_state_name


@dataclass
class RunStart:
    """What is known about a run when it is triggered or starts."""

    flow_run_id: str
    model_type: str
    parameters: dict[str, Any] = field(default_factory=dict)
    parent_flow_run_id: str | None = None
    model_version: str | None = None
    trained_by_username: str | None = None
    notes: str = ""
    idempotency_key: str | None = None


@retry_on_disconnect
def ensure_run(start: RunStart, *, started: bool = False) -> TrainingRun:
    """Get or create the run row for ``start.flow_run_id``; the API and the flow may race here."""
    for _ in range(2):
        try:
            with session_scope() as session:
                run = _by_flow_run(session, start.flow_run_id)
                if run is None:
                    run = TrainingRun(
                        flow_run_id=start.flow_run_id,
                        model_type=start.model_type,
                        status=RunStatus.RUNNING,
                        notes=start.notes,
                        parameters=start.parameters,
                        hyperparameters=start.parameters.get("hyperparameters", {}),
                        test_split=start.parameters.get("test_split"),
                        random_state=start.parameters.get("random_state"),
                        dataset_path=start.parameters.get("dataset"),
                        parent_flow_run_id=start.parent_flow_run_id,
                        model_version=start.model_version,
                        trained_by_username=start.trained_by_username,
                        idempotency_key=start.idempotency_key,
                    )
                    session.add(run)
                else:
                    run.model_version = run.model_version or start.model_version
                    run.parent_flow_run_id = run.parent_flow_run_id or start.parent_flow_run_id
                    run.parameters = run.parameters or start.parameters
                if started:
                    _mark_started(run)
                session.flush()
                return run
        except IntegrityError:
            continue  # the other writer inserted first: read its row on the next pass
    raise RegistryError(f"could not create the run record for flow run {start.flow_run_id}")


def _mark_started(run: TrainingRun) -> None:
    """The flow's first task runs: the row says RUNNING, also when this is a retry of a failed or
    cancelled attempt. A run whose model is registered keeps its outcome (nothing is redone)."""
    run.started_at = run.started_at or utcnow()
    if run.model_versions:
        return
    run.status, run.prefect_state, run.completed_at = RunStatus.RUNNING, default_state_name(StateType.RUNNING), None


def _by_flow_run(session: Session, flow_run_id: str) -> TrainingRun | None:
    return session.scalar(select(TrainingRun).where(TrainingRun.flow_run_id == flow_run_id))


def _apply(session: Session, flow_run_id: str, values: dict[str, Any]) -> TrainingRun:
    run = _by_flow_run(session, flow_run_id)
    if run is None:
        raise RegistryError(f"no training run for flow run {flow_run_id}")
    for key, value in values.items():
        setattr(run, key, value)
    return run


def get_run(flow_run_id: str) -> TrainingRun | None:
    with session_scope() as session:
        return _by_flow_run(session, flow_run_id)


@retry_on_disconnect
def update_run(flow_run_id: str, **values: Any) -> TrainingRun:
    """Set columns on the run of ``flow_run_id``."""
    with session_scope() as session:
        return _apply(session, flow_run_id, values)


def set_outcome(
    flow_run_id: str, status: RunStatus, state_name: str, message: str | None, at: datetime | None = None
) -> None:
    """Record a terminal state; a completed run keeps its metrics, a failed one its error."""
    values: dict[str, Any] = {"status": status, "prefect_state": state_name, "completed_at": at or utcnow()}
    if status != RunStatus.COMPLETED and message:
        values["error_message"] = message
    # No record means the run never reached its first task: there is nothing to mark.
    with contextlib.suppress(RegistryError):
        update_run(flow_run_id, **values)


@retry_on_disconnect
def complete_run(flow_run_id: str, version: ModelVersionRecord | None, **values: Any) -> TrainingRun:
    """Store a finished run's results and its model version in one transaction. Repeatable: a version
    this run already registered (a commit whose answer a dropped connection lost) is not added again."""
    with session_scope() as session:
        run = _apply(session, flow_run_id, values)
        # Read before the flush: after a failed flush the session refuses attribute access.
        name = version.version if version is not None else run.model_version
        taken = f"{name!r} already exists for {run.model_type}"
        if version is not None and _registered_by(session, run, version):
            version = None
        if version is not None:
            version.training_run_id = run.id
            session.add(version)
        try:
            session.flush()
        except IntegrityError as exc:
            raise DuplicateVersionError(f"model version {taken}") from exc
        return run


def _registered_by(session: Session, run: TrainingRun, version: ModelVersionRecord) -> bool:
    existing = session.scalar(
        select(ModelVersionRecord).where(
            ModelVersionRecord.model_type == version.model_type, ModelVersionRecord.version == version.version
        )
    )
    return existing is not None and existing.training_run_id == run.id


def registered_run(
    flow_run_id: str | None = None, *, parent: str | None = None, model_type: str | None = None
) -> TrainingRun | None:
    """The run of ``flow_run_id`` (or the ``model_type`` sub-run of ``parent``) if its model version is
    registered: a retry of it has nothing left to redo."""
    query = select(TrainingRun).join(ModelVersionRecord, ModelVersionRecord.training_run_id == TrainingRun.id)
    if flow_run_id is not None:
        query = query.where(TrainingRun.flow_run_id == flow_run_id)
    else:
        query = query.where(TrainingRun.parent_flow_run_id == parent, TrainingRun.model_type == model_type)
    with session_scope() as session:
        return session.scalar(query.order_by(TrainingRun.id.desc()).limit(1))


def run_of_version(model_type: str, version: str) -> TrainingRun | None:
    """The training run that produced model ``version`` of ``model_type``."""
    query = (
        select(TrainingRun)
        .join(ModelVersionRecord, ModelVersionRecord.training_run_id == TrainingRun.id)
        .where(ModelVersionRecord.model_type == model_type, ModelVersionRecord.version == version)
    )
    with session_scope() as session:
        return session.scalar(query.limit(1))


def version_taken(model_type: str, version: str) -> bool:
    return get_model_version(model_type, version) is not None


def version_claimed(model_type: str, version: str) -> bool:
    """Registered, or named by a run of that type still running or completed (a failed or
    cancelled run gives its version back)."""
    if version_taken(model_type, version):
        return True
    with session_scope() as session:
        claim = select(TrainingRun.id).where(
            TrainingRun.model_type == model_type,
            TrainingRun.model_version == version,
            TrainingRun.status.not_in([RunStatus.FAILED, RunStatus.CANCELLED]),
        )
        return session.scalar(claim.limit(1)) is not None


def get_model_version(model_type: str, version: str) -> ModelVersionRecord | None:
    with session_scope() as session:
        return session.scalar(
            select(ModelVersionRecord).where(
                ModelVersionRecord.model_type == model_type, ModelVersionRecord.version == version
            )
        )


def find_completed(signature: str) -> TrainingRun | None:
    """The newest completed run with this training signature whose model is still in the artifact store."""
    from trainyard.artifact_store import get_store

    store = get_store()
    with session_scope() as session:
        runs = session.scalars(
            select(TrainingRun)
            .where(TrainingRun.signature == signature, TrainingRun.status == RunStatus.COMPLETED)
            .order_by(TrainingRun.id.desc())
        )
        return next((run for run in runs if run.model_path and store.exists(f"{run.model_path}/manifest.json")), None)


def list_model_versions() -> list[tuple[ModelVersionRecord, TrainingRun]]:
    """Every registered model version with its run, newest first. A version is registered only in the
    transaction that completes its run, and stays listed whatever later happens to that run (a retry
    that is running, or one killed mid-way, neither hides nor removes a model)."""
    with session_scope() as session:
        rows = session.execute(
            select(ModelVersionRecord, TrainingRun)
            .join(TrainingRun, TrainingRun.id == ModelVersionRecord.training_run_id)
            .order_by(ModelVersionRecord.id.desc())
        ).all()
        return [(version, run) for version, run in rows]


def find_by_idempotency_key(key: str) -> TrainingRun | None:
    with session_scope() as session:
        return session.scalar(select(TrainingRun).where(TrainingRun.idempotency_key == key))


def get_run_by_id(run_id: int) -> TrainingRun | None:
    with session_scope() as session:
        return session.get(TrainingRun, run_id)


def page_runs(
    page: int, page_size: int, status: RunStatus | None, trained_by: str | None, model_type: str | None
) -> tuple[int, list[TrainingRun]]:
    """(total matching, one page) of runs, newest first."""
    query = select(TrainingRun)
    if status is not None:
        query = query.where(TrainingRun.status == status)
    if trained_by:
        query = query.where(TrainingRun.trained_by_username == trained_by)
    if model_type:
        query = query.where(TrainingRun.model_type == model_type.strip().lower().replace("_", "-"))
    with session_scope() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(
            query.order_by(TrainingRun.run_date.desc(), TrainingRun.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
        return total, list(rows)


def running_flow_run_ids(limit: int) -> list[str]:
    with session_scope() as session:
        return list(
            session.scalars(
                select(TrainingRun.flow_run_id)
                .where(TrainingRun.status == RunStatus.RUNNING)
                .order_by(TrainingRun.id.desc())
                .limit(limit)
            )
        )
