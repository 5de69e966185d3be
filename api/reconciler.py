"""Keeps Prefect truthful about runs whose process died or ignored a cancel (process pools, one host).

Bound: a dead run is marked within ``reconcile_interval_seconds`` (default 5 s) of the sweep that
sees it; a Cancelling run whose process outlives ``cancel_grace_seconds`` (45 s: longer than the
worker's own 30 s grace kill) is killed and marked Cancelled on the next sweep.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from datetime import UTC, datetime

from prefect.client.schemas.objects import StateType

from api.gateway import TERMINAL, JobView, PrefectGateway, PrefectUnavailable
from trainyard.pids import pid_alive

logger = logging.getLogger(__name__)


def local_pid(infrastructure_pid: str | None, hostname: str) -> int | None:
    """The PID a run's worker recorded, when it is a process on this host.

    Prefect's process worker records a bare PID; it is taken as local because the reconciler only
    runs where process workers share the API's host (``TRAINYARD_RECONCILE_INTERVAL_SECONDS=0``
    turns it off elsewhere). A ``host:pid`` form is honoured only for this host.
    """
    if not infrastructure_pid:
        return None
    host, _, pid = infrastructure_pid.rpartition(":")
    if host and host != hostname:
        return None
    return int(pid) if pid.isdigit() else None


def sweep(gateway: PrefectGateway, cancel_grace: float, hostname: str | None = None) -> list[tuple[str, str]]:
    """One pass; returns (job id, action) for every run it changed."""
    hostname = hostname or socket.gethostname()
    actions: list[tuple[str, str]] = []
    now = datetime.now(UTC)
    for job, infra, since in gateway.active_runs():
        # A Pending run may still carry the PID of its previous attempt (a retry from the UI): its
        # worker records the new process's PID before the run can report Running.
        pid = None if job.state_type is StateType.PENDING else local_pid(infra, hostname)
        if pid is None:
            if (orphan := _orphaned(gateway, job)) is not None:
                gateway.mark(job.id, orphan, "the parent job's process ended before this sub-job")
                actions.append((job.id, orphan.value.lower()))
            continue
        if not pid_alive(pid):
            if job.state_type is StateType.CANCELLING:
                gateway.mark(job.id, StateType.CANCELLED, f"process {pid} is gone; cancellation complete")
                actions.append((job.id, "cancelled"))
            else:
                gateway.mark(job.id, StateType.CRASHED, f"flow-run process {pid} exited without reporting a state")
                actions.append((job.id, "crashed"))
        elif job.state_type is StateType.CANCELLING and since and (now - since).total_seconds() > cancel_grace:
            os.kill(pid, signal.SIGKILL)
            gateway.mark(job.id, StateType.CANCELLED, f"process {pid} ignored cancellation; killed")
            actions.append((job.id, "killed"))
    for job_id, action in actions:
        logger.warning("reconciled run %s: %s", job_id, action)
    return actions


def _orphaned(gateway: PrefectGateway, job: JobView) -> StateType | None:
    """A sub-job (no process of its own) whose parent run is over: the state it must end in."""
    parent = gateway.parent_state(job)
    if parent is None or parent not in TERMINAL:
        return None
    return StateType.CANCELLED if parent is StateType.CANCELLED else StateType.CRASHED


def start(gateway: PrefectGateway, interval: float, cancel_grace: float, stop: threading.Event) -> threading.Thread:
    """Run ``sweep`` every ``interval`` seconds in a daemon thread until ``stop`` is set."""

    def loop() -> None:
        while not stop.wait(interval):
            try:
                sweep(gateway, cancel_grace)
            except PrefectUnavailable as exc:
                logger.warning("reconcile sweep skipped: %s", exc)
            except Exception:  # a failed sweep must not end the loop; the next one retries
                logger.exception("reconcile sweep failed")

    thread = threading.Thread(target=loop, name="trainyard-reconciler", daemon=True)
    thread.start()
    return thread
