"""The operator's view on the real stack: live progress, champion/challenger through the API, and a
scheduled retraining (Prefect's scheduler on) that does not beat the champion leaving it in place."""

from __future__ import annotations

import time

import pytest
from prefect.client.schemas.objects import StateType

from tests.integration.conftest import Clients
from tests.integration.helpers import artifacts_of, run_a_schedule_once, wait_for_log, wait_for_status
from trainyard.datasets import get_spec

pytestmark = pytest.mark.integration
DATASET = "future_skills_dataset.csv"
NIGHTLY = "train-random-forest/random-forest"


def test_progress_of_a_running_fit_shows_in_the_api_and_as_a_prefect_artifact(live_stack: Clients) -> None:
    # ~40 s of fitting (the test cancels it once it has seen enough): long enough on a fast machine too.
    slow = {"dataset": "churn.csv", "retrain": True, "use_cv": False,
            "hyperparameters": {"epochs": 1000, "batch_size": 64}}  # fmt: skip
    job_id = live_stack.hr.post("/train/neural-net", json=slow).json()["job_id"]
    deadline = time.monotonic() + 120
    seen: list[tuple[float, str]] = []
    while len({fraction for fraction, _ in seen if 0.1 < fraction < 0.86}) < 3:  # several points inside the fit
        assert time.monotonic() < deadline, f"no fit progress seen: {seen[-5:]}"
        progress = live_stack.manager.get(f"/train/status/{job_id}").json()["progress"]
        seen.append((progress["fraction"], progress["step"]))
        time.sleep(0.3)
    fitting = [(f, s) for f, s in seen if 0.1 < f < 0.86]
    assert all(s.startswith("fit: ") and s.endswith("/1000 epochs") for _, s in fitting), fitting
    assert [f for f, _ in seen] == sorted(f for f, _ in seen), "progress went backwards"
    artifact = artifacts_of(job_id)["neural-net-progress"]
    assert artifact.type == "progress" and 10 < float(artifact.data) < 100  # type: ignore[attr-defined]

    run_id = live_stack.hr.get("/api/training/runs/", params={"model_type": "neural-net"}).json()["results"][0]["id"]
    detail = live_stack.manager.get(f"/api/training/runs/{run_id}/").json()
    assert detail["flow_run_id"] == job_id and detail["progress"]["step"].startswith("fit: "), detail["progress"]
    assert live_stack.hr.delete(f"/train/job/{job_id}").status_code == 200


def test_a_completed_run_publishes_plots_and_a_champion_comparison(live_stack: Clients) -> None:
    body = {"model_type": "xgboost", "dataset": "churn.csv", "retrain": True, "use_cv": True,
            "hyperparameters": {"n_estimators": 40}}  # fmt: skip
    job_id = live_stack.hr.post("/train", json=body).json()["job_id"]
    done = wait_for_status(live_stack.hr, job_id, {"completed", "failed", "cancelled"})
    assert done["status"] == "completed", done
    assert done["progress"] == {"fraction": 1.0, "step": "done"}
    assert done["champion"]["reason"], done["champion"]
    found = artifacts_of(job_id)
    plots = str(found["xgboost-plots"].data)  # type: ignore[attr-defined]
    for alt in ("Confusion matrix", "ROC curve", "Precision-recall curve", "Feature importances"):
        assert f"![{alt}](data:image/png;base64,iVBORw0KGgo" in plots, alt  # inline PNGs
    summary = str(found["xgboost-summary"].data)  # type: ignore[attr-defined]
    assert ("**Champion**" in summary) == done["champion"]["is_champion"], summary
    assert "Promotion metric: `f1_macro`" in summary


def test_aliases_are_set_moved_listed_and_audited_through_the_api(live_stack: Clients) -> None:
    versions = []
    for n in (1, 2):
        body = {"dataset_path": DATASET, "model_version": f"alias-v{n}", "hyperparameters": {"n_estimators": 10 + n}}
        created = live_stack.hr.post("/api/training/train/", json=body)
        assert created.status_code == 201, created.text
        versions.append(f"alias-v{n}")
    set_first = live_stack.hr.post(f"/train/models/random-forest/{versions[0]}/aliases", json={"alias": "staging"})
    assert set_first.status_code == 200, set_first.text
    moved = live_stack.hr.post(f"/train/models/random_forest/{versions[1]}/aliases", json={"alias": "staging"}).json()
    assert (moved["previous_version"], moved["version"], moved["set_by"]) == (versions[0], versions[1], "test-hr_staff")
    listed = live_stack.manager.get("/train/models/available").json()["available_models"]
    assert "staging" in listed[f"random-forest/{versions[1]}"]["aliases"]
    assert "staging" not in listed[f"random-forest/{versions[0]}"]["aliases"]
    events = live_stack.manager.get("/train/models/alias-events", params={"model_type": "random-forest"}).json()
    assert events[0]["alias"] == "staging" and events[0]["previous_version"] == versions[0]

    assert live_stack.manager.post(f"/train/models/random-forest/{versions[0]}/aliases",
                                   json={"alias": "champion"}).status_code == 403  # fmt: skip
    assert live_stack.hr.post("/train/models/random-forest/no-such/aliases", json={"alias": "x"}).status_code == 404
    bad = live_stack.hr.post(f"/train/models/random-forest/{versions[0]}/aliases", json={"alias": "Bad Name!"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "alias"]
    gone = live_stack.hr.delete(f"/train/models/random-forest/{versions[1]}/aliases/staging")
    assert gone.status_code == 200 and gone.json()["version"] is None


def test_a_scheduled_retraining_that_does_not_beat_the_champion_leaves_it_in_place(live_stack: Clients) -> None:
    """The champion is this dataset's default model; the nightly-style run retrains the same model on
    the same rows, ties, and must complete, keep its version, and leave the champion where it was."""
    created = live_stack.hr.post("/api/training/train/", json={"dataset_path": DATASET, "model_version": "champ-v1"})
    assert created.status_code == 201, created.text
    crowned = live_stack.hr.post("/train/models/random-forest/champ-v1/aliases", json={"alias": "champion"})
    assert crowned.status_code == 200, crowned.text

    nightly = get_spec("future_skills").schedules[0]  # declared in datasets/future_skills.yaml
    assert nightly.promote is True
    run = run_a_schedule_once(NIGHTLY, "retraining-under-test", nightly.parameters())  # the nightly schedule's own
    assert run.state.type is StateType.COMPLETED and run.auto_scheduled, run.state

    status = live_stack.manager.get(f"/train/status/{run.id}").json()
    assert status["champion"]["is_champion"] is False and status["champion"]["promoted"] is False, status
    assert "does not beat champion champ-v1's" in status["champion"]["reason"]
    listed = live_stack.manager.get("/train/models/available").json()["available_models"]
    assert "champion" in listed["random-forest/champ-v1"]["aliases"]
    own = [m for m in listed.values() if m["job_id"] == str(run.id)]
    assert len(own) == 1 and own[0]["aliases"] == [], own  # its version is kept, without the title
    summary = str(artifacts_of(str(run.id))["random-forest-summary"].data)  # type: ignore[attr-defined]
    assert "**Not promoted**: f1_macro" in summary and "champion champ-v1 (same held-out rows)" in summary
    wait_for_log(live_stack.manager, str(run.id), "not promoted")
