"""Token login (DRF's ``obtain_auth_token``, throttled) and the public health check."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status

from api.schemas import InvalidRequestPublic, LoginErrorPublic, ThrottledPublic, TokenPublic, TokenRequest
from trainyard.registry import logins, throttle

router = APIRouter(tags=["auth"])
PUBLIC_PATHS = frozenset({"/health", "/api-token-auth/"})


@router.post(
    "/api-token-auth/",
    response_model=TokenPublic,
    responses={
        400: {"model": LoginErrorPublic | InvalidRequestPublic, "description": "Bad credentials or body"},
        429: {"model": ThrottledPublic, "description": "Too many failed logins for this user or address: wait "
              "`Retry-After` seconds (the wait doubles with each further failure)",
              "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}},
    },
)
def obtain_token(body: TokenRequest, request: Request) -> TokenPublic:
    """Exchange a username and password for a new API token (expiring after TRAINYARD_TOKEN_LIFETIME if set)."""
    # The peer's address; uvicorn puts X-Forwarded-For's there only from --forwarded-allow-ips (loopback by default).
    address = request.client.host if request.client else "unknown"
    result = logins.attempt(body.username, body.password, address)
    if result.retry_after > 0:
        wait = throttle.seconds_header(result.retry_after)
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            {"detail": f"Too many failed logins: try again in {wait} s.", "retry_after": int(wait)},
            headers={"Retry-After": wait},
        )
    if result.token is None:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, {"non_field_errors": ["Unable to log in with provided credentials."]}
        )
    return TokenPublic(token=result.token)


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness of the API process (no auth)."""
    return {"status": "ok"}
