"""The registry's own tests again, on PostgreSQL (Debian's server, started by the ``postgres`` fixture):
what the multi-host setup runs on. The login throttle's and audit trail's too (upserts, the append-only
trigger)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services import Postgres
from tests.unit.test_login_throttle import *  # noqa: F403  (each test runs here again, on PostgreSQL)
from tests.unit.test_registry import *  # noqa: F403
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


def test_a_connection_lost_at_commit_is_retried_and_the_version_registered_once(postgres: Postgres) -> None:
    """A failover during complete_run's commit: the whole unit of work runs again on a new connection,
    and the model version is registered once."""
    import uuid

    import psycopg
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from trainyard.registry.models import ModelVersionRecord
    from trainyard.registry.runs import RunStart, complete_run, ensure_run, get_model_version
    from trainyard.states import RunStatus

    flow_run_id = str(uuid.uuid4())
    ensure_run(RunStart(flow_run_id, "xgboost"))
    version = ModelVersionRecord(model_type="xgboost", version=f"pg-{flow_run_id[:8]}", path="s3://b/m",
                                 sha256="0" * 64, size_bytes=1)  # fmt: skip
    dropped: list[int] = []

    def drop_my_connection(session: Session) -> None:
        if dropped:
            return
        backend = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with psycopg.connect(postgres.url("postgres", "postgresql"), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        dropped.append(backend)

    event.listen(Session, "before_commit", drop_my_connection)
    try:
        run = complete_run(flow_run_id, version, status=RunStatus.COMPLETED, accuracy=0.5)
    finally:
        event.remove(Session, "before_commit", drop_my_connection)
    assert dropped, "the connection was never dropped"
    assert run.status == RunStatus.COMPLETED
    registered = get_model_version("xgboost", version.version)
    assert registered is not None and registered.training_run_id == run.id
