"""A run process's stop request, seen by fits running in threads that Prefect's SIGTERM cannot reach.

Prefect cancels a run by SIGTERM to its process, which raises in the main thread only. ``train-all``
fits its three models in worker threads, which would train on until the worker's 30 s kill (and a
sub-job could still register a model after it was cancelled). The flow's main thread calls
``request_stop()`` when the signal reaches it; each fit checks ``check()`` between epochs, batches,
boosting rounds and batches of trees, and ends within one of them. One event per process, by
design: it stands for the process's own termination, as a signal handler would.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from prefect.exceptions import Abort

_STOP = threading.Event()


class TrainingStopped(Abort):
    """The run is being cancelled. Prefect's ``Abort``: not an ``Exception`` (nothing turns it into a
    failure), and Prefect's engine proposes no state for it, so a Cancelled run stays Cancelled (a
    plain BaseException would be reported as a forced Crashed)."""


def request_stop() -> None:
    _STOP.set()


def stop_requested() -> bool:
    return _STOP.is_set()


def check() -> None:
    """Raise ``TrainingStopped`` once a stop was requested."""
    if _STOP.is_set():
        raise TrainingStopped("the run is being cancelled")


@contextmanager
def stopping_sub_jobs_on_termination(flow_run_id: str | None) -> Iterator[None]:
    """Around a parent flow's wait on its sub-jobs: when Prefect's termination signal reaches the
    parent (a cancel), mark its unfinished sub-jobs Cancelled and stop their fits, then let the signal
    go on. Each stopped sub-job also settles itself Cancelled (``cancelled_when_stopped``), which covers
    one that was only starting."""
    from prefect.exceptions import TerminationSignal

    try:
        yield
    except (TerminationSignal, KeyboardInterrupt):
        request_stop()
        _cancel_sub_jobs(flow_run_id)
        raise


@contextmanager
def cancelled_when_stopped() -> Iterator[None]:
    """Around a flow's steps: a stop (its own cancel, or its parent's) ends this flow run Cancelled, set
    here because Prefect proposes no state for ``TrainingStopped``. A sub-job that only starts after its
    parent was cancelled stops at once."""
    from prefect.runtime import flow_run

    try:
        check()
        yield
    except TrainingStopped:
        with contextlib.suppress(Exception):
            _mark_cancelled([flow_run.get_id()], "parent job cancelled" if flow_run.get_parent_flow_run_id()
                            else "cancelled")  # fmt: skip
        raise


@contextmanager
def exiting_promptly_when_cancelled(flow_run_id: str | None) -> Iterator[None]:
    """Around a flow's body: once Prefect's termination signal has gone through it for a run Prefect has
    Cancelling (or Cancelled), the process leaves right after Prefect has shipped its last logs and
    events, skipping the interpreter's teardown of every module (1-3 s with torch, pandas and Prefect
    loaded, which the cancel would otherwise wait for: the container or process stays until then).
    The exit status is 0, as Prefect's engine gives a run its supervisor terminated."""
    from prefect.exceptions import TerminationSignal

    try:
        yield
    except (TerminationSignal, KeyboardInterrupt):
        with contextlib.suppress(Exception):
            if cancelled_in_prefect(flow_run_id):
                # Runs after threading's exit hooks (where Prefect's log and event workers drain) and
                # before the interpreter tears its modules down.
                atexit.register(_leave_now)
        raise


def _leave_now() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def _cancel_sub_jobs(flow_run_id: str | None) -> None:
    """Best effort (the API's reconciler ends orphaned sub-jobs too): mark unfinished sub-jobs Cancelled."""
    with contextlib.suppress(Exception):
        _mark_sub_jobs_cancelled(flow_run_id)


def _mark_sub_jobs_cancelled(flow_run_id: str | None) -> None:
    from uuid import UUID

    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    if flow_run_id is None:
        return
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[UUID(flow_run_id)]))
        )
    _mark_cancelled([str(c.id) for c in children if c.state is None or not c.state.is_final()], "parent job cancelled")


def _mark_cancelled(flow_run_ids: list[str | None], message: str) -> None:
    from uuid import UUID

    from prefect import get_client
    from prefect.states import Cancelled

    with get_client(sync_client=True) as client:
        for flow_run_id in filter(None, flow_run_ids):
            client.set_flow_run_state(UUID(flow_run_id), Cancelled(message=message), force=True)


def cancelled_in_prefect(flow_run_id: str | None) -> bool:
    """Whether Prefect has this run as Cancelling or Cancelled (read before anything is registered)."""
    from uuid import UUID

    from prefect import get_client

    if flow_run_id is None:
        return False
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(flow_run_id)).state
    return state is not None and state.type.value in {"CANCELLING", "CANCELLED"}
