"""The audit trail: who logged in, failed or was throttled, who changed users, tokens and aliases, and who
started or cancelled which run through the API. Append-only (the database refuses UPDATE and DELETE on it);
never a password or a token, only who, what, where and when."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trainyard.registry.db import session_scope
from trainyard.registry.models import AuditEvent


class Action(StrEnum):
    LOGIN = "login"
    TOKEN_CREATED = "token.created"
    TOKEN_REVOKED = "token.revoked"
    USER_ADDED = "user.added"
    USER_DISABLED = "user.disabled"
    USER_ENABLED = "user.enabled"
    ROLE_CHANGED = "user.role_changed"
    ALIAS_SET = "alias.set"
    ALIAS_REMOVED = "alias.removed"
    RUN_STARTED = "run.started"
    RUN_CANCELLED = "run.cancelled"
    SCHEDULE_CHANGED = "schedule.changed"


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    THROTTLED = "throttled"


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    actor: str | None
    action: str
    outcome: str
    target: str | None
    address: str | None
    detail: dict[str, Any]


def command_line_actor() -> str:
    """Who runs a `trainyard` command: the operating-system user, marked as the command line."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "cli:unknown"


def record(
    action: Action,
    *,
    actor: str | None,
    target: str | None = None,
    outcome: Outcome = Outcome.OK,
    address: str | None = None,
    detail: dict[str, Any] | None = None,
    session: Session | None = None,
) -> None:
    """Append one entry; inside ``session`` when given, so it lands (or not) with the change it records."""
    entry = AuditEvent(actor=actor, action=str(action), outcome=str(outcome), target=target, address=address,
                       detail=detail or {})  # fmt: skip
    if session is not None:
        session.add(entry)
        return
    with session_scope() as own:
        own.add(entry)


def read(
    *,
    user: str | None = None,
    since: datetime | None = None,
    action: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[Entry]]:
    """(how many match, the page of them), newest first."""
    query = select(AuditEvent)
    if user is not None:
        query = query.where(AuditEvent.actor == user)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    with session_scope() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit).offset(offset))
        return int(total), [
            Entry(r.id, r.at, r.actor, r.action, r.outcome, r.target, r.address, dict(r.detail or {})) for r in rows
        ]
