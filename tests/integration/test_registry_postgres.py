"""The registry's own tests again, on PostgreSQL (Debian's server, started by the ``postgres`` fixture):
what the multi-host setup runs on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services import Postgres
from tests.unit.test_registry import *  # noqa: F403  (each test runs here again, on PostgreSQL)
from trainyard.registry.db import get_engine
from trainyard.settings import get_settings

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True, scope="module")
def _registry_on_postgres(postgres: Postgres) -> Iterator[None]:
    patch = pytest.MonkeyPatch()
    patch.setenv("TRAINYARD_REGISTRY_URL", postgres.database("registry_tests"))
    get_settings.cache_clear()
    try:
        assert get_engine().dialect.name == "postgresql"
        yield
    finally:
        patch.undo()
        get_settings.cache_clear()


def test_the_registry_reconnects_after_the_server_drops_its_connections(postgres: Postgres) -> None:
    """A restart or failover of PostgreSQL ends every connection the pool holds: the next call must not fail."""
    import psycopg

    from trainyard.registry.auth import create_user, login

    create_user("pg-reconnect", "pw-reconnect", "manager")
    with psycopg.connect(postgres.url("postgres", "postgresql"), autocommit=True) as admin:
        dropped = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = 'registry_tests' AND pid <> pg_backend_pid()"
        ).fetchone()
    assert dropped is not None and dropped[0] >= 1, "the pool held no connection to drop"
    assert login("pg-reconnect", "pw-reconnect") is not None
