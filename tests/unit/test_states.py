import pytest
from prefect.client.schemas.objects import StateType

from trainyard.states import JobStatus, RunStatus, job_status, run_status


@pytest.mark.parametrize("state_type", list(StateType))
def test_every_prefect_state_type_is_mapped(state_type: StateType) -> None:
    assert isinstance(job_status(state_type), JobStatus)
    assert isinstance(run_status(state_type), RunStatus)


@pytest.mark.parametrize(
    ("state_type", "job", "run"),
    [
        (StateType.SCHEDULED, "started", "RUNNING"),
        (StateType.PENDING, "started", "RUNNING"),
        (StateType.RUNNING, "running", "RUNNING"),
        (StateType.PAUSED, "paused", "RUNNING"),
        (StateType.CANCELLING, "cancelling", "RUNNING"),
        (StateType.COMPLETED, "completed", "COMPLETED"),
        (StateType.FAILED, "failed", "FAILED"),
        (StateType.CRASHED, "failed", "FAILED"),
        (StateType.CANCELLED, "cancelled", "CANCELLED"),
    ],
)
def test_mapping_matches_design_table(state_type: StateType, job: str, run: str) -> None:
    assert job_status(state_type) == job
    assert run_status(state_type) == run
