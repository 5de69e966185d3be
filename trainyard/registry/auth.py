"""Users, roles and API tokens: passwords as scrypt hashes, tokens as sha256 digests, with an optional expiry."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select

from trainyard.errors import TrainyardError
from trainyard.registry.db import session_scope
from trainyard.registry.models import ApiToken, User
from trainyard.settings import get_settings


class Role(StrEnum):
    ADMIN = "admin"
    HR_STAFF = "hr_staff"
    MANAGER = "manager"


# Group names of the original Django service's deployment, accepted as role aliases.
ROLE_ALIASES = {"DRH": Role.HR_STAFF, "RESPONSABLE_RH": Role.HR_STAFF, "MANAGER": Role.MANAGER}
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
LOCKED = "!"  # a password hash with this prefix belongs to a disabled user: it never verifies


class TokenExpired(TrainyardError):
    """A token that was valid and has passed its ``expires_at``."""


@dataclass(frozen=True)
class Principal:
    """The authenticated caller (``expires_at``: when the token they came with stops being valid)."""

    id: int
    username: str
    role: Role
    expires_at: datetime | None = None

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC))


def parse_role(value: str) -> Role:
    return ROLE_ALIASES.get(value) or Role(value.lower())


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    if stored.startswith(LOCKED):
        return False
    try:
        _, salt_hex, digest_hex = stored.split("$")
    except ValueError:
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), **_SCRYPT)
    return hmac.compare_digest(candidate.hex(), digest_hex)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(username: str, password: str, role: str) -> Principal:
    with session_scope() as session:
        user = User(username=username, password_hash=hash_password(password), role=parse_role(role))
        session.add(user)
        session.flush()
        return Principal(user.id, user.username, Role(user.role))


def issue_token(user_id: int, lifetime: timedelta | None = None) -> str:
    """A new random token for ``user_id``, valid for ``lifetime`` (None: until revoked); only its digest is stored."""
    token = secrets.token_hex(20)
    expires_at = datetime.now(UTC) + lifetime if lifetime is not None else None
    with session_scope() as session:
        session.add(ApiToken(user_id=user_id, token_sha256=token_digest(token), expires_at=expires_at))
    return token


def login(username: str, password: str) -> str | None:
    """Check credentials and issue a token of the configured lifetime; None for any mismatch (no user
    enumeration: an unknown user costs the same hash as a wrong password)."""
    with session_scope() as session:
        user = session.scalar(select(User).where(User.username == username))
        stored = user.password_hash if user else hash_password("x", salt=b"\0" * 16)
        valid = verify_password(password, stored) and user is not None
        user_id = user.id if user else None
    if not valid or user_id is None:
        return None
    return issue_token(user_id, get_settings().token_lifetime)


def principal_for_token(token: str) -> Principal | None:
    """Who ``token`` belongs to; None for a token nobody holds; raises TokenExpired for one past its expiry."""
    digest = token_digest(token)
    with session_scope() as session:
        row = session.execute(
            select(ApiToken.token_sha256, User.id, User.username, User.role, ApiToken.expires_at)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_sha256 == digest)
        ).first()
    if row is None or not hmac.compare_digest(row[0], digest):
        return None
    principal = Principal(row[1], row[2], Role(row[3]), row[4])
    if principal.expired():
        raise TokenExpired("token expired")
    return principal


def ensure_admin(username: str = "admin") -> tuple[str, str | None]:
    """Make sure an admin exists; returns (token, password-if-just-created)."""
    with session_scope() as session:
        user = session.scalar(select(User).where(User.username == username))
        existing_id = user.id if user else None
    if existing_id is not None:
        return issue_token(existing_id), None
    password = secrets.token_urlsafe(12)
    return issue_token(create_user(username, password, Role.ADMIN).id), password
