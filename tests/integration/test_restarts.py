"""The API and the Prefect server die or restart while work is in flight: nothing is lost or stuck."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest

from runtime.processes import wait_http
from tests.integration.conftest import Clients
from tests.integration.helpers import task_ended_at, task_states, wait_for_status
from trainyard.registry.runs import get_model_version

pytestmark = pytest.mark.integration


def _process(live_stack: Clients, name: str) -> int:
    return next(p.pid for n, p in live_stack.stack.processes if n == name)


def _versions(client: httpx.Client, version: str) -> list[int]:
    """Ids of the training runs recorded for ``version`` (newest first)."""
    runs = client.get("/api/training/runs/", params={"page_size": 100}).json()["results"]
    return [run["id"] for run in runs if run["model_version"] == version]


def test_api_killed_mid_request_loses_no_run_and_the_retry_gets_it(live_stack: Clients) -> None:
    request = {"dataset_path": "future_skills_dataset.csv", "async_training": False, "model_version": "api-kill-v1"}
    headers = {"Idempotency-Key": "api-kill-1"}
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(live_stack.hr.post, "/api/training/train/", json=request, headers=headers)
        deadline = time.monotonic() + 60
        while not _versions(live_stack.manager, "api-kill-v1"):
            assert time.monotonic() < deadline, "the synchronous request never created its run"
            time.sleep(0.2)
        os.killpg(_process(live_stack, "api"), signal.SIGKILL)  # the request is waiting on the training
        with pytest.raises(httpx.TransportError):
            waiting.result(timeout=60)
    live_stack.stack.restart("api")
    wait_http(f"{live_stack.stack.api_url}/health", 60)

    # The client retries with the same key: same run, which trained on while the API was down.
    retried = live_stack.hr.post("/api/training/train/", json=request, headers=headers)
    assert retried.status_code == 201, retried.text
    body = retried.json()
    assert body["status"] == "COMPLETED" and body["model_version"] == "api-kill-v1"
    assert _versions(live_stack.hr, "api-kill-v1") == [body["training_run_id"]]
    assert get_model_version("random-forest", "api-kill-v1") is not None


def test_prefect_server_restart_mid_run_the_run_finishes_and_everything_answers(live_stack: Clients) -> None:
    # ~12 s of training: the outage (stop, then ~6 s to healthy) lands mid-run.
    net = {"dataset": "churn.csv", "retrain": True, "use_cv": False,
           "hyperparameters": {"epochs": 120, "batch_size": 32}}  # fmt: skip
    job_id = live_stack.hr.post("/train/neural-net", json=net).json()["job_id"]
    deadline = time.monotonic() + 120
    while task_states(job_id).get("fit-neural-net") != "Running":
        assert time.monotonic() < deadline, f"the fit never ran: {task_states(job_id)}"
        time.sleep(0.2)
    restarted_at = datetime.now(UTC)
    live_stack.stack.restart("prefect-server")  # SIGTERM, then the same command on the same database
    wait_http(f"{live_stack.stack.prefect_api_url}/health", 120)

    done = wait_for_status(live_stack.hr, job_id, {"completed", "failed", "cancelled"}, timeout=300)
    assert done["status"] == "completed", done  # Prefect's clients retry through a short outage
    assert task_ended_at(job_id, "fit-neural-net") > restarted_at, "the restart must land mid-fit"
    assert done["model_path"] and os.path.isdir(done["model_path"])
    # The workers kept polling: a new job is picked up and runs to the end.
    after = live_stack.hr.post("/train/random-forest", json={"dataset": "future_skills_dataset.csv",
                                                             "retrain": True, "use_cv": False}).json()  # fmt: skip
    assert wait_for_status(live_stack.hr, after["job_id"], {"completed", "failed"})["status"] == "completed"
