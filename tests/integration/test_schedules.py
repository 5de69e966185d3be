"""Scheduled retraining on the real stack, Prefect's scheduler service on: schedules fire by themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect import get_client
from prefect.client.schemas.objects import StateType

from tests.integration.conftest import Clients
from tests.integration.helpers import run_a_schedule_once
from trainyard.model_store import load_model
from trainyard.registry.runs import get_model_version, get_run

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("name", "cron", "pool", "dataset"),
    [
        ("train-random-forest/nightly-future-skills", "0 2 * * *", "cpu", "future_skills_dataset.csv"),
        ("train-all/weekly-churn-all", "0 3 * * 0", "gpu", "churn.csv"),
    ],
)
def test_shipped_retraining_deployments_are_deployed_as_written(
    live_stack: Clients, name: str, cron: str, pool: str, dataset: str
) -> None:
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(name)
    assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in deployment.schedules] == [(cron, "UTC", True)]
    assert deployment.parameters == {"params": {"dataset": dataset, "promote": True}}
    assert deployment.work_pool_name == pool and not deployment.paused


def test_a_due_schedule_creates_runs_that_train_and_register_a_model(live_stack: Clients) -> None:
    """What the nightly deployment does at 02:00, due within the test: no API call starts the run."""
    run = run_a_schedule_once(
        "train-random-forest/random-forest",
        "schedule-under-test",
        {"params": {"dataset": "future_skills_dataset.csv", "notes": "scheduled by the test"}},
    )

    assert run.state.type is StateType.COMPLETED, run.state
    assert run.auto_scheduled, "the run must come from the scheduler, not from a trigger"
    record = get_run(str(run.id))
    assert record is not None and record.status == "COMPLETED" and record.notes == "scheduled by the test"
    assert get_model_version("random-forest", str(record.model_version)) is not None
    load_model(Path(str(record.model_path)))  # hashes verified, loadable
    body = live_stack.manager.get(f"/train/status/{run.id}").json()
    assert body["status"] == "completed" and body["model_path"] == record.model_path
    listed = live_stack.manager.get("/train/models/available").json()["available_models"]
    assert f"random-forest/{record.model_version}" in listed
