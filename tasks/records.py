"""The run's registry row: written by the first task, finished by persist or by the state hooks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from tasks.retry import retry_unless_deterministic
from trainyard.errors import DuplicateVersionError, RegistryError, kind_of
from trainyard.params import ModelType, TrainingParams
from trainyard.refs import Metrics, RunRecord, TrainingOutcome
from trainyard.registry.models import TrainingRun
from trainyard.states import RunStatus


@task(
    name="start-run-record",
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=2,
    retry_delay_seconds=1,
    retry_condition_fn=retry_unless_deterministic,
)
def start_run_record(model_type: ModelType, params: TrainingParams) -> RunRecord:
    """Create (or adopt the API's) registry row for this flow run and fix its model version."""
    from trainyard.registry.runs import RunStart, ensure_run, registered_run, update_run, version_taken

    run_id = flow_run.get_id() or str(uuid.uuid4())
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    run = ensure_run(
        RunStart(
            flow_run_id=run_id,
            model_type=str(model_type),
            parameters=params.model_dump(mode="json"),
            parent_flow_run_id=flow_run.get_parent_flow_run_id(),
            model_version=params.model_version,
            trained_by_username=params.trained_by,
            notes=params.notes,
        ),
        started=True,
    )
    if (done := registered_run(run_id)) is not None:
        get_run_logger().info("training run %d already registered %s version %s: nothing to redo",
                              done.id, model_type, done.model_version)  # fmt: skip
        return RunRecord(training_run_id=done.id, flow_run_id=run_id, model_version=str(done.model_version),
                         finished=outcome_of(done))  # fmt: skip
    version = run.model_version or f"v{stamp}-{run_id[:8]}"
    if run.model_version is None:
        update_run(run_id, model_version=version)
    if version_taken(str(model_type), version):
        raise DuplicateVersionError(f"model version {version!r} already exists for {model_type}; pick another")
    get_run_logger().info("training run %d, %s version %s", run.id, model_type, version)
    return RunRecord(training_run_id=run.id, flow_run_id=run_id, model_version=version)


def outcome_of(run: TrainingRun) -> TrainingOutcome:
    """The outcome a completed run returned, rebuilt from its registry row."""
    metrics = Metrics(**run.metrics, per_class=run.per_class_metrics, cv=run.cv_metrics)
    return TrainingOutcome(
        training_run_id=run.id, flow_run_id=run.flow_run_id, model_type=run.model_type,
        model_version=str(run.model_version), model_path=str(run.model_path), model_sha256=str(run.model_sha256),
        device=str(run.device), training_duration_seconds=run.training_duration_seconds or 0.0, metrics=metrics,
    )  # fmt: skip


@contextmanager
def failures_recorded() -> Iterator[None]:
    """Record a failing run's error kind (the data's fault or training's, by its type) before its state
    turns Failed, so a caller that sees the state also sees the kind."""
    try:
        yield
    except Exception as exc:
        from trainyard.registry.runs import update_run

        if (run_id := flow_run.get_id()) is not None:
            with suppress(RegistryError):  # no row: the run failed before it had one
                update_run(str(run_id), error_kind=kind_of(exc))
        raise


def record_final_state(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow state hook: copy a failed or crashed outcome and its message to the registry.

    The parameter names are Prefect's, which may call hooks by keyword."""
    from trainyard.registry.runs import set_outcome

    if state.type.value in {"FAILED", "CRASHED"}:
        set_outcome(str(flow_run.id), RunStatus.FAILED, state.name, state.message)


# No on_cancellation hook: a worker that cancels a run runs that hook itself, after loading the flow
# (seconds), and only then marks the run Cancelled, over a Retry made meanwhile. The registry learns of a
# cancel from Prefect on its next read (``reconcile``), as it does of any state.
STATE_HOOKS: dict[str, list[Any]] = {
    "on_failure": [record_final_state],
    "on_crashed": [record_final_state],
}
# A flow's return value is not persisted: Prefect refuses to rerun a Completed run whose result is
# persisted, and the UI's Retry must work on every final state. What Prefect does write for a run (a
# failed run's exception) is JSON: nothing in the result store is ever a pickle.
RESULT_OPTIONS: dict[str, Any] = {"persist_result": False, "result_serializer": "json"}
FLOW_OPTIONS: dict[str, Any] = {**RESULT_OPTIONS, **STATE_HOOKS}
