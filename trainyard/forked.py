"""Run a short, CPU-bound piece of pure Python in a forked child, so it takes another core instead of
the caller's GIL.

A run's report (the plots: ~0.2 s of matplotlib, all under the GIL) used to run in a thread beside
the model's persist and the champion decision, so the two took turns on one core while the machine's
other core idled. A forked child renders on that core instead and returns its bytes through a pipe.

Fork in a process with threads is safe for work that touches nothing another thread may hold at the
fork: the caller passes the locks its work takes (they are held across the fork, so the child gets
them free), the child resets the signal handlers it inherited (a cancel's handlers belong to the
run), dies with its parent (``PR_SET_PDEATHSIG``: a cancelled run's process is killed, and a child
of it must not live on) and leaves with ``os._exit`` (no atexit hooks, no inherited buffers flushed
twice). The result comes back as bytes: nothing is unpickled.

Linux sends the death signal when the *thread* that forked ends, so the thread that calls ``start``
is the one that calls ``result``.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

_OK, _FAILED = b"\x00", b"\x01"
_INHERITED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


class ChildFailed(RuntimeError):
    """The child raised, died or timed out; the message says which."""


class Forked:
    """A child at work (``start``); ``result`` waits for its bytes."""

    def __init__(self, pid: int, read_end: int) -> None:
        self.pid, self._read_end = pid, read_end

    def result(self, timeout: float = 120.0) -> bytes:
        """The child's bytes; raises ``ChildFailed`` if it raised, died, or ran past ``timeout`` (it is killed)."""
        try:
            payload = _read_all(self._read_end, time.monotonic() + timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            raise ChildFailed(f"the child process did not finish within {timeout:.0f} s") from None
        finally:
            os.close(self._read_end)
            status = _reap(self.pid)
        if payload[:1] == _OK:
            return payload[1:]
        if payload[:1] == _FAILED:
            raise ChildFailed(payload[1:].decode(errors="replace"))
        raise ChildFailed(f"the child process ended without a result ({_describe(status)})")


def start(work: Callable[[], bytes], *, holding: tuple[Any, ...] = ()) -> Forked:
    """Fork a child that computes ``work()``; the caller goes on and calls ``result`` later.
    ``holding``: locks ``work`` takes that other threads of this process may hold (acquired for the
    fork's instant, so the child gets them free)."""
    read_end, write_end = os.pipe()
    parent = os.getpid()
    try:
        with _held(holding):
            pid = os.fork()
    except BaseException:
        os.close(read_end)
        os.close(write_end)
        raise
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(work, write_end, parent)
    os.close(write_end)
    return Forked(pid, read_end)


@contextlib.contextmanager
def _held(locks: tuple[Any, ...]) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for lock in locks:
            stack.enter_context(lock)
        yield


def _child(work: Callable[[], bytes], write_end: int, parent: int) -> None:
    code = 0
    try:
        for number in _INHERITED_SIGNALS:
            signal.signal(number, signal.SIG_DFL)
        _die_with(parent)
        payload = _OK + work()
    except BaseException as error:  # everything goes back to the parent as text
        payload, code = _FAILED + f"{type(error).__name__}: {error}".encode(), 1
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(write_end, view) :]
    finally:
        os._exit(code)


def _die_with(parent: int) -> None:
    """Ask the kernel to kill this child when its parent dies."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _read_all(fd: int, deadline: float) -> bytes:
    chunks = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise TimeoutError
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _reap(pid: int) -> int:
    """The child's wait status (0 where a process that ignores SIGCHLD had it reaped already)."""
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return 0


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
