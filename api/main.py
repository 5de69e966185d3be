"""ASGI entry point: ``uvicorn api.main:app``."""

from __future__ import annotations

import gc
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import reconciler
from api.deps import Allow, PrincipalCache
from api.gateway import IdempotencyConflict, PrefectGateway, PrefectUnavailable, ViewCache
from api.limits import BodySizeLimit, bounded_errors
from api.predictors import Predictors
from api.routers import audit, auth, datasets, jobs, schedules, scoring, training
from trainyard.registry.db import get_engine
from trainyard.settings import get_settings

# Routes of the training-runs API (a Django REST contract) answer validation errors with 400, not 422.
DRF_STYLE_PREFIXES = ("/api/training/", "/api-token-auth/")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    get_engine()  # create the registry schema before the first request
    settings = get_settings()
    app.state.principals = PrincipalCache(settings.token_cache_seconds)
    app.state.predictors = Predictors()
    with PrefectGateway.connect(ViewCache(settings.status_cache_seconds)) as gateway:
        app.state.gateway = gateway
        stop = threading.Event()
        if settings.status_cache_seconds > 0:
            gateway.follow(stop)
        if settings.reconcile_interval_seconds > 0:
            reconciler.start(gateway, settings.reconcile_interval_seconds, settings.cancel_grace_seconds, stop)
        # Everything imported and built so far lives as long as the process: keep it out of the
        # garbage collector's full passes, whose pauses over Prefect's large heap were the API's p99.
        gc.freeze()
        try:
            yield
        finally:
            stop.set()


def _drf_invalid(details: dict[str, list[str]]) -> JSONResponse:
    """The training-runs API's 400 body for a request it refuses."""
    return JSONResponse({"error": "Invalid request data", "details": details}, status_code=400)


def _field_errors(exc: RequestValidationError) -> dict[str, list[str]]:
    """DRF's ``{field: [messages]}``; a body that is not JSON at all is a ``non_field_errors`` problem."""
    details: dict[str, list[str]] = {}
    for error in bounded_errors(list(exc.errors())):
        names = [] if error["type"] == "json_invalid" else error["loc"]
        loc = [str(part) for part in names if part not in ("body", "query", "path")]
        details.setdefault(".".join(loc) or "non_field_errors", []).append(error["msg"])
    return details


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    if request.url.path.startswith(DRF_STYLE_PREFIXES):
        return _drf_invalid(_field_errors(exc))
    return JSONResponse({"detail": jsonable_encoder(bounded_errors(list(exc.errors())))}, status_code=422)


async def _http_error(request: Request, exc: Any) -> JSONResponse:
    if isinstance(exc, HTTPException) and isinstance(exc.detail, dict):
        return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)  # contract-shaped body
    if exc.status_code == 400 and request.url.path.startswith(DRF_STYLE_PREFIXES):  # e.g. a body that is not JSON
        return _drf_invalid({"non_field_errors": [str(exc.detail)]})
    return await http_exception_handler(request, exc)


async def _prefect_unavailable(request: Request, exc: PrefectUnavailable) -> JSONResponse:
    # Nothing was lost: a trigger that did land is found again under the same Idempotency-Key.
    return JSONResponse({"detail": f"{exc}; retry shortly"}, status_code=503, headers={"Retry-After": "5"})


async def _idempotency_conflict(request: Request, exc: IdempotencyConflict) -> JSONResponse:
    if request.url.path.startswith(DRF_STYLE_PREFIXES):
        return _drf_invalid({"Idempotency-Key": [str(exc)]})
    error = {"type": "idempotency_conflict", "loc": ["header", "Idempotency-Key"], "msg": str(exc),
             "input": request.headers.get("Idempotency-Key")}  # fmt: skip
    return JSONResponse({"detail": [error]}, 422)


def create_app() -> FastAPI:
    app = FastAPI(title="trainyard", version="0.1.0", lifespan=lifespan)
    app.add_middleware(BodySizeLimit, max_bytes=get_settings().max_request_bytes)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    # Starlette's class: FastAPI raises it for bodies it cannot parse; fastapi.HTTPException subclasses it.
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(PrefectUnavailable, _prefect_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(IdempotencyConflict, _idempotency_conflict)  # type: ignore[arg-type]
    for router in (auth.router, jobs.router, training.router, datasets.router, scoring.router, schedules.router,
                   audit.router):
        _document_roles(router)
        app.include_router(router)
    return app


def _document_roles(router: APIRouter) -> None:
    """Each operation's roles in the OpenAPI document (``x-roles``), read from its own role rule."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            rules = [dep.dependency for dep in route.dependencies if isinstance(dep.dependency, Allow)]
            if rules:
                route.openapi_extra = {**(route.openapi_extra or {}), "x-roles": sorted(rules[0].roles)}


app = create_app()
