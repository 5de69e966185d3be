"""Bounds on what a caller can make the API read and write back: request bodies and error bodies.

A request body over ``max_request_bytes`` is refused with 413 before anything parses it (by its
``Content-Length``, or by counting a chunked body as it arrives). An error body lists at most
``MAX_ERRORS`` problems and quotes at most ``MAX_EXCERPT`` characters of any input value.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_ERRORS = 20
MAX_EXCERPT = 80
MAX_MESSAGE = 500  # an error message names the field and the fix; one quoting a long input is cut here


class _TooLarge(BaseException):
    """Not an ``Exception``: FastAPI turns any Exception raised while it reads a body into a 400."""


class BodySizeLimit:
    """Pure ASGI middleware: 413 for a body over ``max_bytes``, without buffering it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": f"Request body too large: the limit is {self.max_bytes} bytes."}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


def excerpt(value: Any, limit: int = MAX_EXCERPT) -> Any:
    """``value`` as an error body may quote it: scalars as they are, long text and containers cut short."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def bounded_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first ``MAX_ERRORS`` validation errors, each with its input and message cut short."""
    kept = []
    for error in errors[:MAX_ERRORS]:
        error = dict(error)
        if "input" in error:
            error["input"] = excerpt(error["input"])
        error["msg"] = excerpt(str(error.get("msg", "")), MAX_MESSAGE)
        kept.append(error)
    if len(errors) > MAX_ERRORS:
        kept.append({"type": "too_many_errors", "loc": [], "msg": f"{len(errors) - MAX_ERRORS} more errors not shown"})
    return kept
