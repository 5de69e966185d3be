"""One login attempt, as the API's ``POST /api-token-auth/`` makes it: throttled, checked, audited."""

from __future__ import annotations

from dataclasses import dataclass

from trainyard.registry import audit, throttle
from trainyard.registry.audit import Action, Outcome
from trainyard.registry.auth import login


@dataclass(frozen=True)
class LoginResult:
    token: str | None  # None: refused (wrong credentials, or throttled when retry_after > 0)
    retry_after: float = 0.0


def attempt(username: str, password: str, address: str) -> LoginResult:
    """Refuse at once while ``username`` from ``address`` (or the address) is throttled, without checking the
    password or writing anything; otherwise check, count a failure or clear the count, and audit it."""
    wait = throttle.retry_after(username, address)
    if wait > 0:
        return LoginResult(None, wait)
    token = login(username, password)
    if token is not None:
        throttle.clear(username, address)
        audit.record(Action.LOGIN, actor=username, address=address)
        return LoginResult(token)
    started = throttle.record_failure(username, address)
    audit.record(Action.LOGIN, actor=username, address=address, outcome=Outcome.FAILED)
    if started > 0:
        # One entry per block, not per refused attempt: a flood adds nothing to the trail while it is refused.
        audit.record(Action.LOGIN, actor=username, address=address, outcome=Outcome.THROTTLED,
                     detail={"retry_after_s": round(started, 1)})  # fmt: skip
    return LoginResult(None)
