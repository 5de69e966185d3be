"""Failed-login throttling shared by every API process, kept in the registry database.

Three counters of failures within ``login_window_seconds``, each refusing with a Retry-After once past
its limit, the delay doubling with each further failure (up to ``login_max_delay_seconds``):

- ``pair``: one user name from one address (``login_failures_per_user``);
- ``addr``: one address, whatever user names it tries (``login_failures_per_address``);
- ``user``: one user name from every address (``login_failures_per_user_total``). Past it, only the
  addresses that have themselves failed for that user are refused: an attacker cannot lock the real
  user out, who logs in from an address of their own.

A refused attempt writes nothing (it is answered from one read). A success clears its pair and address.
The table is bounded: entries whose window has passed are deleted at each failure, and past
``login_throttle_max_entries`` the least recently failed go, so a flood of made-up user names from many
addresses cannot grow it without limit; one address's flood stops growing it at its own limit.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from trainyard.registry.db import session_scope
from trainyard.registry.models import LoginThrottleEntry
from trainyard.settings import Settings, get_settings


def _keys(username: str, address: str) -> dict[str, str]:
    return {"pair": f"pair:{address}:{username}", "addr": f"addr:{address}", "user": f"user:{username}"}


def _limits(settings: Settings) -> dict[str, int]:
    return {"pair": settings.login_failures_per_user, "addr": settings.login_failures_per_address,
            "user": settings.login_failures_per_user_total}  # fmt: skip


def retry_after(username: str, address: str, now: datetime | None = None) -> float:
    """Seconds this attempt must wait (0: it may go on and have its password checked)."""
    now = now or datetime.now(UTC)
    window = timedelta(seconds=get_settings().login_window_seconds)
    keys = _keys(username, address)
    with session_scope() as session:
        rows = {row.key: row for row in session.scalars(
            select(LoginThrottleEntry).where(LoginThrottleEntry.key.in_(keys.values())))}  # fmt: skip
    waits = [0.0]
    for kind in ("pair", "addr"):
        row = rows.get(keys[kind])
        if row is not None and row.blocked_until is not None and row.blocked_until > now:
            waits.append((row.blocked_until - now).total_seconds())
    user, pair = rows.get(keys["user"]), rows.get(keys["pair"])
    failed_here = pair is not None and max(pair.last_failure_at, pair.blocked_until or now - window) >= now - window
    if user is not None and user.blocked_until is not None and user.blocked_until > now and failed_here:
        waits.append((user.blocked_until - now).total_seconds())
    return max(waits)


def record_failure(username: str, address: str, now: datetime | None = None) -> float:
    """Count a failed login; the Retry-After it starts (0 while every counter is under its limit)."""
    settings = get_settings()
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(seconds=settings.login_window_seconds)
    limits = _limits(settings)
    started = 0.0
    with session_scope() as session:
        for kind, key in _keys(username, address).items():
            failures = _count(session, key, now, cutoff)
            if failures >= limits[kind]:
                delay = min(settings.login_delay_seconds * 2 ** (failures - limits[kind]),
                            settings.login_max_delay_seconds)  # fmt: skip
                blocked_until = now + timedelta(seconds=delay)
                session.execute(update(LoginThrottleEntry).where(LoginThrottleEntry.key == key)
                                .values(blocked_until=blocked_until))  # fmt: skip
                started = max(started, delay)
        _bound(session, cutoff, settings.login_throttle_max_entries)
    return started


def clear(username: str, address: str) -> None:
    """A successful login: its pair and address start again from zero (the user's total does not)."""
    keys = _keys(username, address)
    with session_scope() as session:
        session.execute(delete(LoginThrottleEntry).where(LoginThrottleEntry.key.in_([keys["pair"], keys["addr"]])))


def entries() -> int:
    """How many rows the throttle holds now."""
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(LoginThrottleEntry)) or 0)


def seconds_header(wait: float) -> str:
    """A Retry-After value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(wait)))


def _count(session: Session, key: str, now: datetime, cutoff: datetime) -> int:
    # One upsert statement: a write from its first statement, so two API processes counting the same key
    # serialise on it (no read-then-write race, no SQLite lock upgrade failing at once).
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    table = LoginThrottleEntry.__table__
    insert = dialect.insert(table).values(key=key, failures=1, last_failure_at=now, blocked_until=None)
    # A failure counts on from the last one, or from the end of the block it caused: a block longer than
    # the window must not wipe the count it was given for.
    recent = (table.c.last_failure_at >= cutoff) | (table.c.blocked_until >= cutoff)
    statement = insert.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": case((recent, table.c.failures + 1), else_=1),
            "blocked_until": case((recent, table.c.blocked_until), else_=None),
            "last_failure_at": insert.excluded.last_failure_at,
        },
    ).returning(table.c.failures)
    return int(session.execute(statement).scalar_one())


def _bound(session: Session, cutoff: datetime, max_entries: int) -> None:
    entry = LoginThrottleEntry
    session.execute(delete(entry).where(
        entry.last_failure_at < cutoff, (entry.blocked_until.is_(None)) | (entry.blocked_until < cutoff)))  # fmt: skip
    excess = (session.scalar(select(func.count()).select_from(entry)) or 0) - max_entries
    if excess > 0:
        oldest = select(entry.key).order_by(entry.last_failure_at).limit(excess).scalar_subquery()
        session.execute(delete(entry).where(entry.key.in_(oldest)))
