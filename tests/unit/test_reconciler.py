"""The reconciler's decisions, on a real (short-lived) process and a recording gateway."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from prefect.client.schemas.objects import StateType

from api.gateway import JobView
from api.reconciler import local_pid, sweep
from trainyard.pids import pid_alive


class RecordingGateway:
    def __init__(self, runs: list) -> None:
        self.runs = runs
        self.parents: dict[str, StateType] = {}
        self.marked: list[tuple[str, StateType]] = []

    def active_runs(self) -> list:
        return self.runs

    def mark(self, job_id: str, state_type: StateType, message: str) -> None:
        self.marked.append((job_id, state_type))

    def parent_state(self, job: JobView) -> StateType | None:
        return self.parents.get(job.id)


def _job(job_id: str, state_type: StateType) -> JobView:
    return JobView(job_id, "xgboost", state_type, state_type.value.title(), None, None, None, None)


@pytest.mark.parametrize(
    ("infra", "expected"), [("123", 123), ("here:123", 123), ("elsewhere:123", None), (None, None), ("x", None)]
)
def test_local_pid(infra: str | None, expected: int | None) -> None:
    assert local_pid(infra, "here") == expected


def test_dead_running_run_is_crashed_and_dead_cancelling_run_is_cancelled() -> None:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    gateway = RecordingGateway(
        [(_job("a", StateType.RUNNING), str(done.pid), None), (_job("b", StateType.CANCELLING), str(done.pid), None)]
    )
    sweep(gateway, cancel_grace=45, hostname="here")  # type: ignore[arg-type]
    assert gateway.marked == [("a", StateType.CRASHED), ("b", StateType.CANCELLED)]


def test_pending_retry_with_its_previous_attempts_dead_pid_is_left_alone() -> None:
    previous = subprocess.Popen([sys.executable, "-c", "pass"])
    previous.wait()
    gateway = RecordingGateway([(_job("retried", StateType.PENDING), str(previous.pid), None)])
    assert sweep(gateway, cancel_grace=45, hostname="here") == [] and gateway.marked == []  # type: ignore[arg-type]


def test_cancel_ignored_past_grace_kills_the_process() -> None:
    stubborn = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        old = datetime.now(UTC) - timedelta(seconds=60)
        recent = datetime.now(UTC)
        gateway = RecordingGateway(
            [(_job("young", StateType.CANCELLING), str(stubborn.pid), recent),
             (_job("alive", StateType.RUNNING), str(stubborn.pid), old)]
        )  # fmt: skip
        sweep(gateway, cancel_grace=45, hostname="here")  # type: ignore[arg-type]
        assert gateway.marked == [] and pid_alive(stubborn.pid)
        gateway.runs = [(_job("old", StateType.CANCELLING), str(stubborn.pid), old)]
        sweep(gateway, cancel_grace=45, hostname="here")  # type: ignore[arg-type]
        stubborn.wait(timeout=5)
        assert gateway.marked == [("old", StateType.CANCELLED)] and not pid_alive(stubborn.pid)
    finally:
        stubborn.kill()


def test_sub_jobs_of_an_ended_parent_are_ended_too() -> None:
    gateway = RecordingGateway(
        [(_job("child-of-cancelled", StateType.RUNNING), None, None),
         (_job("child-of-crashed", StateType.CANCELLING), None, None),
         (_job("child-of-running", StateType.RUNNING), None, None),
         (_job("top-level-elsewhere", StateType.RUNNING), None, None)]
    )  # fmt: skip
    gateway.parents = {"child-of-cancelled": StateType.CANCELLED, "child-of-crashed": StateType.CRASHED,
                       "child-of-running": StateType.RUNNING}  # fmt: skip
    sweep(gateway, cancel_grace=45, hostname="here")  # type: ignore[arg-type]
    assert gateway.marked == [("child-of-cancelled", StateType.CANCELLED), ("child-of-crashed", StateType.CRASHED)]
