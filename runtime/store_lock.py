"""One holder at a time for a file-backed resource: a stack's artifacts directory, a Prefect database.

An exclusive ``flock`` on a lock file, held for the holder's lifetime: the kernel drops it when the
holder dies however it dies (SIGKILL included), so a lock left by a dead holder is simply taken
over. The file says who holds it (pid, ports, start time), for the refusal message of the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any


class LockHeld(RuntimeError):
    """Another live process holds the lock; ``holder`` is what it wrote into the lock file."""

    def __init__(self, path: Path, holder: dict[str, Any]) -> None:
        self.path, self.holder = path, holder
        super().__init__(f"{path} is held by {describe(holder)}")


def describe(holder: dict[str, Any]) -> str:
    """``pid 123 (Prefect :4200, API :8000, started 2026-12-03 08:00:00)`` from a lock file's record."""
    if not holder.get("pid"):
        return "a process that is still starting"
    details = [f"{label} :{holder[key]}" for key, label in (("prefect_port", "Prefect"), ("api_port", "API"))
               if holder.get(key)]  # fmt: skip
    if holder.get("started"):
        details.append(f"started {holder['started']}")
    return f"pid {holder['pid']}" + (f" ({', '.join(details)})" if details else "")


class FileLock:
    """``acquire()`` or ``LockHeld``; ``release()`` (also done by the kernel when this process exits)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, **record: Any) -> dict[str, Any] | None:
        """Take the lock and write ``record`` (with this pid, host and time) into it; the previous
        holder's record when a dead holder's lock was taken over, else None."""
        if self._fd is not None:
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)  # never inherited by children
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise LockHeld(self.path, holder) from None
        previous = _read(fd)
        mine = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                **record}  # fmt: skip
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(mine).encode(), 0)
        self._fd = fd
        return previous if previous.get("pid") else None

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)  # a record left behind would name a holder that is gone
        os.close(self._fd)  # closing drops the flock
        self._fd = None


def _read(fd: int) -> dict[str, Any]:
    try:
        record = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def holder(path: Path) -> dict[str, Any] | None:
    """The record of the live process holding the lock at ``path``; None when no one holds it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # granted only when no one holds it exclusively
        except BlockingIOError:
            return _read(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
