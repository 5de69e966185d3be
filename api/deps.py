"""FastAPI dependencies: the Prefect gateway and token auth with role rules."""

from __future__ import annotations

import threading
from typing import Annotated

from cachetools import TTLCache
from fastapi import Depends, Header, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool

from api.gateway import PrefectGateway
from trainyard.registry.auth import Principal, Role, TokenExpired, principal_for_token, token_digest


class PrincipalCache:
    """Who a token belongs to, remembered for ``ttl`` seconds (0: ask the registry every time).

    Keyed by the token's sha256, never the token. A token removed from the registry, or a changed
    role, takes effect within ``ttl``; a token's expiry takes effect at once (checked on every hit).
    Unknown and expired tokens are not remembered. Raises TokenExpired.
    """

    def __init__(self, ttl: float, size: int = 4096) -> None:
        self._entries: TTLCache[str, Principal] | None = TTLCache(size, ttl) if ttl > 0 else None
        self._lock = threading.Lock()

    async def principal(self, token: str) -> Principal | None:
        digest = token_digest(token)
        if self._entries is not None:
            with self._lock:
                hit = self._entries.get(digest)
            if hit is not None:
                if hit.expired():
                    raise TokenExpired("token expired")
                return hit
        principal = await run_in_threadpool(principal_for_token, token)
        if principal is not None and self._entries is not None:
            with self._lock:
                self._entries[digest] = principal
        return principal


async def get_gateway(request: Request) -> PrefectGateway:
    # async: FastAPI runs a plain-def dependency in its thread pool, a hand-off on every request.
    return request.app.state.gateway


GatewayDep = Annotated[PrefectGateway, Depends(get_gateway)]


class Allow:
    """A route's role rule: the caller must hold one of ``roles`` (admin always may)."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset({*roles, Role.ADMIN})

    async def __call__(self, request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
        # The contract's scheme only; its keyword case-insensitively, as Django REST framework reads it.
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "token" or not key.strip():
            raise _unauthorized("Authentication credentials were not provided: send `Authorization: Token <key>`.")
        try:
            principal = await request.app.state.principals.principal(key.strip())
        except TokenExpired:
            raise _unauthorized("token expired") from None
        if principal is None:
            raise _unauthorized("Invalid token.")
        if principal.role not in self.roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "You do not have permission to perform this action.")
        return principal


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Token"})


TRAIN = Allow(Role.HR_STAFF)
READ = Allow(Role.HR_STAFF, Role.MANAGER)
Trainer = Annotated[Principal, Depends(TRAIN)]
Reader = Annotated[Principal, Depends(READ)]
