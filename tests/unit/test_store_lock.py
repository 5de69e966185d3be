"""The artifacts directory's and the Prefect database's lock: one holder, named; a dead holder's taken over."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runtime.prefect_server import sqlite_database
from runtime.store_lock import FileLock, LockHeld, describe

HOLD = "import sys, time; from pathlib import Path; from runtime.store_lock import FileLock; " \
       "FileLock(Path(sys.argv[1])).acquire(prefect_port=4200, api_port=8000); print('held', flush=True); " \
       "time.sleep(60)"  # fmt: skip


def _holder(path: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_second_holder_is_refused_with_the_first_ones_record(tmp_path: Path) -> None:
    path = tmp_path / "stack.lock"
    holder = _holder(path)
    try:
        with pytest.raises(LockHeld) as held:
            FileLock(path).acquire(prefect_port=4201)
        assert held.value.holder["pid"] == holder.pid
        assert describe(held.value.holder).startswith(f"pid {holder.pid} (Prefect :4200, API :8000, started ")
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holders_lock_is_taken_over_and_a_released_one_left_empty(tmp_path: Path) -> None:
    path = tmp_path / "stack.lock"
    holder = _holder(path)
    holder.kill()  # SIGKILL: no release, the record stays in the file
    holder.wait()
    lock = FileLock(path)
    previous = lock.acquire(prefect_port=4300)
    assert previous is not None and previous["pid"] == holder.pid
    lock.release()
    assert path.read_text() == ""
    assert FileLock(path).acquire() is None  # nothing to take over after a clean release


def test_only_a_sqlite_database_file_is_locked() -> None:
    assert sqlite_database("sqlite+aiosqlite:////srv/prefect/prefect.db") == Path("/srv/prefect/prefect.db")
    assert sqlite_database("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_database("postgresql+asyncpg://u:p@db/prefect") is None
