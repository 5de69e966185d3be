"""Polling helpers for tests that drive the running stack."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from uuid import UUID

import httpx
from prefect import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from trainyard.model_store import load_model


def artifacts_of(flow_run_id: str) -> dict[str, object]:
    """The flow run's Prefect artifacts, by key."""
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(flow_run_id)]))
        )
    return {str(a.key): a for a in found}


def wait_for_status(client: httpx.Client, job_id: str, wanted: set[str], timeout: float = 180) -> dict:
    """Poll GET /train/status until the job's status is in ``wanted``; fail with the last body."""
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = client.get(f"/train/status/{job_id}").json()
        if body.get("status") in wanted:
            return body
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} never reached {wanted}; last status body: {body}")


def wait_for_log(client: httpx.Client, job_id: str, needle: str, timeout: float = 30) -> list[str]:
    """Poll GET /train/status until a log line contains ``needle``: a run ships its last logs as it
    exits, just after its final state, so they may trail the status by a moment."""
    deadline = time.monotonic() + timeout
    logs: list[str] = []
    while time.monotonic() < deadline:
        logs = client.get(f"/train/status/{job_id}").json()["logs"]
        if any(needle in line for line in logs):
            return logs
        time.sleep(0.2)
    raise AssertionError(f"no log line of job {job_id} contains {needle!r}; last logs: {logs}")


def flow_run_pid(job_id: str, timeout: float = 60) -> int:
    """The PID the process worker recorded for the flow run (``host:pid``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with get_client(sync_client=True) as client:
            pid = client.read_flow_run(UUID(job_id)).infrastructure_pid
        if pid:
            return int(str(pid).rsplit(":", 1)[-1])
        time.sleep(0.5)
    raise AssertionError(f"no infrastructure pid recorded for {job_id}")


def task_ended_at(flow_run_id: str, task: str) -> datetime:
    """When the named task of the flow run last ended (fails if it never did)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)])))
    ends = [run.end_time for run in runs if run.name.rsplit("-", 1)[0] == task and run.end_time]
    assert ends, f"{task} of {flow_run_id} never ended"
    return max(ends)


def task_states(flow_run_id: str) -> dict[str, str]:
    """Task name (without its run suffix) → state name of its latest run in this flow run."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)])),
            sort=TaskRunSort.EXPECTED_START_TIME_ASC,
            limit=200,
        )
    return {run.name.rsplit("-", 1)[0]: run.state.name for run in runs if run.state}


@contextmanager
def paused_pools(pools: tuple[str, ...] = ("cpu", "gpu")) -> Iterator[None]:
    """Workers take nothing while inside; runs still not started on exit are Cancelled."""
    from prefect.client.schemas.actions import WorkPoolUpdate
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelled

    with get_client(sync_client=True) as client:
        for pool in pools:
            client.update_work_pool(pool, WorkPoolUpdate(is_paused=True))
        try:
            yield
        finally:
            # Runs made inside (due now), not the future runs Prefect's scheduler keeps for the schedules.
            waiting = FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
                expected_start_time=FlowRunFilterExpectedStartTime(before_=datetime.now(UTC)),
            )
            while runs := client.read_flow_runs(flow_run_filter=waiting, limit=200):
                for run in runs:
                    client.set_flow_run_state(run.id, Cancelled(message="test cleanup"), force=True)
            for pool in pools:
                client.update_work_pool(pool, WorkPoolUpdate(is_paused=False))


def wait_for_rerun(job_id: str, previous_count: int, timeout: float = 180) -> None:
    """Until the retried run has run again and reached a final state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(UUID(job_id))
        if run.run_count > previous_count and run.state and run.state.is_final():
            return
        time.sleep(0.5)
    raise AssertionError(f"run {job_id} did not run again to a final state; now {run.state} (count {run.run_count})")


def assert_model_served(client: httpx.Client, training_run_id: int, version: str) -> dict:
    """Both APIs call the run completed with its model, which loads and is listed."""
    detail = client.get(f"/api/training/runs/{training_run_id}/").json()
    assert detail["status"] == "COMPLETED" and detail["error_message"] is None, detail
    assert detail["model_version"] == version and detail["accuracy"] is not None, detail
    job = client.get(f"/train/status/{detail['flow_run_id']}").json()
    assert job["status"] == "completed" and job["model_path"] == detail["model_path"], job
    load_model(detail["model_path"])
    listed = client.get("/train/models/available").json()["available_models"]
    assert listed[f"random-forest/{version}"]["path"] == detail["model_path"], listed.keys()
    return detail


# How far ahead the copy's schedule is due. Prefect's scheduler first sees a new deployment on its
# recent-deployments pass (every 5 s, later on a busy server) and schedules from that moment on: a slot
# already past by then becomes the next one, an hour later (a 5 s lead failed that way once in CI).
SCHEDULE_LEAD_SECONDS = 20


def run_a_schedule_once(shipped_name: str, name: str, parameters: dict | None = None, timeout: float = 150):  # type: ignore[no-untyped-def]
    """A copy of a shipped deployment whose interval schedule is due in ``SCHEDULE_LEAD_SECONDS``, as a
    nightly one is at 02:00: Prefect's scheduler creates the run, no trigger. Its first finished run (the
    copy is gone after)."""
    from datetime import timedelta

    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.schedules import IntervalSchedule

    due = datetime.now(UTC) + timedelta(seconds=SCHEDULE_LEAD_SECONDS)
    with get_client(sync_client=True) as client:
        shipped = client.read_deployment_by_name(shipped_name)
        deployment_id = client.create_deployment(
            flow_id=shipped.flow_id, name=name, entrypoint=shipped.entrypoint, work_pool_name=shipped.work_pool_name,
            pull_steps=shipped.pull_steps, parameters=parameters if parameters is not None else shipped.parameters,
            schedules=[DeploymentScheduleCreate(schedule=IntervalSchedule(
                interval=timedelta(hours=1), anchor_date=due))],
        )  # fmt: skip
        try:
            deadline = time.monotonic() + timeout
            runs: list = []
            while time.monotonic() < deadline:
                runs = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
                )
                done = [r for r in runs if r.state and r.state.is_final()]
                if done:
                    return done[0]
                time.sleep(1)
            raise AssertionError(f"no scheduled run finished within {timeout}s: "
                                 f"{[(r.name, r.state, r.expected_start_time) for r in runs]}")  # fmt: skip
        finally:
            client.delete_deployment(deployment_id)


@contextmanager
def persist_blocked(model_type: str, version: str) -> Iterator[None]:
    """A file where the model directory of ``version`` would go: a run of that version fails at persist
    (nothing registered) until the block is lifted at the end of the ``with``."""
    from trainyard.settings import get_settings

    blocker = get_settings().models_dir / model_type / version
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("occupied: persist fails until this file goes")
    try:
        yield
    finally:
        blocker.unlink(missing_ok=True)
