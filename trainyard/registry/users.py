"""Managing users and their API tokens (the `trainyard users` / `trainyard tokens` commands).

A disabled user keeps their row (runs name them as ``trained_by``) but can neither log in nor use a
token: their tokens are deleted and their password hash is locked with a ``!`` prefix, the way
``passwd -l`` locks a Unix account. Enabling them again unlocks the hash; tokens must be issued anew.

Every change is written to the audit trail with ``actor`` (by default the operating-system user running the
command line); a role change, a disable, an enable and a revocation in the very transaction that makes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from trainyard.errors import TrainyardError
from trainyard.registry import audit
from trainyard.registry.audit import Action, command_line_actor
from trainyard.registry.auth import LOCKED, Role, create_user, issue_token, parse_role
from trainyard.registry.db import session_scope
from trainyard.registry.models import ApiToken, User


class UserError(TrainyardError):
    """A user-management request that cannot be done (unknown user, taken name, bad role)."""


@dataclass(frozen=True)
class UserSummary:
    username: str
    role: str
    disabled: bool
    tokens: int
    created_at: datetime


@dataclass(frozen=True)
class TokenSummary:
    id: int
    username: str
    created_at: datetime
    digest_prefix: str
    expires_at: datetime | None = None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= datetime.now(UTC)


def _role(role: str) -> Role:
    try:
        return parse_role(role)
    except ValueError:
        raise UserError(
            f"unknown role {role!r}; roles: admin, hr_staff, manager (or DRH, RESPONSABLE_RH, MANAGER)"
        ) from None


def add_user(username: str, password: str, role: str, *, actor: str | None = None) -> None:
    parsed = _role(role)
    if _user_id(username, required=False) is not None:
        raise UserError(f"user {username!r} already exists")
    create_user(username, password, parsed)
    audit.record(Action.USER_ADDED, actor=actor or command_line_actor(), target=username, detail={"role": parsed})


def set_role(username: str, role: str, *, actor: str | None = None) -> tuple[str, str]:
    """Give ``username`` another role (their tokens carry it within TRAINYARD_TOKEN_CACHE_SECONDS); (old, new)."""
    parsed = _role(role)
    user_id = _user_id(username)
    with session_scope() as session:
        user = session.get(User, user_id)
        assert user is not None
        previous, user.role = user.role, str(parsed)
        audit.record(Action.ROLE_CHANGED, actor=actor or command_line_actor(), target=username,
                     detail={"from": previous, "to": str(parsed)}, session=session)  # fmt: skip
    return previous, str(parsed)


def list_users() -> list[UserSummary]:
    with session_scope() as session:
        counts = dict(session.execute(select(ApiToken.user_id, func.count()).group_by(ApiToken.user_id)).all())
        return [
            UserSummary(u.username, u.role, u.password_hash.startswith(LOCKED), counts.get(u.id, 0), u.created_at)
            for u in session.scalars(select(User).order_by(User.username))
        ]


def set_disabled(username: str, disabled: bool, *, actor: str | None = None) -> int:
    """Lock (and revoke every token of) or unlock ``username``; returns how many tokens were revoked."""
    user_id = _user_id(username)
    with session_scope() as session:
        user = session.get(User, user_id)
        assert user is not None
        locked = user.password_hash.startswith(LOCKED)
        if disabled and not locked:
            user.password_hash = LOCKED + user.password_hash
        elif not disabled and locked:
            user.password_hash = user.password_hash.removeprefix(LOCKED)
        revoked = session.execute(delete(ApiToken).where(ApiToken.user_id == user_id)).rowcount if disabled else 0
        audit.record(Action.USER_DISABLED if disabled else Action.USER_ENABLED, actor=actor or command_line_actor(),
                     target=username, detail={"tokens_revoked": int(revoked or 0)}, session=session)  # fmt: skip
    return int(revoked or 0)


def create_token(username: str, expires: timedelta | None = None, *, actor: str | None = None) -> str:
    """A new token for an enabled user, valid for ``expires`` (None: until revoked); shown once, only its
    sha256 is stored."""
    user_id = _user_id(username)
    assert user_id is not None
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is not None and user.password_hash.startswith(LOCKED):
            raise UserError(f"user {username!r} is disabled; enable them first")
    token = issue_token(user_id, expires)
    audit.record(Action.TOKEN_CREATED, actor=actor or command_line_actor(), target=username,
                 detail={"expires_in_s": expires.total_seconds() if expires else None})  # fmt: skip
    return token


def list_tokens(username: str | None = None) -> list[TokenSummary]:
    query = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
    if username is not None:
        query = query.where(User.username == username)
    with session_scope() as session:
        return [TokenSummary(t.id, name, t.created_at, t.token_sha256[:12], t.expires_at)
                for t, name in session.execute(query)]  # fmt: skip


def revoke_tokens(*, token_id: int | None = None, username: str | None = None, actor: str | None = None) -> int:
    """Delete one token (by id) or every token of a user; returns how many were revoked."""
    query = delete(ApiToken)
    if token_id is not None:
        query = query.where(ApiToken.id == token_id)
    elif username is not None:
        query = query.where(ApiToken.user_id == _user_id(username))
    else:
        raise UserError("name a token id or a user")
    with session_scope() as session:
        revoked = int(session.execute(query).rowcount or 0)
        if revoked:
            audit.record(Action.TOKEN_REVOKED, actor=actor or command_line_actor(),
                         target=f"token {token_id}" if token_id is not None else username,
                         detail={"tokens_revoked": revoked}, session=session)  # fmt: skip
    if revoked == 0:
        raise UserError(f"no token with id {token_id}" if token_id is not None else f"{username!r} has no tokens")
    return revoked


def _user_id(username: str, *, required: bool = True) -> int | None:
    with session_scope() as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
    if user_id is None and required:
        raise UserError(f"no user {username!r}")
    return user_id
