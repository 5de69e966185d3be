"""Engine and session factory for the registry (SQLite by default, any SQLAlchemy URL)."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from trainyard.registry.models import Base
from trainyard.settings import get_settings

P = ParamSpec("P")
R = TypeVar("R")
DISCONNECT_RETRIES = (0.2, 1.0)  # seconds before the 2nd and 3rd attempt
logger = logging.getLogger(__name__)


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL per process (the settings' URL by default); creates the schema on first use."""
    return _engine(url or get_settings().resolved_registry_url)


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        # Pre-ping replaces connections a server restart or failover dropped; recycling bounds their age.
        engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, pool_recycle=1800)
    Base.metadata.create_all(engine)
    _add_new_columns(engine)
    return engine


def _add_new_columns(engine: Engine) -> None:
    """Add the nullable columns a newer trainyard declares to tables an older one created (create_all
    makes missing tables only). Only ever adds: a column is never changed or dropped here."""
    existing = inspect(engine)
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            if not existing.has_table(table.name):
                continue
            have = {column["name"] for column in existing.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have and column.nullable:
                    kind = column.type.compile(dialect=engine.dialect)
                    connection.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
                    logger.info("registry: added column %s.%s", table.name, column.name)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets the API read while flow processes write; busy_timeout makes writers wait, not fail.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@lru_cache(maxsize=4)
def _session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A transaction: commit on success, roll back on error."""
    session = _session_factory(url or get_settings().resolved_registry_url)()
    try:
        yield session
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()


def retry_on_disconnect(unit_of_work: Callable[P, R]) -> Callable[P, R]:
    """Run ``unit_of_work`` (one whole transaction, safe to repeat) again when the database dropped its
    connection mid-way (a restart or failover); any other error is raised at once."""

    @functools.wraps(unit_of_work)
    def attempt(*args: P.args, **kwargs: P.kwargs) -> R:
        for wait in (*DISCONNECT_RETRIES, None):
            try:
                return unit_of_work(*args, **kwargs)
            except DBAPIError as exc:
                if not exc.connection_invalidated or wait is None:
                    raise
                logger.warning("registry connection lost in %s; retrying in %.1fs", unit_of_work.__name__, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")

    return attempt
