"""Prefect's flow-run event stream and run-log stream, followed to keep the gateway's cache true."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable

from api.gateway.cache import ViewCache

logger = logging.getLogger(__name__)


def follow_streams(cache: ViewCache, stop: threading.Event, *, logs: bool) -> threading.Thread:
    """Follow the event stream (and the log stream if ``logs``) in a daemon thread until ``stop`` is set
    (checked between reconnections)."""
    thread = threading.Thread(
        target=asyncio.run, args=(_follow(cache, stop, logs),), name="trainyard-events", daemon=True
    )
    thread.start()
    return thread


async def _follow(cache: ViewCache, stop: threading.Event, follow_logs: bool) -> None:
    from prefect.events.clients import get_events_subscriber
    from prefect.events.filters import EventFilter, EventNameFilter
    from prefect.logging.clients import get_logs_subscriber

    async def events() -> None:
        flow_runs = EventFilter(event=EventNameFilter(prefix=["prefect.flow-run."]))
        # No silent reconnects: events missed while disconnected must empty the cache (see `keep`).
        async with get_events_subscriber(filter=flow_runs, reconnection_attempts=0) as subscriber:
            cache.stream("events", connected=True)
            async for event in subscriber:
                cache.run_changed(event.resource.id.removeprefix("prefect.flow-run."))

    async def logs() -> None:
        async with get_logs_subscriber(reconnection_attempts=0) as subscriber:
            cache.stream("logs", connected=True)
            async for log in subscriber:
                if log.flow_run_id is not None:
                    cache.logs_changed(str(log.flow_run_id))

    async def keep(name: str, follow: Callable[[], Awaitable[None]]) -> None:
        delay = 1.0
        while not stop.is_set():
            started = time.monotonic()
            try:
                await follow()
            except Exception as exc:  # a dropped stream: read through until it is back
                logger.warning("Prefect %s stream lost (%s); status reads go to Prefect", name, exc)
            finally:
                cache.stream(name, connected=False)
            # Back off while the server stays away (or has its event stream turned off).
            delay = 1.0 if time.monotonic() - started > 60 else min(30.0, delay * 2)
            await asyncio.sleep(delay)

    await asyncio.gather(keep("events", events), *([keep("logs", logs)] if follow_logs else []))
