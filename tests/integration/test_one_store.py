"""What a second stack on the same artifacts directory did to the first, and why it no longer can.

Both stacks' Prefect servers served one SQLite database (``<artifacts>/prefect-home``), and each server
keeps its events (a run scheduled, a cancel asked for, a state changed) in its own memory. So both
stacks' workers claimed the same runs (one claim aborted: "cannot transition to a PENDING state"),
half the runs were launched by the other stack's worker, which never heard a cancel made through the
first server (only the API's reconciler ended them, 45 s later), and the first API's status cache,
fed by its own server's events, missed the state changes the other worker's runs reported to theirs.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from runtime.processes import free_port
from runtime.stack import Stack
from tests.integration.conftest import Clients

pytestmark = pytest.mark.integration
BURST = 12
PAYLOAD = {"dataset": "future_skills_dataset.csv", "retrain": True, "use_cv": False,
           "hyperparameters": {"n_estimators": 5}}  # fmt: skip


def test_a_second_stack_on_the_same_store_cannot_serve_its_prefect_database(live_stack: Clients) -> None:
    stack = live_stack.stack
    server_pid = next(p.pid for name, p in stack.processes if name == "prefect-server")
    # As a second `up` on the same checkout would start, with the artifacts directory's lock bypassed.
    second = Stack(prefect_port=free_port(), api_port=free_port())
    try:
        with pytest.raises(RuntimeError) as refused:
            second.start_server(timeout=120)
    finally:
        second.stop()
    message = str(refused.value)
    assert "already served by" in message and f"pid {server_pid} (Prefect :{stack.prefect_port}" in message, message


def test_a_burst_of_runs_is_submitted_once_each(live_stack: Clients) -> None:
    with ThreadPoolExecutor(BURST) as pool:
        responses = list(pool.map(lambda _: live_stack.hr.post("/train/random-forest", json=PAYLOAD), range(BURST)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    jobs = {r.json()["job_id"] for r in responses}
    deadline = time.monotonic() + 240
    while jobs - {j for j in jobs if live_stack.hr.get(f"/train/status/{j}").json()["status"] == "completed"}:
        assert time.monotonic() < deadline, "the burst did not complete"
        time.sleep(1)
    log = (live_stack.stack.logs / "worker-cpu-0.log").read_text(errors="replace")
    submitted = re.findall(r"submitting flow run '([0-9a-f-]{36})'", log)
    assert all(submitted.count(job) == 1 for job in jobs), {j: submitted.count(j) for j in jobs}
    aborted = [line for line in log.splitlines() if "Aborted submission" in line and any(j in line for j in jobs)]
    assert not aborted, aborted
