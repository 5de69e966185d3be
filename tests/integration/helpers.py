"""Polling helpers for tests that drive the running stack."""

from __future__ import annotations

import os
import time
from uuid import UUID

import httpx
from prefect import get_client


def wait_for_status(client: httpx.Client, job_id: str, wanted: set[str], timeout: float = 180) -> dict:
    """Poll GET /train/status until the job's status is in ``wanted``; fail with the last body."""
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = client.get(f"/train/status/{job_id}").json()
        if body.get("status") in wanted:
            return body
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} never reached {wanted}; last status body: {body}")


def flow_run_pid(job_id: str, timeout: float = 60) -> int:
    """The PID the process worker recorded for the flow run (``host:pid``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with get_client(sync_client=True) as client:
            pid = client.read_flow_run(UUID(job_id)).infrastructure_pid
        if pid:
            return int(str(pid).rsplit(":", 1)[-1])
        time.sleep(0.5)
    raise AssertionError(f"no infrastructure pid recorded for {job_id}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has exited all the same.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
