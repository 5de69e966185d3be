"""Token login (DRF's ``obtain_auth_token``) and the public health check."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from api.schemas import InvalidRequestPublic, LoginErrorPublic, TokenPublic, TokenRequest
from trainyard.registry.auth import login

router = APIRouter(tags=["auth"])
PUBLIC_PATHS = frozenset({"/health", "/api-token-auth/"})


@router.post(
    "/api-token-auth/",
    response_model=TokenPublic,
    responses={400: {"model": LoginErrorPublic | InvalidRequestPublic, "description": "Bad credentials or body"}},
)
def obtain_token(body: TokenRequest) -> TokenPublic:
    """Exchange a username and password for a new API token."""
    token = login(body.username, body.password)
    if token is None:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, {"non_field_errors": ["Unable to log in with provided credentials."]}
        )
    return TokenPublic(token=token)


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness of the API process (no auth)."""
    return {"status": "ok"}
