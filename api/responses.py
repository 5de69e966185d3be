"""OpenAPI entries for the error responses routes return, so clients (and schemathesis) can rely on them."""

from __future__ import annotations

from typing import Any

from api.schemas import ErrorPublic

_DESCRIBED: dict[int, tuple[Any, str]] = {
    400: (ErrorPublic, "Invalid request; the body says which field or why"),
    401: (ErrorPublic, "Missing, unknown or expired token (`token expired` for one past its expiry)"),
    403: (ErrorPublic, "The token's role may not do this"),
    404: (ErrorPublic, "No such job, run, model version or page"),
    409: (ErrorPublic, "The resource changed under the request (another writer moved the alias, or the model's "
                       "dataset spec changed incompatibly since it was trained)"),
    413: (ErrorPublic, "Request body too large (or more rows than a prediction takes)"),
    500: (ErrorPublic, "Training failed; the run record keeps the error"),
    503: (ErrorPublic, "The Prefect server is unreachable; retry after the Retry-After seconds"),
}


def errors(*codes: int, bodies: dict[int, Any] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each listed code with its body model (``bodies`` overrides the default)."""
    documented: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        model, description = _DESCRIBED[code]
        documented[code] = {"model": (bodies or {}).get(code, model), "description": description}
    return documented


AUTHED = (401, 403, 503)
