"""The one mapping from a Prefect state to the statuses both HTTP contracts report."""

from __future__ import annotations

from enum import StrEnum

from prefect.client.schemas.objects import StateType


class JobStatus(StrEnum):
    """Status vocabulary of the jobs API."""

    STARTED = "started"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLING = "cancelling"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RunStatus(StrEnum):
    """Status vocabulary of the training-runs API and the registry."""

    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


_JOB_STATUS: dict[StateType, JobStatus] = {
    StateType.SCHEDULED: JobStatus.STARTED,
    StateType.PENDING: JobStatus.STARTED,
    StateType.RUNNING: JobStatus.RUNNING,
    StateType.PAUSED: JobStatus.PAUSED,
    StateType.CANCELLING: JobStatus.CANCELLING,
    StateType.COMPLETED: JobStatus.COMPLETED,
    StateType.FAILED: JobStatus.FAILED,
    StateType.CRASHED: JobStatus.FAILED,
    StateType.CANCELLED: JobStatus.CANCELLED,
}

_RUN_STATUS: dict[JobStatus, RunStatus] = {
    JobStatus.STARTED: RunStatus.RUNNING,
    JobStatus.RUNNING: RunStatus.RUNNING,
    JobStatus.PAUSED: RunStatus.RUNNING,
    JobStatus.CANCELLING: RunStatus.RUNNING,
    JobStatus.COMPLETED: RunStatus.COMPLETED,
    JobStatus.FAILED: RunStatus.FAILED,
    JobStatus.CANCELLED: RunStatus.CANCELLED,
}

TERMINAL_JOB_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


def default_state_name(state_type: StateType) -> str:
    """The name Prefect gives a state of ``state_type`` unless told another ("Running", "Completed"…):
    the one place trainyard spells Prefect's state names."""
    return StateType(state_type).value.title()


def job_status(state_type: StateType) -> JobStatus:
    """Map a Prefect state type to the jobs-API status; raises KeyError on an unknown type."""
    return _JOB_STATUS[StateType(state_type)]


def run_status(state_type: StateType) -> RunStatus:
    """Map a Prefect state type to the training-runs-API status."""
    return _RUN_STATUS[job_status(state_type)]
