"""Read-through cache of the gateway's Prefect reads, kept true by Prefect's own event streams.

A status read is a Prefect round trip or two; a SQLite-backed Prefect server answers ~60 of them a
second on two cores. Entries here are dropped the moment Prefect announces a change to the run
(flow-run events, run logs), so a cancel or retry made in the UI shows as soon as Prefect emits
it. An entry is only served while the streams that can announce its changes are connected (log
entries need the log stream, which a Prefect server only publishes when told to); when one drops,
the cache empties and those reads go straight to Prefect until the stream is back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
# Entry kinds: per run ("run", id) / ("logs", id) / ("record", id): the registry row of a finished run;
# across runs ("list", ...) / ("children", id).
PER_RUN = frozenset({"run", "logs", "record"})
ACROSS_RUNS = frozenset({"list", "children"})
# The streams whose messages keep each kind true (every kind also dies with its run's events).
STREAMS_NEEDED: dict[str, tuple[str, ...]] = {"logs": ("events", "logs")}
DEFAULT_STREAMS = ("events",)


@dataclass
class _Flight:
    """One read of a key in progress; requests for the same key wait for it instead of repeating it."""

    generation: int
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    fresh: bool = False  # loaded, and nothing was invalidated while it loaded


class ViewCache:
    """Thread-safe; ``max_age`` bounds staleness should an event ever be missed (0 turns caching off).

    Misses are single-flight: while one request reads a key from Prefect, the others asking for it
    wait for that answer, so a burst of clients on a cold or just-invalidated entry costs Prefect one
    read, not one each (32 at once made the API's p99 ten times its median).
    """

    def __init__(self, max_age: float, streams: tuple[str, ...] = ("events", "logs")) -> None:
        self.max_age = max_age
        self._lock = threading.Lock()
        self._entries: dict[tuple[Hashable, ...], tuple[float, Any]] = {}
        self._flights: dict[tuple[Hashable, ...], _Flight] = {}
        self._generation = 0  # bumped by every invalidation: a read that raced one is not stored
        self._streams = dict.fromkeys(streams, False)

    def live(self, kind: Hashable) -> bool:
        """Whether entries of ``kind`` are served: caching on, and every stream they need connected."""
        needed = STREAMS_NEEDED.get(str(kind), DEFAULT_STREAMS)
        return self.max_age > 0 and all(self._streams.get(name, False) for name in needed)

    def get(self, key: tuple[Hashable, ...], load: Callable[[], T]) -> T:
        """The cached value of ``key``, or ``load()`` (stored only if nothing changed meanwhile)."""
        if not self.live(key[0]):
            return load()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and time.monotonic() - hit[0] < self.max_age:
                return hit[1]
            flight = self._flights.get(key)
            leading = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight(self._generation)
        if not leading:
            flight.done.wait()
            # The leader's answer, unless it failed or raced an invalidation: then read for ourselves.
            return flight.value if flight.fresh else load()
        try:
            value = load()
            with self._lock:
                flight.value, flight.fresh = value, self._generation == flight.generation
                if flight.fresh and self.live(key[0]):
                    self._entries[key] = (time.monotonic(), value)
            return value
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()

    def run_changed(self, run_id: str) -> None:
        """A flow run's state or record changed: drop it and every listing that may show it."""
        self._drop(lambda kind, arg: kind in ACROSS_RUNS or (kind in PER_RUN and arg == run_id))

    def logs_changed(self, run_id: str) -> None:
        self._drop(lambda kind, arg: kind == "logs" and arg == run_id)

    def stream(self, name: str, connected: bool) -> None:
        """Record a stream (dis)connecting; any change empties the cache (events may have been missed)."""
        with self._lock:
            self._streams[name] = connected
            self._entries.clear()
            self._generation += 1

    def _drop(self, doomed: Callable[[Hashable, Hashable], bool]) -> None:
        with self._lock:
            self._generation += 1
            for key in [k for k in self._entries if doomed(k[0], k[1] if len(k) > 1 else None)]:
                del self._entries[key]
