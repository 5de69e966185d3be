"""A real Prefect server (SQLite, its own PREFECT_HOME) for the whole integration session."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

from trainyard.processes import free_port, spawn, stop, wait_http
from trainyard.settings import get_settings

BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def prefect_api(sandbox: Path) -> Iterator[str]:
    """Start ``prefect server start`` and point this process's Prefect client at it."""
    port = free_port()
    home = sandbox / "prefect-home"
    env = {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_SERVER_UI_ENABLED": "false"}  # fmt: skip
    server = spawn([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                   env, sandbox / "logs" / "prefect-server.log")  # fmt: skip
    url = f"http://127.0.0.1:{port}/api"
    try:
        wait_http(f"{url}/health", timeout=120, process=server)
        with temporary_settings(
            updates={PREFECT_API_URL: url, PREFECT_LOCAL_STORAGE_PATH: str(get_settings().stage_dir / "results")}
        ):
            yield url
            APILogWorker.drain_all(timeout=10)  # send queued run logs while the server is still there
    finally:
        stop(server)
