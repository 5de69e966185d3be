"""Users, roles and API tokens: passwords as scrypt hashes, tokens as sha256 digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select

from trainyard.registry.db import session_scope
from trainyard.registry.models import ApiToken, User


class Role(StrEnum):
    ADMIN = "admin"
    HR_STAFF = "hr_staff"
    MANAGER = "manager"


# Group names of the original Django service's deployment, accepted as role aliases.
ROLE_ALIASES = {"DRH": Role.HR_STAFF, "RESPONSABLE_RH": Role.HR_STAFF, "MANAGER": Role.MANAGER}
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
LOCKED = "!"  # a password hash with this prefix belongs to a disabled user: it never verifies


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    id: int
    username: str
    role: Role


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


def issue_token(user_id: int) -> str:
    """A new random token for ``user_id``; only its digest is stored."""
    token = secrets.token_hex(20)
    with session_scope() as session:
        session.add(ApiToken(user_id=user_id, token_sha256=token_digest(token)))
    return token


def login(username: str, password: str) -> str | None:
    """Check credentials and issue a token; None for any mismatch (no user enumeration)."""
    with session_scope() as session:
        user = session.scalar(select(User).where(User.username == username))
        stored = user.password_hash if user else hash_password("x", salt=b"\0" * 16)
        valid = verify_password(password, stored) and user is not None
        user_id = user.id if user else None
    return issue_token(user_id) if valid and user_id is not None else None


def principal_for_token(token: str) -> Principal | None:
    digest = token_digest(token)
    with session_scope() as session:
        row = session.execute(
            select(ApiToken.token_sha256, User.id, User.username, User.role)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_sha256 == digest)
        ).first()
    if row is None or not hmac.compare_digest(row[0], digest):
        return None
    return Principal(row[1], row[2], Role(row[3]))


def ensure_admin(username: str = "admin") -> tuple[str, str | None]:
    """Make sure an admin exists; returns (token, password-if-just-created)."""
    with session_scope() as session:
        user = session.scalar(select(User).where(User.username == username))
        existing_id = user.id if user else None
    if existing_id is not None:
        return issue_token(existing_id), None
    password = secrets.token_urlsafe(12)
    return issue_token(create_user(username, password, Role.ADMIN).id), password
