"""Your own table: registered with the CLI, listed by the API, trained by name through both APIs and by a
schedule, its model listed and loaded with its sha256 verified; on a table of names and types the project
never saw."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.client.schemas.objects import StateType

from tests.fits import unseen_table
from tests.integration.conftest import Clients
from tests.integration.helpers import run_a_schedule_once, wait_for_status
from trainyard.model_store import load_model
from trainyard.registry.runs import get_run

pytestmark = pytest.mark.integration
TRAINYARD = Path(sys.executable).parent / "trainyard"


def _datasets(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TRAINYARD), "datasets", *args], env=os.environ, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_a_table_never_seen_is_registered_trained_by_name_and_its_model_loads(live_stack: Clients,
                                                                               sandbox: Path) -> None:  # fmt: skip
    frame = unseen_table()
    frame.to_csv(sandbox / "data" / "shifts.csv", index=False)
    outside = _datasets("add", "stolen", "--file", "/etc/hostname", "--target", "x")
    assert outside.returncode == 1 and "outside the allowed data roots" in outside.stderr
    assert not (sandbox / "datasets" / "stolen.yaml").exists()

    added = _datasets("add", "shifts", "--file", "shifts.csv", "--target", "needs_review")
    assert added.returncode == 0, added.stderr
    assert "badge_uuid: {type: id}" in added.stdout and (sandbox / "datasets" / "shifts.yaml").is_file()

    listed = {d["name"]: d for d in live_stack.manager.get("/datasets").json()["datasets"]}
    assert listed["shifts"]["target"] == "needs_review" and listed["shifts"]["classes"] == ["no", "yes"]
    assert listed["shifts"]["columns"]["sensor_drift"]["nullable"] and not listed["shifts"]["builtin"]

    unknown = live_stack.hr.post("/train/lightgbm", json={"dataset": "shiftz"})
    assert unknown.status_code == 422 and "shifts" in unknown.json()["detail"][0]["msg"], unknown.text
    assert unknown.json()["detail"][0]["loc"][-1] == "dataset"

    job = live_stack.hr.post("/train/lightgbm", json={"dataset": "shifts", "retrain": True}).json()
    done = wait_for_status(live_stack.hr, job["job_id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    synchronous = live_stack.hr.post("/api/training/train/", json={"dataset_path": "shifts",
                                                                    "hyperparameters": {"n_estimators": 20}})
    assert synchronous.status_code == 201 and synchronous.json()["metrics"]["accuracy"] > 0.5, synchronous.text

    models = live_stack.manager.get("/train/models/available").json()["available_models"]
    mine = next(m for m in models.values() if m["job_id"] == job["job_id"])
    assert mine["type"] == "lightgbm" and mine["dataset"].endswith("shifts.csv")
    model = load_model(mine["path"], manifest_sha256=mine["sha256"])
    predicted = model.predict(frame.drop(columns=["needs_review"]).head(50))
    assert set(predicted) <= {"yes", "no"}

    # Scheduled retraining of the registered table: Prefect's scheduler starts the run, no API call.
    scheduled = run_a_schedule_once("train-random-forest/random-forest", "shifts-nightly",
                                    parameters={"params": {"dataset": "shifts", "promote": True}})  # fmt: skip
    assert scheduled.state.type == StateType.COMPLETED, scheduled.state
    record = get_run(str(scheduled.id))
    assert record is not None and record.dataset_path.endswith("shifts.csv") and record.model_path

    removed = _datasets("remove", "shifts")
    assert removed.returncode == 0 and not (sandbox / "datasets" / "shifts.yaml").exists()
    assert "shifts" not in {d["name"] for d in live_stack.manager.get("/datasets").json()["datasets"]}
