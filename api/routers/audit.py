"""The audit trail, for admins: logins, users, tokens, aliases, runs started and cancelled through the API."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

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
    since: Annotated[datetime | None, Query(description="Only entries at or after this time (ISO 8601; UTC when "
                                                  "it has no offset)")] = None,
    action: Annotated[Action | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AuditPublic:
    """Audit entries, newest first, paginated: who did what, when, from where, and how it ended."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # a time without an offset is read as UTC, as every time here is
    total, entries = audit.read(user=user, since=since, action=action, limit=limit, offset=offset)
    return AuditPublic(total=total, limit=limit, offset=offset,
                       entries=[AuditEntryPublic(**asdict(entry)) for entry in entries])  # fmt: skip
