"""Scheduled retraining on the real stack, Prefect's scheduler service on: schedules fire by themselves.

The shipped tables' schedules are declared in their specs like any other; a schedule added by the command
line for a table the test registers fires within the test (a daily cron due a minute or two from now) and
trains a model; the API's routes write the same thing and refuse bad input naming the field."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from prefect import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.objects import StateType
from prefect.exceptions import ObjectNotFound

from deployments.schedules import RETIRED
from tests.fits import unseen_regression_table, unseen_table
from tests.integration.conftest import Clients
from tests.integration.helpers import run_a_schedule_once
from trainyard.datasets import get_spec
from trainyard.model_store import load_model
from trainyard.registry.runs import get_model_version, get_run
from trainyard.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration
TRAINYARD = Path(sys.executable).parent / "trainyard"
SHIPPED = [("future_skills", "train-random-forest/random-forest", "0 2 * * *", "cpu"),
           ("churn", "train-all/all", "0 3 * * 0", "gpu"), ("churn", "score/score", "30 4 * * *", "cpu")]  # fmt: skip


def _trainyard(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line as a user on the stack's host runs it: it finds the stack by its artifacts directory."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    return subprocess.run([str(TRAINYARD), *args], env=env, capture_output=True, text=True, timeout=120)


def _held(schedule_id: str):  # type: ignore[no-untyped-def]
    """What Prefect holds of a trainyard schedule (None: nothing), read fresh."""
    from deployments.schedules import held_schedules

    with get_client(sync_client=True) as client:
        return held_schedules(client).get(schedule_id)


def _due_cron(lead: timedelta = timedelta(seconds=80)) -> str:
    """A daily cron whose next time is the first whole minute ``lead`` from now (UTC): it fires once here."""
    due = (datetime.now(UTC) + lead + timedelta(minutes=1)).replace(second=0, microsecond=0)
    return f"{due.minute} {due.hour} * * *"


@pytest.mark.parametrize(("dataset", "deployment", "cron", "pool"), SHIPPED)
def test_the_shipped_schedules_are_declared_in_their_specs_and_deployed_as_such(
    live_stack: Clients, dataset: str, deployment: str, cron: str, pool: str
) -> None:
    assert not any("schedules" in d for d in yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())["deployments"])
    schedule = next(s for s in get_spec(dataset).schedules if s.cron == cron)
    held = _held(schedule.id)
    assert held is not None and held.deployment == deployment, held
    assert (held.cron, held.timezone, held.active, held.parameters) == (cron, "UTC", True, schedule.parameters())
    with get_client(sync_client=True) as client:
        found = client.read_deployment_by_name(deployment)
        assert found.work_pool_name == pool and not found.paused
        assert found.parameters == {}  # a run started by hand gets the flow's own defaults
        for name in RETIRED:  # the deployments of earlier releases, whose schedules these replace
            with pytest.raises(ObjectNotFound):
                client.read_deployment_by_name(name)
    listed = {s["id"]: s for s in live_stack.manager.get("/schedules").json()["schedules"]}
    assert listed[schedule.id]["deployed"] and listed[schedule.id]["active"] and listed[schedule.id]["next_run_at"]


def test_a_due_schedule_creates_runs_that_train_and_register_a_model(live_stack: Clients) -> None:
    """What the nightly schedule does at 02:00, with its own parameters, due within the test."""
    nightly = get_spec("future_skills").schedules[0]
    run = run_a_schedule_once("train-random-forest/random-forest", "schedule-under-test", nightly.parameters())

    assert run.state.type is StateType.COMPLETED, run.state
    assert run.auto_scheduled, "the run must come from the scheduler, not from a trigger"
    record = get_run(str(run.id))
    assert record is not None and record.status == "COMPLETED" and record.notes == "scheduled: 0 2 * * * (UTC)"
    assert get_model_version("random-forest", str(record.model_version)) is not None
    load_model(Path(str(record.model_path)))  # hashes verified, loadable
    body = live_stack.manager.get(f"/train/status/{run.id}").json()
    assert body["status"] == "completed" and body["model_path"] == record.model_path
    listed = live_stack.manager.get("/train/models/available").json()["available_models"]
    assert f"random-forest/{record.model_version}" in listed


def _scheduled_run(deployment_name: str, schedule_id: str, timeout: float = 300):  # type: ignore[no-untyped-def]
    """The first run of ``schedule_id``'s schedule to reach a final state (Prefect's scheduler made it)."""
    deadline = time.monotonic() + timeout
    seen: list = []
    with get_client(sync_client=True) as client:
        mine = DeploymentFilter(id=DeploymentFilterId(any_=[client.read_deployment_by_name(deployment_name).id]))
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(deployment_filter=mine)
            seen = [r for r in runs if r.parameters.get("params", {}).get("trained_by") == f"schedule:{schedule_id}"]
            done = [r for r in seen if r.state and r.state.is_final()]
            if done:
                return done[0]
            time.sleep(2)
    states = [(r.state, r.expected_start_time) for r in seen]
    raise AssertionError(f"no run of {schedule_id} finished in {timeout}s: {states}")


def test_a_schedule_added_by_the_command_line_for_a_registered_table_fires_and_trains_a_model(
    live_stack: Clients, sandbox: Path
) -> None:
    unseen_table(seed=23).to_csv(sandbox / "data" / "rota.csv", index=False)
    added = _trainyard("datasets", "add", "rota", "--file", "rota.csv", "--target", "needs_review")
    assert added.returncode == 0, added.stderr
    cron = _due_cron()
    scheduled = _trainyard("schedules", "add", "random-forest", "--dataset", "rota", "--cron", cron, "--promote")
    assert scheduled.returncode == 0, scheduled.stderr
    assert "in Prefect now" in scheduled.stdout, scheduled.stdout
    schedule = get_spec("rota").schedules[0]
    assert (schedule.job, schedule.cron, schedule.promote) == ("random-forest", cron, True)
    assert f"added {schedule.id}" in scheduled.stdout
    held = _held(schedule.id)
    assert held is not None and held.active and held.deployment == "train-random-forest/random-forest"

    listed = _trainyard("schedules", "list", "--dataset", "rota")
    assert listed.returncode == 0 and schedule.id in listed.stdout and "active" in listed.stdout, listed.stdout

    run = _scheduled_run("train-random-forest/random-forest", schedule.id)
    assert run.state.type is StateType.COMPLETED and run.auto_scheduled, run.state
    record = get_run(str(run.id))
    assert record is not None and record.dataset_path.endswith("rota.csv") and record.model_path
    jobs = live_stack.manager.get("/train/jobs", params={"model_type": "random-forest", "limit": 100}).json()["jobs"]
    assert str(run.id) in {job["job_id"] for job in jobs}
    models = live_stack.manager.get("/train/models/available").json()["available_models"]
    mine = [m for m in models.values() if m["job_id"] == str(run.id)]
    assert len(mine) == 1 and mine[0]["dataset"].endswith("rota.csv")
    assert mine[0]["aliases"] == ["champion"], mine  # promote: the first model of a table is its champion

    removed = _trainyard("schedules", "remove", schedule.id)
    assert removed.returncode == 0, removed.stderr
    assert _held(schedule.id) is None and not get_spec("rota").schedules
    assert schedule.id not in {s["id"] for s in live_stack.manager.get("/schedules").json()["schedules"]}
    assert _trainyard("datasets", "remove", "rota").returncode == 0


@pytest.fixture(scope="module")
def plant(live_stack: Clients, sandbox: Path) -> Path:
    """A regression table the tests register: what the API's schedules are for."""
    unseen_regression_table(seed=8).to_csv(sandbox / "data" / "plant_hours.csv", index=False)
    added = _trainyard("datasets", "add", "plant_hours", "--file", "plant_hours.csv", "--target", "units_per_hour")
    assert added.returncode == 0, added.stderr
    return sandbox / "datasets" / "plant_hours.yaml"


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"families": ["xgboost"], "cron": "0 25 * * *"}, "cron", "Bad hour"),
        ({"families": ["xgboost"], "cron": "nightly"}, "cron", "must have 5 fields"),
        ({"families": ["xgboost"], "cron": "0 2 * * *", "timezone": "Mars/Olympus"}, "timezone", "IANA"),
        ({"families": ["rnn"], "cron": "0 2 * * *"}, "families", "unknown model family 'rnn': one of "),
        ({"families": ["logistic-regression"], "cron": "0 2 * * *"}, "families", "families that train it: "),
        ({"score": "xgboost@champion", "cron": "0 2 * * *"}, "score", "no xgboost model carries the alias"),
        ({"score": "xgboost@champion", "cron": "0 2 * * *", "dataset": "nope"}, "dataset", "unknown dataset 'nope'"),
        ({"cron": "0 2 * * *"}, None, "give families (retrain) or score"),
        ({"families": ["xgboost"], "cron": "0 2 * * *", "promote": "yes"}, "promote", "valid boolean"),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_field_and_nothing_is_written(
    live_stack: Clients, plant: Path, body: dict, field: str | None, says: str
) -> None:
    before = plant.read_text()
    answer = live_stack.hr.post("/schedules", json={"dataset": "plant_hours", **body})
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"][0]
    assert says in detail["msg"], detail
    if field is not None:
        assert detail["loc"] == ["body", field], detail
    assert plant.read_text() == before
    if field == "families" and "logistic" in str(body):
        assert "random-forest" in detail["msg"] and "logistic-regression," not in detail["msg"]


def test_schedules_through_the_api_write_the_spec_and_prefect_for_the_roles_that_train(
    live_stack: Clients, plant: Path
) -> None:
    body = {"dataset": "plant_hours", "families": ["xgboost", "random-forest"], "cron": "15 1 * * 1-5",
            "timezone": "Europe/Paris", "promote": True}  # fmt: skip
    assert live_stack.manager.post("/schedules", json=body).status_code == 403
    assert live_stack.anonymous.get("/schedules").status_code == 401
    created = live_stack.hr.post("/schedules", json=body)
    assert created.status_code == 201, created.text
    made = created.json()["schedules"]
    assert [s["job"] for s in made] == ["xgboost", "random-forest"] and all(s["deployed"] for s in made)
    assert made[0]["deployment"] == "train-xgboost/xgboost" and made[0]["timezone"] == "Europe/Paris"
    assert made[0]["prefect_ui_url"].startswith(live_stack.stack.prefect_api_url.removesuffix("/api"))
    assert 'families: ["xgboost", "random-forest"], promote: true' in plant.read_text()
    again = live_stack.hr.post("/schedules", json=body)
    assert again.status_code == 200 and [s["id"] for s in again.json()["schedules"]] == [s["id"] for s in made]
    assert len(get_spec("plant_hours").schedules) == 2  # the same table, family and time is one schedule
    first = made[0]["id"]
    held = _held(first)
    assert held is not None and held.parameters["params"]["dataset"] == "plant_hours"
    assert held.timezone == "Europe/Paris"

    listed = live_stack.manager.get("/schedules", params={"dataset": "plant_hours"}).json()
    assert listed["count"] == 2 and listed["schedules"][0]["next_run_at"]
    assert live_stack.manager.get("/schedules", params={"dataset": "nope"}).status_code == 422

    assert live_stack.manager.patch(f"/schedules/{first}", json={"active": False}).status_code == 403
    paused = live_stack.hr.patch(f"/schedules/{first}", json={"active": False})
    assert paused.status_code == 200 and paused.json()["active"] is False and paused.json()["next_run_at"] is None
    assert _held(first).active is False and not get_spec("plant_hours").schedules[0].active  # type: ignore[union-attr]
    resumed = live_stack.hr.patch(f"/schedules/{first}", json={"active": True})
    assert resumed.status_code == 200 and resumed.json()["active"] is True and _held(first).active  # type: ignore[union-attr]

    for schedule in made:
        gone = live_stack.hr.delete(f"/schedules/{schedule['id']}")
        assert gone.status_code == 200 and gone.json()["id"] == schedule["id"]
        assert _held(schedule["id"]) is None
    assert not get_spec("plant_hours").schedules and "schedules:" not in plant.read_text()
    missing = live_stack.hr.delete(f"/schedules/{first}")
    assert missing.status_code == 404 and "no schedule" in missing.json()["detail"]
    assert live_stack.hr.patch("/schedules/not-an-id", json={"active": False}).status_code == 404


def test_a_schedule_written_into_a_spec_by_hand_is_deployed_by_trainyard_deploy(
    live_stack: Clients, plant: Path
) -> None:
    """Declared with the table (an edit of its file): `trainyard deploy` puts it on the running stack; an entry
    whose family does not train the table is reported, not deployed, and listed with its problem."""
    before = plant.read_text()
    plant.write_text(before + 'schedules:\n  - {cron: "45 3 * * *", families: [random-forest, logistic-regression]}\n')
    try:
        deployed_now = _trainyard("deploy")
        assert deployed_now.returncode == 0, deployed_now.stderr[-3000:]
        good, bad = get_spec("plant_hours").schedules
        assert f"schedule {good.id}: created" in deployed_now.stderr
        assert f"schedule {bad.id} not deployed" in deployed_now.stderr and "does not train regression" in (
            deployed_now.stderr)  # fmt: skip
        assert _held(good.id) is not None and _held(bad.id) is None
        listed = {s["id"]: s for s in live_stack.manager.get("/schedules", params={"dataset": "plant_hours"})
                  .json()["schedules"]}  # fmt: skip
        assert listed[good.id]["deployed"] and not listed[bad.id]["deployed"]
        assert "families that train it" in listed[bad.id]["problem"]
    finally:
        plant.write_text(before)
    synced = _trainyard("schedules", "sync")
    assert synced.returncode == 0 and f"schedule {good.id}: removed" in synced.stdout, synced.stdout
    assert _held(good.id) is None
