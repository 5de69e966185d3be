"""Cancel mid-fit, for each family and for `all`: the training process is gone within seconds (not the
worker's 30 s grace kill), and a cancelled job or sub-job never turns into anything else."""

from __future__ import annotations

import time

import pytest

from tests.integration.conftest import Clients
from tests.integration.helpers import flow_run_pid, task_states, wait_for_status
from trainyard.pids import pid_alive
from trainyard.registry.runs import get_run, registered_run

pytestmark = pytest.mark.integration
SLOW = {  # each fits on the churn table for well over the time a cancel may take, and checks for a stop
    "random-forest": {"n_estimators": 1000},
    "xgboost": {"n_estimators": 10_000, "max_depth": 10},
    "neural-net": {"epochs": 1000, "batch_size": 16},
    "lightgbm": {"n_estimators": 10_000, "learning_rate": 0.001},
}  # the logistic-regression baseline fits the churn table in a fraction of a second: nothing to stop mid-fit
GONE_WITHIN = 15.0  # generous for a loaded CI machine; bench/cancel_latency.py measures p50/p95


def _fit_running(job_id: str, family: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while task_states(job_id).get(f"fit-{family}") != "Running":
        assert time.monotonic() < deadline, f"fit-{family} never ran: {task_states(job_id)}"
        time.sleep(0.2)


def _gone_within(pid: int, seconds: float) -> float:
    started = time.monotonic()
    while pid_alive(pid):
        assert time.monotonic() - started < seconds, f"process {pid} still alive {seconds}s after the cancel"
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.parametrize("family", list(SLOW))
def test_cancel_mid_fit_ends_the_process_quickly(live_stack: Clients, family: str) -> None:
    body = {"dataset": "churn.csv", "retrain": True, "use_cv": False, "hyperparameters": SLOW[family]}
    job_id = live_stack.hr.post(f"/train/{family}", json=body).json()["job_id"]
    _fit_running(job_id, family)
    pid = flow_run_pid(job_id)
    assert live_stack.hr.delete(f"/train/job/{job_id}").status_code == 200
    _gone_within(pid, GONE_WITHIN)
    wait_for_status(live_stack.hr, job_id, {"cancelled"}, timeout=30)
    time.sleep(3)  # nothing may overwrite the cancel afterwards
    assert live_stack.hr.get(f"/train/status/{job_id}").json()["status"] == "cancelled"


def test_cancel_of_all_mid_fit_stops_every_fit_and_no_sub_job_comes_back(live_stack: Clients) -> None:
    body = {"model_type": "all", "retrain": True, "use_cv": False, "dataset": "churn.csv",
            "hyperparameters": {family.replace("-", "_"): hyper for family, hyper in SLOW.items()}}  # fmt: skip
    job_id = live_stack.hr.post("/train", json=body).json()["job_id"]
    deadline = time.monotonic() + 120
    while True:
        subs = live_stack.hr.get(f"/train/status/{job_id}").json()["sub_jobs"]
        fitting = {s["model_type"] for s in subs if task_states(s["job_id"]).get(f"fit-{s['model_type']}") == "Running"}
        if fitting == set(SLOW):
            break
        assert time.monotonic() < deadline, f"the slow fits never ran together: {subs}"
        time.sleep(0.3)
    pid = flow_run_pid(job_id)
    assert live_stack.hr.delete(f"/train/job/{job_id}").status_code == 200
    _gone_within(pid, GONE_WITHIN)
    done = wait_for_status(live_stack.hr, job_id, {"cancelled"}, timeout=30)
    time.sleep(3)
    for sub in done["sub_jobs"]:
        now = live_stack.hr.get(f"/train/status/{sub['job_id']}").json()
        if sub["model_type"] not in SLOW:  # a sub-job that finished before the cancel keeps its model
            assert now["status"] in {"completed", "cancelled"}, now
            continue
        assert now["status"] == "cancelled" and now["model_path"] is None, now
        record = get_run(sub["job_id"])
        assert record is not None and record.status == "CANCELLED", record.status if record else None
        assert registered_run(sub["job_id"]) is None, "a cancelled sub-job registered a model"
