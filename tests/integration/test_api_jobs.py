"""The jobs contract (seed 003) against the running stack: real server, workers and HTTP."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from tests.integration.conftest import Clients
from tests.integration.helpers import flow_run_pid, wait_for_log, wait_for_status
from trainyard.families import families
from trainyard.model_store import load_model
from trainyard.pids import pid_alive
from trainyard.registry.runs import get_run
from trainyard.settings import get_settings

pytestmark = pytest.mark.integration
SMALL_RF = {"dataset": "future_skills_dataset.csv", "hyperparameters": {"n_estimators": 10}, "use_cv": False}


def test_trigger_runs_to_completed_with_a_loadable_model(live_stack: Clients) -> None:
    response = live_stack.hr.post("/train/random_forest", json={**SMALL_RF, "retrain": True})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "started" and body["model_type"] == "random-forest"
    assert body["message"] == "Training initiated for random-forest" and body["job_id"] in body["prefect_ui_url"]

    done = wait_for_status(live_stack.manager, body["job_id"], {"completed", "failed"})
    assert done["status"] == "completed" and done["prefect_state"] == "Completed", done
    assert done["started_at"].endswith("Z") or "+00:00" in done["started_at"]
    assert done["metrics"]["accuracy"] > 0.5 and set(done["metrics"]["per_class"]) == {"HIGH", "MEDIUM"}
    wait_for_log(live_stack.manager, body["job_id"], "fitted in")
    frame = pd.read_csv(get_settings().data_roots[0] / "future_skills_dataset.csv")
    assert len(load_model(Path(done["model_path"])).predict(frame.head(5))) == 5

    again = live_stack.hr.post("/train/random-forest", json=SMALL_RF).json()
    assert again["cached"] is True and again["status"] == "completed"
    models = live_stack.manager.get("/train/models/available").json()["available_models"]
    assert any(m["job_id"] == body["job_id"] and m["path"] == done["model_path"] for m in models.values())


def test_idempotency_key_returns_the_same_job(live_stack: Clients) -> None:
    headers = {"Idempotency-Key": "same-request-1"}
    payload = {**SMALL_RF, "retrain": True}
    first = live_stack.hr.post("/train/random-forest", json=payload, headers=headers).json()
    second = live_stack.hr.post("/train/random-forest", json=payload, headers=headers).json()
    third = live_stack.hr.post("/train/random-forest", json=payload, headers={"Idempotency-Key": "other"}).json()
    assert first["job_id"] == second["job_id"] != third["job_id"]
    for job_id in {first["job_id"], third["job_id"]}:
        wait_for_status(live_stack.hr, job_id, {"completed", "failed"})


def test_cancel_kills_the_process_and_stays_cancelled(live_stack: Clients) -> None:
    slow = {"dataset": "churn.csv", "retrain": True, "use_cv": False,
            "hyperparameters": {"epochs": 1000, "batch_size": 16}}  # fmt: skip
    job_id = live_stack.hr.post("/train/neural-net", json=slow).json()["job_id"]
    wait_for_status(live_stack.hr, job_id, {"running"})
    pid = flow_run_pid(job_id)
    assert pid_alive(pid)

    response = live_stack.hr.delete(f"/train/job/{job_id}")
    assert response.status_code == 200, response.text
    assert response.json() == {"message": f"Job {job_id} cancelled successfully", "job_id": job_id,
                               "status": "cancelling"}  # fmt: skip
    wait_for_status(live_stack.hr, job_id, {"cancelled"}, timeout=90)
    deadline = time.monotonic() + 30
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not pid_alive(pid), f"flow-run process {pid} survived the cancel"
    time.sleep(2)
    assert live_stack.hr.get(f"/train/status/{job_id}").json()["status"] == "cancelled"
    again = live_stack.hr.delete(f"/train/job/{job_id}")
    assert again.status_code == 400 and again.json()["detail"] == "Cannot cancel job with status: cancelled"
    record = get_run(job_id)  # this job's own record, not just any cancelled one
    assert record is not None and record.status == "CANCELLED", record.status if record else None
    listed = live_stack.hr.get("/api/training/runs/", params={"status": "cancelled", "page_size": 100}).json()
    assert record.id in {run["id"] for run in listed["results"]}


def test_jobs_list_filters_and_counts(live_stack: Clients) -> None:
    quick = {"dataset": "future_skills_dataset.csv", "retrain": True, "use_cv": False,
             "hyperparameters": {"n_estimators": 5}}  # fmt: skip
    mine = [live_stack.hr.post("/train/random-forest", json=quick).json()["job_id"] for _ in range(2)]
    for job_id in mine:  # this test's own jobs: it relies on no other test
        assert wait_for_status(live_stack.hr, job_id, {"completed", "failed"})["status"] == "completed"
    body = live_stack.manager.get("/train/jobs", params={"limit": 1, "model_type": "random-forest"}).json()
    assert body["filtered_count"] == len(body["jobs"]) == 1 and body["total_count"] >= 2
    assert body["jobs"][0]["job_id"] == mine[-1]  # newest first
    assert body["jobs"][0]["model_type"] == "random-forest"
    completed = live_stack.manager.get("/train/jobs", params={"status": "completed", "limit": 100}).json()
    assert completed["jobs"] and all(job["status"] == "completed" for job in completed["jobs"])


@pytest.mark.parametrize(
    ("method", "path", "payload", "code", "needle"),
    [
        ("post", "/train/linear-regression", None, 400, "Supported types"),
        ("post", "/train", {"retrain": True}, 422, "model_type"),
        ("post", "/train", {"model_type": "xgboost", "hyperparameters": {"max_depht": 3}}, 422, "max_depht"),
        ("post", "/train", {"model_type": "xgboost", "hyperparameters": {"max_depth": 99}}, 422, "max_depth"),
        ("post", "/train/xgboost", {"dataset": "../../etc/passwd"}, 422, "outside the allowed data roots"),
        ("post", "/train/xgboost", {"dataset": "/etc/passwd", "retrain": True}, 422, "outside the allowed data roots"),
        ("post", "/train/xgboost", {"use_cv": 0}, 422, "use_cv"),
        ("post", "/train/xgboost", {"hyperparameters": {"n_estimators": "10"}}, 422, "n_estimators"),
        ("post", "/train/xgboost", {"dataset": "x" * 5000}, 422, "dataset"),
        ("get", "/train/jobs?limit=0", None, 422, "limit"),
        ("get", "/train/jobs?status=sleeping", None, 422, "status"),
        ("get", "/train/jobs?model_type=svm", None, 422, "random-forest"),
        ("get", "/train/status/00000000-0000-0000-0000-000000000000", None, 404, "Job ID not found"),
        ("get", "/train/status/not-a-uuid", None, 404, "Job ID not found"),
        ("delete", "/train/job/00000000-0000-0000-0000-000000000000", None, 404, "Job ID not found"),
    ],
)
def test_bad_requests_name_the_problem(
    live_stack: Clients, method: str, path: str, payload: dict | None, code: int, needle: str
) -> None:
    response = live_stack.hr.request(method, path, json=payload)
    assert response.status_code == code, response.text
    assert needle in response.text


def test_auth_rules(live_stack: Clients) -> None:
    missing = live_stack.anonymous.get("/train/jobs")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Token"
    wrong = live_stack.anonymous.get("/train/jobs", headers={"Authorization": "Token nope"})
    assert wrong.status_code == 401
    forbidden = live_stack.manager.post("/train/xgboost", json={})
    assert forbidden.status_code == 403 and "permission" in forbidden.json()["detail"]
    assert live_stack.manager.get("/train/jobs").status_code == 200
    login = live_stack.anonymous.post("/api-token-auth/", json={"username": "test-manager", "password": "pw-manager"})
    assert login.status_code == 200 and len(login.json()["token"]) == 40
    bad = live_stack.anonymous.post("/api-token-auth/", json={"username": "test-manager", "password": "x"})
    assert bad.status_code == 400
    assert bad.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert live_stack.anonymous.get("/health").status_code == 200


def test_all_runs_a_sub_job_per_family(live_stack: Clients) -> None:
    hyper = {name: family.smoke_hyperparameters for name, family in families().items()}
    hyper["neural_net"] = hyper.pop("neural-net")  # either spelling of a family's key is accepted
    body = live_stack.hr.post("/train", json={"model_type": "all", "retrain": True, "use_cv": False,
                                              "dataset": "future_skills_dataset_noisy.csv",
                                              "hyperparameters": hyper}).json()  # fmt: skip
    assert body["model_type"] == "all" and body["status"] == "started"
    done = wait_for_status(live_stack.hr, body["job_id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    assert sorted(j["model_type"] for j in done["sub_jobs"]) == sorted(families())
    assert all(j["status"] == "completed" for j in done["sub_jobs"])
    for sub in done["sub_jobs"]:
        child = live_stack.hr.get(f"/train/status/{sub['job_id']}").json()
        assert child["status"] == "completed" and Path(child["model_path"]).is_dir()


def test_cancelling_all_ends_every_sub_job(live_stack: Clients) -> None:
    slow = {"model_type": "all", "retrain": True, "use_cv": False, "dataset": "churn.csv",
            "hyperparameters": {"neural-net": {"epochs": 1000, "batch_size": 16}}}  # fmt: skip
    job_id = live_stack.hr.post("/train", json=slow).json()["job_id"]
    deadline = time.monotonic() + 120
    while True:
        subs = live_stack.hr.get(f"/train/status/{job_id}").json()["sub_jobs"]
        if any(s["model_type"] == "neural-net" and s["status"] == "running" for s in subs):
            break
        assert time.monotonic() < deadline, f"the neural-net sub-job never ran: {subs}"
        time.sleep(0.5)
    pid = flow_run_pid(job_id)
    assert live_stack.hr.delete(f"/train/job/{job_id}").status_code == 200
    done = wait_for_status(live_stack.hr, job_id, {"cancelled"}, timeout=90)
    assert done["sub_jobs"] and all(s["status"] in {"cancelled", "completed"} for s in done["sub_jobs"]), done
    assert any(s["status"] == "cancelled" for s in done["sub_jobs"])
    deadline = time.monotonic() + 30
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not pid_alive(pid)
