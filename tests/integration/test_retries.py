"""The UI's Retry on a run in each final state: nothing registered is lost, hidden or corrupted."""

from __future__ import annotations

import time
from pathlib import Path
from uuid import UUID

import pytest
from prefect import get_client
from prefect.states import Scheduled

from tests.integration.conftest import Clients
from tests.integration.helpers import (
    assert_model_served,
    flow_run_pid,
    persist_blocked,
    task_states,
    wait_for_log,
    wait_for_rerun,
    wait_for_status,
)
from trainyard.pids import pid_alive
from trainyard.registry.runs import get_run

pytestmark = pytest.mark.integration


def retry(job_id: str) -> int:
    """What the Prefect UI's Retry button does; returns the run count before it."""
    with get_client(sync_client=True) as client:
        count = client.read_flow_run(UUID(job_id)).run_count
        client.set_flow_run_state(UUID(job_id), Scheduled(name="AwaitingRetry"), force=True)
    return count


def test_retry_of_a_completed_run_keeps_its_model_and_ends_completed(live_stack: Clients) -> None:
    created = live_stack.hr.post("/api/training/train/", json={"model_version": "retry-done-v1"})
    assert created.status_code == 201, created.text
    run_id = created.json()["training_run_id"]
    before = assert_model_served(live_stack.hr, run_id, "retry-done-v1")
    manifest = (Path(before["model_path"]) / "manifest.json").read_bytes()

    count = retry(before["flow_run_id"])
    wait_for_rerun(before["flow_run_id"], count)

    after = assert_model_served(live_stack.hr, run_id, "retry-done-v1")
    assert after["model_path"] == before["model_path"] and after["accuracy"] == before["accuracy"]
    assert (Path(after["model_path"]) / "manifest.json").read_bytes() == manifest  # not rewritten
    wait_for_log(live_stack.hr, before["flow_run_id"], "nothing to redo")


def test_retry_of_a_cancelled_run_shows_running_in_both_apis_then_completes_from_cache(live_stack: Clients) -> None:
    request = {"dataset_path": "churn.csv", "async_training": True, "model_version": "retry-cxl-v1",
               "hyperparameters": {"n_estimators": 1000}}  # fmt: skip
    created = live_stack.hr.post("/api/training/train/", json=request).json()
    job_id, run_id = created["job_id"], created["training_run_id"]
    _wait_for_task(job_id, "fit-random-forest", "Running")  # cancelled mid-fit, as a fact
    pid = flow_run_pid(job_id)
    assert live_stack.hr.delete(f"/train/job/{job_id}").status_code == 200
    wait_for_status(live_stack.hr, job_id, {"cancelled"}, timeout=60)
    assert live_stack.hr.get(f"/api/training/runs/{run_id}/").json()["status"] == "CANCELLED"
    # The worker marks the run Cancelled once its process is gone, over anything set before that (a
    # Prefect race an operator can hit too): retry after it, as an operator reading the UI would.
    deadline = time.monotonic() + 30
    while pid_alive(pid):
        assert time.monotonic() < deadline, f"process {pid} outlived the cancel"
        time.sleep(0.2)
    time.sleep(1)

    count = retry(job_id)
    seen_running = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = live_stack.hr.get(f"/train/status/{job_id}").json()
        detail = live_stack.hr.get(f"/api/training/runs/{run_id}/").json()
        if job["status"] in {"started", "running"}:
            # Read after the job's status: the run may have finished in between, never gone back.
            assert detail["status"] in {"RUNNING", "COMPLETED"}, (job, detail)
            seen_running = seen_running or detail["status"] == "RUNNING"
        elif job["status"] == "completed":
            break
        time.sleep(0.2)
    assert seen_running, "the training-runs API never showed the retried run as RUNNING"
    wait_for_rerun(job_id, count)
    states = task_states(job_id)
    assert {states[s] for s in ("load-dataset", "validate-dataset", "split-dataset")} == {"Cached"}, states
    assert_model_served(live_stack.hr, run_id, "retry-cxl-v1")
    assert get_run(job_id).status == "COMPLETED"  # type: ignore[union-attr]


def test_retry_of_a_failed_run_resumes_and_its_model_is_served(live_stack: Clients) -> None:
    with persist_blocked("random-forest", "retry-fail-v1"):
        created = live_stack.hr.post("/api/training/train/", json={"model_version": "retry-fail-v1"})
        assert created.status_code == 500, created.text
        run_id = created.json()["training_run_id"]
        failed = live_stack.hr.get(f"/api/training/runs/{run_id}/").json()
        assert failed["status"] == "FAILED" and "already exists" in failed["error_message"], failed
        listed = live_stack.hr.get("/train/models/available").json()["available_models"]
        assert "random-forest/retry-fail-v1" not in listed

    count = retry(failed["flow_run_id"])
    wait_for_rerun(failed["flow_run_id"], count)
    assert_model_served(live_stack.hr, run_id, "retry-fail-v1")
    states = task_states(failed["flow_run_id"])
    assert {states[s] for s in ("load-dataset", "validate-dataset", "split-dataset")} == {"Cached"}, states


def _wait_for_task(flow_run_id: str, task: str, state: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while task_states(flow_run_id).get(task) != state:
        assert time.monotonic() < deadline, f"{task} never reached {state}: {task_states(flow_run_id)}"
        time.sleep(0.2)
