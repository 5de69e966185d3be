"""What can go wrong talking to Prefect, as the exceptions the API layer maps to HTTP answers."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import httpx
from prefect.exceptions import PrefectHTTPStatusError


class JobNotFound(LookupError):
    """No trainyard flow run has this id."""


class IdempotencyConflict(ValueError):
    """An Idempotency-Key already names a run of this job type with other parameters."""


class PrefectUnavailable(RuntimeError):
    """The Prefect server did not answer: down, restarting, or failing (HTTP 5xx)."""


P = ParamSpec("P")
R = TypeVar("R")


def outage_guarded(method: Callable[P, R]) -> Callable[P, R]:
    """Turn transport errors and Prefect 5xx answers into ``PrefectUnavailable`` (the API's 503)."""

    @functools.wraps(method)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except httpx.TransportError as exc:
            raise PrefectUnavailable(f"Prefect server unreachable ({type(exc).__name__}: {exc})") from exc
        except PrefectHTTPStatusError as exc:
            if exc.response.status_code < 500:
                raise
            raise PrefectUnavailable(f"Prefect server answered HTTP {exc.response.status_code}") from exc

    return guarded
