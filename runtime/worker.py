"""The pools' worker: Prefect's process worker, woken by Prefect's own event stream.

    python -m runtime.worker --pool cpu --name cpu-0

A stock worker finds new runs by polling (``PREFECT_WORKER_QUERY_SECONDS``), so a triggered run waits
0 to 1 poll interval (half of one on average) before anything starts it. This worker also follows the
server's ``prefect.flow-run.Scheduled`` events for its pool and polls at once when one arrives; the
periodic poll stays as it is, so a lost event stream only costs the wait it always did. Everything
else (submission, concurrency limits, cancellation, crash handling) is Prefect's worker, unchanged.
Events come over the same HTTP/WebSocket connection as the rest of the API, so this works from any
host that can reach the Prefect server.
"""

from __future__ import annotations

import argparse
import logging
import signal
from typing import Any

import anyio
from prefect.workers.process import ProcessWorker

from runtime import prefect_patches

logger = logging.getLogger("runtime.worker")
SCHEDULED = "prefect.flow-run.Scheduled"
RECONNECT_SECONDS = 1.0


def scheduled_in_pool(event: Any, pool: str) -> bool:
    """Whether ``event`` says a flow run of work pool ``pool`` was just scheduled."""
    return event.event == SCHEDULED and any(
        related.get("prefect.resource.role") == "work-pool" and related.get("prefect.resource.name") == pool
        for related in event.related
    )


class EventDrivenProcessWorker(ProcessWorker):
    """A process worker that polls as soon as a run is scheduled in its pool, not only on its timer."""

    @classmethod
    def __dispatch_key__(cls) -> str:
        # Registered under its own key: Prefect's type registry keeps "process" for ProcessWorker.
        # ``type`` (what pools are matched on) stays "process".
        return "trainyard-process"

    async def start(self, run_once: bool = False, with_healthcheck: bool = False, **kwargs: Any) -> None:
        async with anyio.create_task_group() as group:
            if not run_once:
                group.start_soon(self._follow_scheduled_runs)
            await super().start(run_once=run_once, with_healthcheck=with_healthcheck, **kwargs)
            group.cancel_scope.cancel()

    async def _follow_scheduled_runs(self) -> None:
        from prefect.events.clients import get_events_subscriber
        from prefect.events.filters import EventFilter, EventNameFilter

        scheduled = EventFilter(event=EventNameFilter(name=[SCHEDULED]))
        while True:
            try:
                async with get_events_subscriber(filter=scheduled, reconnection_attempts=0) as subscriber:
                    async for event in subscriber:
                        # Before the worker's first sync it has no pool to submit to: its poll catches up.
                        if scheduled_in_pool(event, self._work_pool_name) and self._has_successfully_synced:
                            await self.get_and_submit_flow_runs()
            except Exception as exc:  # the periodic poll covers the gap
                logger.debug("event stream lost (%s); reconnecting", exc)
            await anyio.sleep(RECONNECT_SECONDS)


async def serve_until_signalled(worker: EventDrivenProcessWorker) -> str | None:
    """Run ``worker`` until it ends or SIGTERM/SIGINT arrives (its name, returned); then stop it.

    Prefect's own handlers (``setup_signal_handlers_worker``) turn SIGTERM into a SIGINT that raises
    KeyboardInterrupt out of the event loop: every stop left a traceback in the log. A second signal
    while the worker winds down finds the default handlers again and ends the process at once.
    """
    received: list[str] = []
    async with anyio.create_task_group() as group:

        async def stop_on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    received.append(signal.Signals(signum).name)
                    group.cancel_scope.cancel()
                    return

        group.start_soon(stop_on_signal)
        await worker.start()
        group.cancel_scope.cancel()
    return received[0] if received else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", required=True, help="work pool to serve (of type 'process')")
    parser.add_argument("--name", help="worker name shown in the Prefect UI")
    parser.add_argument("--limit", type=int, help="most flow runs at once (default: the pool's own limit)")
    args = parser.parse_args(argv)
    from prefect.settings import PREFECT_WORKER_HEARTBEAT_SECONDS, PREFECT_WORKER_PREFETCH_SECONDS

    logger.setLevel(logging.INFO)  # Prefect's logging setup (root: WARNING) prints it in the worker's format
    prefect_patches.install()  # one TLS context per process (runtime/prefect_patches.py)
    worker = EventDrivenProcessWorker(
        work_pool_name=args.pool,
        name=args.name,
        limit=args.limit,
        prefetch_seconds=PREFECT_WORKER_PREFETCH_SECONDS.value(),
        heartbeat_interval_seconds=int(PREFECT_WORKER_HEARTBEAT_SECONDS.value()),
    )
    signalled = anyio.run(serve_until_signalled, worker)
    logger.info("worker %s stopped%s", worker.name, f" ({signalled})" if signalled else "")


if __name__ == "__main__":
    main()
