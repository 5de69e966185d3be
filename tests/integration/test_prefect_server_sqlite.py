"""The Prefect server as trainyard starts it (``runtime.prefect_server``), on its embedded SQLite,
under the writes of 40 runs at once through Prefect's own client: created, Pending, Running, three
task runs each, logs, Completed.

As shipped, Prefect begins most write transactions DEFERRED; under such a burst 38 of 40 run
creations got a 503 at once (SQLite's busy timeout does not apply to a read-then-write transaction
that lost the race), the client backed off 2, 4, 8… s, and the burst took 127 s or ran out of
retries. Patch 4 (every write transaction IMMEDIATE) queues the writers instead: about 14 s here."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect import flow, task
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import LogCreate
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Completed, Pending, Running, Scheduled
from prefect.types._datetime import now

from runtime import prefect_server
from runtime.processes import free_port, spawn, stop_all, wait_http

pytestmark = pytest.mark.integration

RUNS = 40
BURST_WITHIN = 60.0  # 14 s measured on 2 idle cores; shipped Prefect: 127 s, or a failed call


@flow(name="sqlite-burst")
def burst_flow() -> None:
    """Never run: its runs are driven by hand, as a worker and an engine would."""


@task(name="sqlite-burst-step")
def burst_step() -> None:
    """Never run either."""


@pytest.fixture()
def own_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port, log = free_port(), tmp_path / "prefect-server.log"
    env = {"PREFECT_HOME": str(tmp_path / "home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    server = spawn(prefect_server.command(port), env, log)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/health", 180, process=server, log_file=log)
        yield f"http://127.0.0.1:{port}/api", log
    finally:
        stop_all([server], grace=10)


async def _one_run(client) -> str:  # type: ignore[no-untyped-def]
    run = await client.create_flow_run(burst_flow, state=Scheduled())
    for state in (Pending(), Running()):
        await client.set_flow_run_state(run.id, state)
    for i in range(3):
        task_run = await client.create_task_run(burst_step, run.id, dynamic_key=str(i), state=Pending())
        for state in (Running(), Completed()):
            await client.set_task_run_state(task_run.id, state)
        await client.create_logs([LogCreate(name="burst", level=20, message=f"step {i}", timestamp=now("UTC"),
                                            flow_run_id=run.id)])  # fmt: skip
    return (await client.set_flow_run_state(run.id, Completed())).status.value


def test_forty_runs_at_once_are_written_without_a_refusal_or_a_stall(own_server: tuple[str, Path]) -> None:
    url, log = own_server

    async def burst() -> list[str]:
        async with get_client() as client:  # each run creation also registers the flow, as Prefect's does
            return await asyncio.gather(*(_one_run(client) for _ in range(RUNS)))

    with temporary_settings(updates={PREFECT_API_URL: url}):
        started = time.monotonic()
        outcomes = asyncio.run(burst())
        seconds = time.monotonic() - started
    assert outcomes == ["ACCEPT"] * RUNS
    assert seconds < BURST_WITHIN, f"{RUNS} runs took {seconds:.0f} s"
    assert "database is locked" not in log.read_text(errors="replace")
