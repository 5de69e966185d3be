"""Your own table: registered with the CLI, listed by the API, trained by name through both APIs and by a
schedule, its model listed and loaded with its sha256 verified; on a table of names and types the project
never saw. A regression table the same way: every family that trains regression, its metrics and plots,
the champion gate wanting the error lower."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.client.schemas.objects import StateType

from tests.fits import unseen_regression_table, unseen_table
from tests.integration.conftest import Clients
from tests.integration.helpers import artifacts_of, run_a_schedule_once, wait_for_status
from trainyard.families import families
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


def test_a_regression_table_is_registered_and_trained_by_every_family_that_trains_regression(
    live_stack: Clients, sandbox: Path
) -> None:
    frame = unseen_regression_table()
    frame.to_csv(sandbox / "data" / "plant_output.csv", index=False)
    added = _datasets("add", "plant_output", "--file", "plant_output.csv", "--target", "units_per_hour")
    assert added.returncode == 0, added.stderr
    assert "task: regression" in added.stdout and "classes" not in added.stdout and "regression." in added.stdout
    listed = {d["name"]: d for d in live_stack.manager.get("/datasets").json()["datasets"]}["plant_output"]
    assert (listed["task"], listed["classes"], listed["primary_metric"]) == ("regression", None, "rmse")

    regressors = sorted(name for name, family in families().items() if "regression" in family.tasks)
    classifier_only = sorted(set(families()) - set(regressors))
    assert {"random-forest", "xgboost", "neural-net", "lightgbm"} <= set(regressors) and classifier_only
    refused = live_stack.hr.post(f"/train/{classifier_only[0]}", json={"dataset": "plant_output"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][-1] == "dataset", refused.text
    assert "does not train regression" in refused.json()["detail"][0]["msg"]

    hyper = {name: families()[name].smoke_hyperparameters for name in regressors}
    body = live_stack.hr.post("/train/all", json={"dataset": "plant_output", "retrain": True,
                                                  "hyperparameters": hyper}).json()  # fmt: skip
    done = wait_for_status(live_stack.hr, body["job_id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    assert sorted(sub["model_type"] for sub in done["sub_jobs"]) == regressors  # the classifier-only sat out
    models = live_stack.manager.get("/train/models/available").json()["available_models"]
    for sub in done["sub_jobs"]:
        child = live_stack.hr.get(f"/train/status/{sub['job_id']}").json()
        metrics = child["metrics"]
        assert {"rmse", "mae", "r2"} <= set(metrics) and "accuracy" not in metrics, metrics
        assert metrics["rmse"] > 0 and metrics["mae"] > 0 and metrics["per_class"] == {}
        plots = artifacts_of(sub["job_id"])[f"{sub['model_type']}-plots"].data  # type: ignore[attr-defined]
        assert "## Predicted vs actual" in plots and "## Residuals" in plots and "Confusion" not in plots
        mine = next(m for m in models.values() if m["job_id"] == sub["job_id"])
        model = load_model(mine["path"], manifest_sha256=mine["sha256"])
        predicted = model.predict(frame.drop(columns=["units_per_hour"]).head(50))
        assert predicted.dtype.kind == "f" and len(predicted) == 50
    forest = live_stack.hr.get(f"/train/status/{_sub(done, 'random-forest')}").json()
    assert forest["metrics"]["r2"] > 0.5 and forest["champion"]["is_champion"]

    # A worse forest asking for promotion: its RMSE is higher, so the champion stays (lower is better).
    worse = live_stack.hr.post("/train/random-forest", json={
        "dataset": "plant_output", "retrain": True, "promote": True,
        "hyperparameters": {"n_estimators": 2, "max_depth": 1}}).json()  # fmt: skip
    lost = wait_for_status(live_stack.hr, worse["job_id"], {"completed", "failed"})
    assert lost["status"] == "completed", lost
    assert lost["metrics"]["rmse"] > forest["metrics"]["rmse"] and not lost["champion"]["promoted"]
    assert "rmse" in lost["champion"]["reason"] and "lower is better" in lost["champion"]["reason"]

    # Online: the regression champion answers values; once its spec changes a feature's kind, a 409.
    rows = frame.drop(columns=["units_per_hour"]).head(4).to_dict(orient="records")
    answer = live_stack.hr.post("/predict/random-forest", params={"dataset": "plant_output"}, json={"rows": rows})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["task"] == "regression" and body["probabilities"] is None and len(body["predictions"]) == 4
    assert all(isinstance(value, float) for value in body["predictions"])
    spec_file = sandbox / "datasets" / "plant_output.yaml"
    spec_file.write_text(spec_file.read_text().replace("crew: {type: int", "crew: {type: float"))
    assert live_stack.hr.post("/predict/random-forest", params={"dataset": "plant_output"},
                              json={"rows": rows}).status_code == 200  # int -> float: still a number
    spec_file.write_text(re.sub(r"crew: \{[^}]*\}", "crew: {type: category}", spec_file.read_text()))
    changed = live_stack.hr.post("/predict/random-forest", params={"dataset": "plant_output"}, json={"rows": rows})
    assert changed.status_code == 409 and "feature 'crew' was number, is category" in changed.text, changed.text
    _datasets("remove", "plant_output")


def _sub(job: dict, model_type: str) -> str:
    return next(sub["job_id"] for sub in job["sub_jobs"] if sub["model_type"] == model_type)
