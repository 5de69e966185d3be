"""FastAPI dependencies: the Prefect gateway and token auth with role rules."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool

from api.gateway import PrefectGateway
from trainyard.registry.auth import Principal, Role, principal_for_token


def get_gateway(request: Request) -> PrefectGateway:
    return request.app.state.gateway


GatewayDep = Annotated[PrefectGateway, Depends(get_gateway)]


class Allow:
    """A route's role rule: the caller must hold one of ``roles`` (admin always may)."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset({*roles, Role.ADMIN})

    async def __call__(self, authorization: Annotated[str | None, Header()] = None) -> Principal:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() not in {"token", "bearer"} or not key.strip():
            raise _unauthorized("Authentication credentials were not provided.")
        principal = await run_in_threadpool(principal_for_token, key.strip())
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
