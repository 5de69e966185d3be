"""The audit trail, for admins: logins, users, tokens, aliases, runs started and cancelled through the API."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError

from api.deps import Allow
from api.responses import AUTHED, errors
from api.schemas import AuditEntryPublic, AuditPublic
from trainyard.registry import audit
from trainyard.registry.audit import Action
from trainyard.registry.auth import Principal

router = APIRouter(tags=["audit"])
ADMIN_ONLY = Allow()  # no role but admin


@router.get("/audit", response_model=AuditPublic, dependencies=[Depends(ADMIN_ONLY)], responses=errors(*AUTHED))
def read_audit(
    _admin: Annotated[Principal, Depends(ADMIN_ONLY)],
    user: Annotated[str | None, Query(max_length=150, description="Only what this user did or tried")] = None,
    since: Annotated[str | None, Query(max_length=64, json_schema_extra={"format": "date-time"},
                                       description="Only entries at or after this time (ISO 8601; UTC when it has "
                                       "no offset)")] = None,
    action: Annotated[Action | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AuditPublic:
    """Audit entries, newest first, paginated: who did what, when, from where, and how it ended."""
    total, entries = audit.read(user=user, since=_time(since), action=action, limit=limit, offset=offset)
    return AuditPublic(total=total, limit=limit, offset=offset,
                       entries=[AuditEntryPublic(**asdict(entry)) for entry in entries])  # fmt: skip


def _time(value: str | None) -> datetime | None:
    """An ISO 8601 time (not pydantic's lax reading, which takes ``0.5`` for a Unix time); UTC without an offset."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RequestValidationError([{"type": "datetime_parsing", "loc": ("query", "since"), "input": value,
                                       "msg": "since must be an ISO 8601 time, e.g. 2026-12-08T09:00:00Z"}]) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
