"""One real stack for the integration session: Prefect server (SQLite), process workers, the API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL, PREFECT_LOCAL_STORAGE_PATH, temporary_settings

from runtime.processes import free_port
from runtime.stack import Stack
from trainyard.registry.auth import create_user, issue_token
from trainyard.settings import get_settings


@pytest.fixture(scope="session")
def stack(sandbox: Path) -> Iterator[Stack]:
    """The Prefect server, started lazily; the API and workers join it in ``live_stack``."""
    # Prefect's scheduler and UI run as they do for users (test_schedules.py and test_prefect_ui.py
    # rely on them). Runs that tests hold in paused pools are not re-stated Late (writes that only
    # contend with the tests' own on SQLite).
    running = Stack(prefect_port=free_port(), api_port=free_port(),
                    extra_env={"PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false"})  # fmt: skip
    try:
        running.claim_store()  # as `trainyard up` does: the sandbox's artifacts directory is this stack's
        running.start_warm_servers()
        running.start_server()
        with temporary_settings(
            updates={
                PREFECT_API_URL: running.prefect_api_url,
                PREFECT_LOCAL_STORAGE_PATH: str(get_settings().stage_dir / "results"),
            }
        ):
            yield running
            APILogWorker.drain_all(timeout=10)  # send queued run logs while the server is still there
    finally:
        running.stop()


@pytest.fixture(scope="session")
def prefect_api(stack: Stack) -> str:
    return stack.prefect_api_url


@dataclass
class Clients:
    """HTTP clients for the running API, one per role, plus an anonymous one."""

    admin: httpx.Client
    hr: httpx.Client
    manager: httpx.Client
    anonymous: httpx.Client
    stack: Stack


@pytest.fixture(scope="session")
def live_stack(stack: Stack) -> Iterator[Clients]:
    stack.create_pools()
    stack.deploy()
    stack.start_workers()
    stack.start_api()
    stack.supervise()  # as `trainyard up` does: a child that dies is restarted
    clients = {}
    for role in ("admin", "hr_staff", "manager"):
        user = create_user(f"test-{role}", f"pw-{role}", role)
        clients[role] = httpx.Client(
            base_url=stack.api_url, headers={"Authorization": f"Token {issue_token(user.id)}"}, timeout=180
        )
    anonymous = httpx.Client(base_url=stack.api_url, timeout=30)
    yield Clients(clients["admin"], clients["hr_staff"], clients["manager"], anonymous, stack)
    for client in (*clients.values(), anonymous):
        client.close()
