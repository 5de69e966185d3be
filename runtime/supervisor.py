"""Keeps a local stack's processes alive: a child that dies is restarted with backoff, and logged.

A worker killed mid-run is back within about a second plus its start-up (~5 s), so its pool is
READY again and queued jobs start; a child that keeps dying is restarted ever more slowly (up to
``max_delay``), and its count of quick deaths resets once it has stayed up for ``stable_after``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger(__name__)


class Supervised(Protocol):
    """What the supervisor needs of a stack (``runtime.stack.Stack``)."""

    def dead_children(self) -> list[tuple[str, int, int]]: ...

    def respawn(self, name: str, dead_pid: int) -> int | None: ...


@dataclass
class _Restarts:
    quick_deaths: int = 0
    due: float = 0.0
    started: float = 0.0


class Supervisor:
    """A daemon thread that polls the stack's children every ``poll`` seconds."""

    def __init__(self, stack: Supervised, *, poll: float = 0.5, base_delay: float = 1.0, max_delay: float = 30.0,
                 stable_after: float = 60.0) -> None:  # fmt: skip
        self.stack = stack
        self.poll, self.base_delay, self.max_delay, self.stable_after = poll, base_delay, max_delay, stable_after
        self._restarts: dict[str, _Restarts] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="trainyard-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop restarting (before the stack stops its children on purpose)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.check()
            except Exception:  # a failed pass must not end supervision; the next one tries again
                logger.exception("supervisor pass failed")

    def check(self, now: float | None = None) -> list[str]:
        """One pass: schedule a restart for each newly dead child, restart those due; returns the restarted."""
        now = time.monotonic() if now is None else now
        restarted = []
        for name, pid, code in self.stack.dead_children():
            state = self._restarts.setdefault(name, _Restarts())
            if state.due == 0.0:
                quick = state.started and now - state.started < self.stable_after
                state.quick_deaths = state.quick_deaths + 1 if quick else 0
                delay = 0.0 if state.quick_deaths == 0 else min(self.max_delay, self.base_delay * 2**state.quick_deaths)
                state.due = now + delay
                logger.warning("%s (pid %d) exited with %s; restarting it in %.0fs", name, pid, code, delay)
            if now >= state.due and not self._stop.is_set():
                new_pid = self.stack.respawn(name, pid)
                state.due, state.started = 0.0, now
                if new_pid is not None:
                    logger.warning("restarted %s as pid %d", name, new_pid)
                    restarted.append(name)
        return restarted
