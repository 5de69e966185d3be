"""Faults on the running stack: a killed run, a killed worker, a retry from the UI."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from uuid import UUID

import pandas as pd
import pytest
from prefect import get_client
from prefect.states import Scheduled

from tests.integration.conftest import Clients
from tests.integration.helpers import flow_run_pid, task_states, wait_for_status
from trainyard.registry.runs import get_run
from trainyard.settings import get_settings

pytestmark = pytest.mark.integration
SLOW_NET = {"dataset": "churn.csv", "retrain": True, "use_cv": False,
            "hyperparameters": {"epochs": 1000, "batch_size": 16}}  # fmt: skip


def test_killed_run_process_shows_failed_within_90s(live_stack: Clients) -> None:
    job_id = live_stack.hr.post("/train/neural-net", json=SLOW_NET).json()["job_id"]
    wait_for_status(live_stack.hr, job_id, {"running"})
    os.kill(flow_run_pid(job_id), signal.SIGKILL)
    started = time.monotonic()
    body = wait_for_status(live_stack.hr, job_id, {"failed"}, timeout=90)
    assert body["prefect_state"] == "Crashed" and body["error"], body
    assert time.monotonic() - started < 90
    record = get_run(job_id)  # this job's own record, not just any failed one
    assert record is not None and record.status == "FAILED" and record.error_message, record


def test_killed_worker_and_run_show_failed_not_running_forever(live_stack: Clients) -> None:
    job_id = live_stack.hr.post("/train/neural-net", json=SLOW_NET).json()["job_id"]
    wait_for_status(live_stack.hr, job_id, {"running"})
    pid = flow_run_pid(job_id)
    worker = next(p for name, p in live_stack.stack.processes if name == "worker-gpu-0")
    os.killpg(worker.pid, signal.SIGKILL)  # the worker dies without a chance to report anything
    with contextlib.suppress(ProcessLookupError):  # the run's launcher may have gone with the worker's group
        os.kill(pid, signal.SIGKILL)
    body = wait_for_status(live_stack.hr, job_id, {"failed"}, timeout=90)
    assert body["prefect_state"] == "Crashed" and "exited without reporting" in (body["error"] or ""), body
    # (the stack's supervisor restarts the worker: test_supervision.py)


def test_retry_from_the_ui_reruns_and_serves_cached_steps(live_stack: Clients) -> None:
    data = get_settings().data_roots[0]
    frame = pd.read_csv(data / "future_skills_dataset.csv")
    frame.loc[0, "avg_salary_k"] += 0.1  # new content: the first attempt cannot hit any earlier cache
    frame.to_csv(data / "retry_hr.csv", index=False)
    blocker = get_settings().models_dir / "random-forest" / "retry-v1"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("occupied: persist fails until this file goes")

    created = live_stack.hr.post("/api/training/train/", json={"dataset_path": "retry_hr.csv", "async_training": True,
                                                               "model_version": "retry-v1"})  # fmt: skip
    job_id = created.json()["job_id"]
    failed = wait_for_status(live_stack.hr, job_id, {"failed", "completed"})
    assert failed["status"] == "failed" and "already exists" in failed["error"], failed
    assert task_states(job_id)["split-dataset"] == "Completed"

    blocker.unlink()
    with get_client(sync_client=True) as client:  # what the UI's Retry button does
        client.set_flow_run_state(UUID(job_id), Scheduled(name="AwaitingRetry"), force=True)
    # The API's read cache drops the run on Prefect's state-change event: the retry shows as soon as
    # that event arrives (CI once read the old state just before it did), so allow it a moment.
    wait_for_status(live_stack.hr, job_id, {"started", "running", "completed"}, timeout=5)
    done = wait_for_status(live_stack.hr, job_id, {"completed", "failed"})
    assert done["status"] == "completed", done
    states = task_states(job_id)
    assert {states[s] for s in ("load-dataset", "validate-dataset", "split-dataset")} == {"Cached"}
    detail = live_stack.hr.get(f"/api/training/runs/{created.json()['training_run_id']}/").json()
    assert detail["status"] == "COMPLETED" and detail["model_path"].endswith("retry-v1")
