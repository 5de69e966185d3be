"""The status cache serves only while Prefect's streams are connected, and drops what events name."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from api.gateway.cache import ViewCache


def _live(max_age: float = 60) -> ViewCache:
    cache = ViewCache(max_age)
    for stream in ("events", "logs"):
        cache.stream(stream, connected=True)
    return cache


def _counter() -> Callable[[], int]:
    """A loader returning 1, 2, 3, ...: how many times the cache called it."""
    calls = itertools.count(1)
    return lambda: next(calls)


def test_reads_through_until_the_streams_an_entry_needs_are_connected() -> None:
    cache = ViewCache(60)
    load, logs = _counter(), _counter()
    assert [cache.get(("run", "a"), load) for _ in range(3)] == [1, 2, 3]
    cache.stream("events", connected=True)  # runs are kept true by events alone; logs need the log stream too
    assert [cache.get(("run", "a"), load) for _ in range(2)] == [4, 4]
    assert [cache.get(("logs", "a", 20), logs) for _ in range(2)] == [1, 2]
    cache.stream("logs", connected=True)
    assert [cache.get(("logs", "a", 20), logs) for _ in range(2)] == [3, 3]


def test_serves_from_memory_until_an_event_names_the_run() -> None:
    cache = _live()
    load = _counter()
    assert cache.get(("run", "a"), load) == cache.get(("run", "a"), load) == 1
    cache.run_changed("b")  # another run: "a" stays, listings go
    assert cache.get(("run", "a"), load) == 1
    cache.run_changed("a")
    assert cache.get(("run", "a"), load) == 2


def test_a_run_event_drops_every_listing_and_a_log_only_that_runs_logs() -> None:
    cache = _live()
    load = _counter()
    cache.get(("list", 10, (), ("xgboost",)), load)
    cache.get(("logs", "a", 20), load)
    cache.get(("run", "a"), load)
    cache.logs_changed("a")
    assert cache.get(("run", "a"), load) == 3 and cache.get(("logs", "a", 20), load) == 4
    cache.run_changed("zzz")
    assert cache.get(("list", 10, (), ("xgboost",)), load) == 5


def test_a_dropped_stream_empties_the_cache_and_stops_serving() -> None:
    cache = _live()
    load = _counter()
    logs = _counter()
    cache.get(("run", "a"), load)
    cache.get(("logs", "a", 20), logs)
    cache.stream("events", connected=False)
    assert cache.get(("run", "a"), load) == 2 and cache.get(("run", "a"), load) == 3
    cache.stream("events", connected=True)
    assert cache.get(("run", "a"), load) == 4 and cache.get(("run", "a"), load) == 4
    cache.stream("logs", connected=False)  # run entries need only events: refilled once, then served
    assert cache.get(("run", "a"), load) == 5 and cache.get(("run", "a"), load) == 5
    assert cache.get(("logs", "a", 20), logs) == 2 and cache.get(("logs", "a", 20), logs) == 3


def test_entries_expire_after_max_age() -> None:
    cache = _live(max_age=0.001)
    load = _counter()
    cache.get(("run", "a"), load)
    threading.Event().wait(0.01)
    assert cache.get(("run", "a"), load) == 2


def test_a_read_that_raced_an_invalidation_is_not_stored() -> None:
    cache = _live()

    def slow_stale_read() -> str:
        cache.run_changed("a")  # the event lands while the read is in flight
        return "stale"

    assert cache.get(("run", "a"), slow_stale_read) == "stale"
    assert cache.get(("run", "a"), lambda: "fresh") == "fresh"


def test_max_age_zero_never_caches() -> None:
    cache = _live(max_age=0)
    load = _counter()
    assert [cache.get(("run", "a"), load) for _ in range(2)] == [1, 2]


def _concurrently(cache: ViewCache, key: tuple, load: Callable[[], int], callers: int) -> list[int]:
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(key, load))) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    return results


def test_concurrent_misses_on_one_key_cost_one_read() -> None:
    cache = _live()
    release, calls = threading.Event(), itertools.count(1)

    def slow_read() -> int:
        release.wait(timeout=5)
        return next(calls)

    waiter = threading.Timer(0.2, release.set)  # all eight are asking before the one read returns
    waiter.start()
    assert _concurrently(cache, ("run", "a"), slow_read, callers=8) == [1] * 8
    waiter.join()


def test_a_read_that_raced_an_invalidation_is_not_handed_to_the_waiters() -> None:
    cache = _live()
    started, release, calls = threading.Event(), threading.Event(), itertools.count(1)

    def read() -> int:
        number = next(calls)
        if number == 1:  # the leader: the run changes while it reads
            started.set()
            release.wait(timeout=5)
        return number

    def invalidate_midway() -> None:
        started.wait(timeout=5)
        threading.Event().wait(0.1)  # let the others queue behind the leader
        cache.run_changed("a")
        release.set()

    helper = threading.Thread(target=invalidate_midway)
    helper.start()
    results = _concurrently(cache, ("run", "a"), read, callers=4)
    helper.join()
    assert sorted(results)[0] == 1 and all(r > 1 for r in sorted(results)[1:])  # waiters read again
    assert cache.get(("run", "a"), read) > 1  # the raced value was never stored
