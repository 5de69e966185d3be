"""The stage store: content-addressed Arrow IPC files that cached task results point at.

Arrow IPC (Feather v2, LZ4-compressed) rather than Parquet: staging exists so a retried run can skip
finished steps, and at 1M rows x 74 columns it writes ~2.6x and reads ~10x faster than Parquet here
(`bench/pipeline_overhead.py`). The pandas index is kept, so split sides keep their source rows.

Within a flow run the staged copy is off the critical path: under ``handoff()`` each step's table
goes to the next step in memory, and a background writer puts the file on disk behind the run; the
flow waits for it only at its end. A retry, another process or another host reads the file.

The writer pauses while the fit runs (``StageHandoff.paused``): a fit uses every core, and a 1M-row
table costs ~0.8 s of CPU to compress and write, which slowed a fit on both cores by more than that.
Its file is written in 64k-row batches, so a write under way stops at the next batch; the rest is
written beside evaluation and the report, which leave a core idle. A run that fails still writes its
files (its retry skips the steps they hold); a run that is stopped (cancelled) does not wait for them,
so a cancel is not held by the writes the fit deferred. A retry that finds a step's file missing (its
run was stopped or killed first) does that step again (``flows.pipeline.prepare_data``).

Files live in the artifact store (``trainyard.artifact_store``): a local directory, or an object
store that a retry on another host reads too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from trainyard.artifact_store import get_store
from trainyard.errors import DatasetError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SUFFIX = ".arrow"
BATCH_ROWS = 64 * 1024  # as Feather's writer chunks a table; the writer may pause between batches
logger = logging.getLogger(__name__)


def stage_path(dataset_sha256: str, name: str) -> str:
    """Deterministic location of a staged table: the same inputs always map to the same file."""
    return get_store().location("stage", dataset_sha256, f"{name}{SUFFIX}")


class StageHandoff:
    """One flow run's staged tables in memory, and the single thread that writes each one's file.

    Tables are never modified once put (pandas' copy-on-write makes each reader's frame its own), so
    the writer and the steps read them side by side.
    """

    def __init__(self) -> None:
        self._tables: dict[str, pd.DataFrame] = {}
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stage-writer")
        self._writes: dict[str, Future[None]] = {}
        self._writing = threading.Event()  # cleared while the writer is paused
        self._writing.set()
        self._abandoned = False

    def put(self, frame: pd.DataFrame, path: str) -> str:
        """Hold ``frame`` for this run's next steps and queue its file (unless one already exists)."""
        self._tables[path] = frame
        self._writes[path] = self._writer.submit(_write_file, frame, path, self._may_write)
        return path

    def _may_write(self) -> None:
        """Called by the writer before each batch: waits while paused, stops once the run was stopped."""
        self._writing.wait()
        if self._abandoned:
            raise _Abandoned

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No staged file is written while the block runs (it resumes at the next 64k-row batch after)."""
        self._writing.clear()
        try:
            yield
        finally:
            self._writing.set()

    def get(self, path: str) -> pd.DataFrame | None:
        frame = self._tables.get(path)
        return None if frame is None else frame.copy(deep=False)

    def release(self, path: str) -> None:
        """Free a table no later step reads (its file is still written)."""
        self._tables.pop(path, None)

    def drain(self, abandon: bool = False) -> list[str]:
        """Wait for every file; the paths that could not be written (each logged) are returned. With
        ``abandon`` (the run was stopped), files not yet written are left: queued ones are dropped, and
        one under way stops at its next batch."""
        failed = []
        self._abandoned = abandon
        self._writing.set()
        for path, write in self._writes.items():
            try:
                if abandon and write.cancel():
                    raise _Abandoned
                write.result()
            except _Abandoned:
                logger.info("staged copy %s not written: the run was stopped", path)
                failed.append(path)
            except Exception as exc:
                logger.warning("staged copy %s was not written (a retry will redo its step): %s", path, exc)
                failed.append(path)
        self._writer.shutdown()
        self._tables.clear()
        return failed


_HANDOFF: ContextVar[StageHandoff | None] = ContextVar("trainyard_stage_handoff", default=None)


class _Abandoned(Exception):
    """A staged write left because its run was stopped."""


@contextmanager
def handoff() -> Iterator[StageHandoff]:
    """Steps inside hand tables over in memory; files are written behind, and waited for on exit (not
    when the block is left by a stop: a cancel, its termination signal, Ctrl-C)."""
    from prefect.exceptions import TerminationSignal

    from trainyard.cancellation import TrainingStopped

    current = StageHandoff()
    token = _HANDOFF.set(current)
    stopped = False
    try:
        yield current
    except (TrainingStopped, TerminationSignal, KeyboardInterrupt):
        stopped = True
        raise
    finally:
        _HANDOFF.reset(token)
        current.drain(abandon=stopped)


@contextmanager
def writes_paused() -> Iterator[None]:
    """``StageHandoff.paused`` for the current run's handoff (nothing outside one)."""
    current = _HANDOFF.get()
    if current is None:
        yield
        return
    with current.paused():
        yield


def write_stage(frame: pd.DataFrame, path: str) -> str:
    """Stage ``frame`` at ``path``: handed over in memory under ``handoff()``, written now otherwise."""
    current = _HANDOFF.get()
    if current is not None:
        return current.put(frame, path)
    _write_file(frame, path)
    return path


def _write_file(frame: pd.DataFrame, path: str, may_write: Callable[[], object] | None = None) -> None:
    """Write a temp file, then publish it whole: concurrent runs may stage the same table.

    Content-addressed: a file already there holds this very table and is left as it is. The file is
    Feather v2 (Arrow IPC, LZ4), written a batch at a time; ``may_write`` is called before each batch
    and blocks while the writer is paused. Written behind a run (``may_write`` given), one thread does
    the conversion and compression, so the writer's CPU is one core at most.
    """
    import pyarrow as pa
    from pyarrow import ipc

    store = get_store()
    if store.exists(path):
        return
    behind = may_write is not None
    temp = store.temp_path(path)
    try:
        # What feather.write_feather(frame, temp, compression="lz4") writes, batch by batch.
        table = pa.Table.from_pandas(frame, preserve_index=None, nthreads=1 if behind else None)
        options = ipc.IpcWriteOptions(compression="lz4", use_threads=not behind, unify_dictionaries=True,
                                         allow_64bit=True)  # fmt: skip
        with pa.OSFile(str(temp), "wb") as sink, ipc.new_file(sink, table.schema, options=options) as writer:
            for batch in table.to_batches(max_chunksize=BATCH_ROWS):
                if may_write is not None:
                    may_write()
                writer.write_batch(batch)
        store.publish_file(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def release_stage(path: str) -> None:
    """This run reads the table at ``path`` no more: drop its in-memory copy."""
    current = _HANDOFF.get()
    if current is not None:
        current.release(path)


def is_staged(path: str) -> bool:
    """Whether this run can read ``path``: in memory, or on disk."""
    current = _HANDOFF.get()
    return (current is not None and current.get(path) is not None) or get_store().exists(path)


def _in_memory(path: str) -> pd.DataFrame | None:
    current = _HANDOFF.get()
    return None if current is None else current.get(path)


def _source(path: str) -> Any:
    """What pyarrow reads: the path itself locally, the object's bytes from an object store."""
    import pyarrow as pa

    store = get_store()
    return path if store.is_local else pa.BufferReader(store.read_bytes(path))


def read_stage(path: str, columns: list[str] | None = None) -> pd.DataFrame:
    from pyarrow import feather

    frame = _in_memory(path)
    if frame is not None:
        return frame if columns is None else frame[columns]
    try:
        return feather.read_feather(_source(path), columns=columns)
    except FileNotFoundError as exc:
        raise _gone(path) from exc


def take_staged(path: str, positions: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """Rows ``positions`` of a staged table (taken in Arrow, before any conversion to pandas, when it
    is read from its file)."""
    from pyarrow import feather

    frame = _in_memory(path)
    if frame is not None:
        return frame[columns].take(positions)
    try:
        return feather.read_table(_source(path), columns=columns).take(positions).to_pandas()
    except FileNotFoundError as exc:
        raise _gone(path) from exc


def _gone(path: str) -> DatasetError:
    return DatasetError(
        f"staged table {path} is gone (a run that ended before writing it, or a cleanup of the stage store): "
        "run again; a new run loads and stages the dataset again"
    )
