"""kill -9 of each process the stack supervises, mid-run: the run's outcome is decided, nothing hangs,
the process comes back, and its pool takes new work."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prefect import get_client
from prefect.client.schemas.actions import WorkPoolCreate

from runtime.processes import wait_http
from tests.integration.conftest import Clients
from tests.integration.helpers import paused_pools, task_ended_at, task_states, wait_for_status
from trainyard.model_store import load_model
from trainyard.pids import pid_alive

pytestmark = pytest.mark.integration
# ~10 s of fitting on two cores: long enough that the kill lands inside the fit, which each test checks.
NET = {"dataset": "churn.csv", "retrain": True, "use_cv": False, "hyperparameters": {"epochs": 100, "batch_size": 32}}
QUICK = {"dataset": "future_skills_dataset.csv", "retrain": True, "use_cv": False,
         "hyperparameters": {"n_estimators": 10}}  # fmt: skip


def _pid(live_stack: Clients, name: str) -> int:
    return next(p.pid for n, p in live_stack.stack.processes if n == name)


def _wait_for_fit(job_id: str, task: str = "fit-neural-net", timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while task_states(job_id).get(task) != "Running":
        assert time.monotonic() < deadline, f"{task} never ran: {task_states(job_id)}"
        time.sleep(0.2)


def _wait_for_respawn(live_stack: Clients, name: str, old_pid: int, timeout: float = 15) -> int:
    deadline = time.monotonic() + timeout
    while (pid := _pid(live_stack, name)) == old_pid or not pid_alive(pid):
        assert time.monotonic() < deadline, f"{name} was not restarted within {timeout}s"
        time.sleep(0.2)
    return pid


def _pool_ready(pool: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        with get_client(sync_client=True) as client:
            status = client.read_work_pool(pool).status
        if status is not None and status.value == "READY":
            return
        time.sleep(0.5)
    raise AssertionError(f"pool {pool} not READY within {timeout}s (status {status})")


def _new_job_completes(live_stack: Clients, model_type: str) -> None:
    body = live_stack.hr.post(f"/train/{model_type}", json=QUICK).json()
    done = wait_for_status(live_stack.hr, body["job_id"], {"completed", "failed", "cancelled"}, timeout=120)
    assert done["status"] == "completed", done


@pytest.mark.parametrize("name", ["worker-gpu-0", "api", "prefect-server"])
def test_kill_9_mid_run_the_run_completes_and_the_process_is_restarted(live_stack: Clients, name: str) -> None:
    job_id = live_stack.hr.post("/train/neural-net", json=NET).json()["job_id"]
    _wait_for_fit(job_id)
    old_pid = _pid(live_stack, name)
    killed_at, killed_wall = time.monotonic(), datetime.now(UTC)
    os.kill(old_pid, signal.SIGKILL)  # that process only, as an operator's `kill -9 PID` would

    _wait_for_respawn(live_stack, name, old_pid)
    if name == "api":
        wait_http(f"{live_stack.stack.api_url}/health", 60)
    if name.startswith("worker"):
        _pool_ready("gpu", timeout=max(1.0, 15 - (time.monotonic() - killed_at)))
    done = wait_for_status(live_stack.hr, job_id, {"completed", "failed", "cancelled"}, timeout=240)
    assert done["status"] == "completed", done  # its output never depended on the dead process
    assert task_ended_at(job_id, "fit-neural-net") > killed_wall, "the kill must land mid-fit"
    load_model(Path(done["model_path"]))
    _new_job_completes(live_stack, "xgboost")


def test_kill_9_of_the_warm_server_crashes_its_run_at_once_and_the_pool_keeps_working(live_stack: Clients) -> None:
    job_id = live_stack.hr.post("/train/neural-net", json=NET).json()["job_id"]
    _wait_for_fit(job_id)
    old_pid = _pid(live_stack, "warm-gpu")
    os.kill(old_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    done = wait_for_status(live_stack.hr, job_id, {"completed", "failed", "cancelled"}, timeout=30)
    assert done["status"] == "failed" and done["prefect_state"] == "Crashed", done
    assert time.monotonic() - killed_at < 10, "a run that lost its process must be seen as Crashed within 10 s"
    _wait_for_respawn(live_stack, "warm-gpu", old_pid)
    _new_job_completes(live_stack, "xgboost")


def test_a_job_that_cannot_start_says_why(live_stack: Clients) -> None:
    with paused_pools(("cpu",)):
        job_id = live_stack.hr.post("/train/random-forest", json=QUICK).json()["job_id"]
        deadline = time.monotonic() + 5  # the API keeps a pool's status for 2 s
        while "paused" not in ((body := live_stack.hr.get(f"/train/status/{job_id}").json())["message"] or ""):
            assert time.monotonic() < deadline, body
            time.sleep(0.3)
        assert body["status"] == "started", body
    with get_client(sync_client=True) as client:
        shipped = client.read_deployment_by_name("train-random-forest/random-forest")
        client.create_work_pool(WorkPoolCreate(name="no-workers", type="process"))
        deployment_id = client.create_deployment(
            flow_id=shipped.flow_id, name="nobody-polls", entrypoint=shipped.entrypoint, work_pool_name="no-workers"
        )
        try:
            run = client.create_flow_run_from_deployment(deployment_id, parameters={"params": {"dataset": "churn.csv"}})
            body = live_stack.hr.get(f"/train/status/{run.id}").json()
            assert body["status"] == "started" and "no live worker" in (body["message"] or ""), body
            assert "'no-workers'" in body["message"]
        finally:
            client.delete_deployment(deployment_id)
            client.delete_work_pool("no-workers")
