"""Live progress of a training run, published as a Prefect progress artifact on the run's page.

A flow opens one ``Reporter`` (``reporting``); each step narrows it to its share of the run
(``stage``), and the long loops inside a step (epochs, boosting rounds, batches of trees, CV folds)
call ``advance``. ``advance`` only stores a number and a label: a daemon thread sends the latest
pair to Prefect at most every ``FLUSH_SECONDS``, so a fit never waits on the network (measured in
``bench/progress_overhead.py``). Stages nest: ``advance`` inside a CV fold's fit lands inside that
fold's share, labelled "evaluate: CV fold 2/5: fit 12/30 epochs".

The reporter is found through a context variable, so code with no Prefect context (a benchmark, a
unit test, a plain script) calls ``advance`` for nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

FLUSH_SECONDS = 1.0
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Span:
    """The share [start, end] of the run a stage covers, and its label prefix."""

    start: float
    end: float
    label: str


@dataclass(frozen=True)
class Snapshot:
    fraction: float
    step: str


class Reporter:
    """Holds a run's latest progress; ``flush`` publishes it (a no-op when nothing changed)."""

    def __init__(self, flow_run_id: str | None, key: str) -> None:
        self.flow_run_id, self.key = flow_run_id, key
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._latest = Snapshot(0.0, "starting")
        self._published: Snapshot | None = None
        self._artifact_id: str | None = None
        self._spans: ContextVar[tuple[_Span, ...]] = ContextVar(f"spans-{id(self)}", default=(_Span(0.0, 1.0, ""),))

    @contextmanager
    def stage(self, label: str, start: float, end: float) -> Iterator[None]:
        """Narrow progress to [start, end] of the enclosing stage while the block runs."""
        outer = self._spans.get()[-1]
        width = outer.end - outer.start
        span = _Span(outer.start + start * width, outer.start + end * width, _join(outer.label, label))
        token = self._spans.set((*self._spans.get(), span))
        self._set(span.start, span.label)
        try:
            yield
        finally:
            self._spans.reset(token)
        self._set(span.end, span.label)

    def advance(self, done: int, total: int, unit: str) -> None:
        """``done`` of ``total`` units of the current stage are finished."""
        span = self._spans.get()[-1]
        share = min(1.0, max(0.0, done / total)) if total > 0 else 1.0
        self._set(span.start + share * (span.end - span.start), _join(span.label, f"{done}/{total} {unit}"))

    def finish(self, step: str = "done") -> None:
        self._set(1.0, step)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._latest

    def _set(self, fraction: float, step: str) -> None:
        with self._lock:
            # Never backwards within a run (a fold's fit restarts its epochs inside a later share).
            self._latest = Snapshot(max(fraction, self._latest.fraction), step)

    def flush(self) -> None:
        """Publish the latest progress to Prefect if it changed since the last publication."""
        with self._flushing:  # the thread's publication and the final one never race to create
            self._flush()

    def _flush(self) -> None:
        snapshot = self.snapshot()
        if snapshot == self._published or self.flow_run_id is None:
            return
        from uuid import UUID

        from prefect import get_client
        from prefect.client.schemas.actions import ArtifactCreate, ArtifactUpdate

        percent = round(100 * snapshot.fraction, 1)
        with get_client(sync_client=True) as client:
            if self._artifact_id is None:
                artifact = client.create_artifact(
                    ArtifactCreate(
                        key=self.key,
                        type="progress",
                        data=percent,
                        description=snapshot.step,
                        flow_run_id=UUID(self.flow_run_id),
                    )
                )
                self._artifact_id = str(artifact.id)
            else:
                client.update_artifact(UUID(self._artifact_id), ArtifactUpdate(data=percent, description=snapshot.step))
        self._published = snapshot


def _join(prefix: str, label: str) -> str:
    return f"{prefix}: {label}" if prefix and label else prefix or label


_CURRENT: ContextVar[Reporter | None] = ContextVar("trainyard-progress", default=None)


@contextmanager
def reporting(flow_run_id: str | None, key: str) -> Iterator[Reporter]:
    """The run's reporter for the block, flushed by a daemon thread every ``FLUSH_SECONDS`` and once
    at the end. Publishing is best effort: a Prefect hiccup costs a progress update, never the run."""
    reporter = Reporter(flow_run_id, key)
    token = _CURRENT.set(reporter)
    stop = threading.Event()

    def publish() -> None:
        with contextlib.suppress(Exception):
            reporter.flush()

    def loop() -> None:  # the first publication too: the run's steps do not wait for it
        publish()
        while not stop.wait(FLUSH_SECONDS):
            publish()

    # In the caller's context: Prefect's settings (the API URL of an in-process flow run under a profile
    # or temporary settings) live in context variables, which a new thread does not inherit; without
    # them the thread's client would start a temporary Prefect server of its own and publish there.
    thread = threading.Thread(target=contextvars.copy_context().run, args=(loop,), name=f"progress-{key}",
                              daemon=True)  # fmt: skip
    thread.start()
    try:
        yield reporter
    finally:
        stop.set()
        thread.join(timeout=FLUSH_SECONDS * 2)
        _CURRENT.reset(token)
        publish()


def current() -> Reporter | None:
    return _CURRENT.get()


@contextmanager
def stage(label: str, start: float, end: float) -> Iterator[None]:
    """``Reporter.stage`` on the current run's reporter (nothing without one)."""
    reporter = _CURRENT.get()
    if reporter is None:
        yield
        return
    with reporter.stage(label, start, end):
        yield


def advance(done: int, total: int, unit: str) -> None:
    """``Reporter.advance`` on the current run's reporter (nothing without one)."""
    reporter = _CURRENT.get()
    if reporter is not None:
        reporter.advance(done, total, unit)
