"""The pools' worker picks a triggered run up when Prefect announces it, not at its next poll."""

from __future__ import annotations

import sys
import time
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.objects import StateType

from runtime.processes import spawn, stop
from runtime.stack import Stack
from trainyard.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration
POLL_SECONDS = 120  # the worker's timed poll: far longer than the test waits for the pickup


def _wait(condition, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"{what} not within {timeout}s"
        time.sleep(0.1)
    return time.monotonic() - started


def test_a_triggered_run_is_picked_up_long_before_the_workers_next_poll(stack: Stack) -> None:
    from bench.noop_flow import noop

    with get_client(sync_client=True) as prefect:
        prefect.create_work_pool(WorkPoolCreate(name="wakeup", type="process"))
        flow_id = prefect.create_flow(noop)
        deployment = prefect.create_deployment(flow_id=flow_id, name="wakeup", work_pool_name="wakeup",
                                               entrypoint="bench.noop_flow:noop", path=str(PROJECT_ROOT))  # fmt: skip
        env = {**stack.env(), "PREFECT_WORKER_QUERY_SECONDS": str(POLL_SECONDS)}
        worker = spawn([sys.executable, "-m", "runtime.worker", "--pool", "wakeup", "--name", "wakeup-0"], env,
                       stack.logs / "worker-wakeup.log", cwd=PROJECT_ROOT)  # fmt: skip
        try:
            # Its first poll runs at start; then the next one is POLL_SECONDS (± 30 % jitter) away.
            _wait(lambda: prefect.read_workers_for_work_pool("wakeup"), 60, "the worker's first sync")
            time.sleep(3)
            run = prefect.create_flow_run_from_deployment(deployment)

            def picked_up() -> bool:
                state = prefect.read_flow_run(UUID(str(run.id))).state
                return state is not None and state.type != StateType.SCHEDULED

            _wait(picked_up, 20, f"pickup of {run.id} (log: {stack.logs / 'worker-wakeup.log'})")
            _wait(lambda: prefect.read_flow_run(run.id).state.type == StateType.COMPLETED, 120, "the run's completion")
        finally:
            stop(worker)
