"""Patch 4 (``runtime.prefect_patches``): the Prefect server's SQLite write transactions begin
``IMMEDIATE``. On a real SQLite file through Prefect's own database configuration: a write transaction
that read before another writer committed fails at once as shipped (the server's 503, the client's 2 s
retry); patched, the second writer waits for the first and both land."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest
import sqlalchemy as sa
from prefect.server.database.configurations import AioSqliteConfiguration
from sqlalchemy.ext.asyncio import AsyncSession

from runtime import prefect_patches

SHIPPED = getattr(AioSqliteConfiguration.begin_transaction, "__wrapped_original__",
                  AioSqliteConfiguration.begin_transaction)  # fmt: skip


def test_prefect_begin_transaction_is_the_code_patch_4_was_written_against() -> None:
    # Fails on a Prefect upgrade that changes it: review patch 4 (or drop it if Prefect begins every
    # write transaction IMMEDIATE), then update BEGIN_TRANSACTION_SOURCE_SHA256.
    assert prefect_patches.prefect_begin_transaction_source_sha256() == prefect_patches.BEGIN_TRANSACTION_SOURCE_SHA256
    assert '"IMMEDIATE" if with_for_update else "DEFERRED"' in inspect.getsource(SHIPPED)


async def _read_then_write_while_another_writer_commits(url: str, begin_transaction) -> int:  # type: ignore[no-untyped-def]
    """Transaction A reads, B writes meanwhile, then A writes: Prefect's read-then-write shape."""
    config = AioSqliteConfiguration(connection_url=url)
    engine = await config.engine()
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER)"))
        await conn.execute(sa.text("INSERT INTO counter VALUES (1, 0)"))

    async def writer_b() -> None:
        async with AsyncSession(engine) as session, begin_transaction(config, session):
            await session.execute(sa.text("UPDATE counter SET value = value + 1"))

    try:
        async with AsyncSession(engine) as session:
            async with begin_transaction(config, session):
                await session.execute(sa.text("SELECT value FROM counter"))
                b = asyncio.create_task(writer_b())
                await asyncio.sleep(0.5)  # B commits, or waits for A's write lock
                await session.execute(sa.text("UPDATE counter SET value = value + 10"))
            await b
            return (await session.execute(sa.text("SELECT value FROM counter"))).scalar_one()
    finally:
        await engine.dispose()


def test_as_shipped_the_second_writer_wins_and_the_first_fails_at_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shipped.db'}"
    with pytest.raises(sa.exc.OperationalError, match="database is locked"):
        asyncio.run(_read_then_write_while_another_writer_commits(url, SHIPPED))


def test_patched_writers_queue_and_both_land(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'patched.db'}"
    patched = prefect_patches._immediate_begin_transaction
    assert asyncio.run(_read_then_write_while_another_writer_commits(url, patched)) == 11


def test_install_server_replaces_begin_transaction_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AioSqliteConfiguration, "begin_transaction", SHIPPED)  # restored after the test
    prefect_patches.install_server()
    prefect_patches.install_server()
    installed = AioSqliteConfiguration.begin_transaction
    assert installed is prefect_patches._immediate_begin_transaction
    assert installed.__wrapped_original__ is SHIPPED  # type: ignore[attr-defined]
