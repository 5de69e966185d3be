import pytest
from prefect.client.schemas.objects import StateType

from trainyard.states import JobStatus, RunStatus, default_state_name, job_status, run_status


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


def test_default_state_names_are_prefects_own() -> None:
    from prefect import states

    for state_type, make in [(StateType.SCHEDULED, states.Scheduled), (StateType.PENDING, states.Pending),
                             (StateType.RUNNING, states.Running), (StateType.COMPLETED, states.Completed),
                             (StateType.FAILED, states.Failed), (StateType.CRASHED, states.Crashed),
                             (StateType.CANCELLING, states.Cancelling), (StateType.CANCELLED, states.Cancelled),
                             (StateType.PAUSED, states.Paused)]:  # fmt: skip
        assert default_state_name(state_type) == make().name


def test_no_product_module_but_the_mapping_spells_a_prefect_state_name() -> None:
    import re
    import subprocess

    from trainyard.settings import PROJECT_ROOT

    names = "|".join(default_state_name(t) for t in StateType)
    literal = re.compile(rf"""["']({names})["']""")
    product = ["api", "trainyard", "tasks", "flows", "deployments", "runtime", "cli"]
    files = subprocess.run(["git", "ls-files", *product], cwd=PROJECT_ROOT, capture_output=True, text=True,
                           check=True).stdout.split()  # fmt: skip
    # api/reference.py holds the documented example answers (generated into docs/api.md), not logic.
    allowed = {"trainyard/states.py", "api/reference.py"}
    spelled = [f for f in files if f.endswith(".py") and f not in allowed
               and literal.search((PROJECT_ROOT / f).read_text())]  # fmt: skip
    assert spelled == []
