"""A forked child's work comes back as bytes; a child that raises, dies, hangs or outlives its parent
does not hold the caller (real forks, real signals)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from trainyard import forked, plots

ROOT = Path(__file__).resolve().parents[2]


def test_the_work_runs_in_another_process_and_its_bytes_come_back() -> None:
    child = forked.start(lambda: str(os.getpid()).encode() * 100_000)  # > a pipe's buffer: read while written
    assert child.result(timeout=30) == str(child.pid).encode() * 100_000
    assert child.pid != os.getpid()


def test_an_error_in_the_child_is_raised_here_with_its_message() -> None:
    def fails() -> bytes:
        raise ValueError("no such column: tenure")

    with pytest.raises(forked.ChildFailed, match="ValueError: no such column: tenure"):
        forked.start(fails).result(timeout=30)


def test_a_child_that_dies_or_hangs_is_reported_and_reaped() -> None:
    with pytest.raises(forked.ChildFailed, match="killed by signal 9"):
        forked.start(lambda: os.kill(os.getpid(), signal.SIGKILL) or b"").result(timeout=30)
    hanging = forked.start(lambda: time.sleep(60) or b"")
    started = time.monotonic()
    with pytest.raises(forked.ChildFailed, match="did not finish within 1 s"):
        hanging.result(timeout=1)
    assert time.monotonic() - started < 5
    with pytest.raises(ChildProcessError):  # killed and reaped: no zombie left behind
        os.waitpid(hanging.pid, os.WNOHANG)


def test_a_lock_another_thread_holds_at_the_fork_is_free_in_the_child() -> None:
    # Without `holding`, the child would inherit the lock held by a thread it does not have: a deadlock.
    lock = threading.RLock()
    taken, release = threading.Event(), threading.Event()

    def holder() -> None:
        with lock:
            taken.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    taken.wait(5)
    threading.Timer(0.3, release.set).start()
    child = forked.start(lambda: b"free" if lock.acquire(timeout=5) else b"held", holding=(lock,))
    assert child.result(timeout=30) == b"free"
    thread.join()

    unheld = threading.Lock()
    unheld.acquire()
    try:  # the same without holding it across the fork: the child finds it taken
        assert forked.start(lambda: b"held" if not unheld.acquire(timeout=0.5) else b"free").result(30) == b"held"
    finally:
        unheld.release()


def test_the_child_does_not_run_the_parents_signal_handlers() -> None:
    # A run's SIGTERM handler reports a cancel to Prefect: the child must die of SIGTERM instead.
    ran: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda *_: ran.append(os.getpid()))
    try:
        child = forked.start(lambda: time.sleep(30) or b"")
        time.sleep(0.3)
        os.kill(child.pid, signal.SIGTERM)
        with pytest.raises(forked.ChildFailed, match="killed by signal 15"):
            child.result(timeout=10)
        assert ran == []
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_the_child_dies_with_its_parent(tmp_path: Path) -> None:
    # A cancelled run's process is killed: the child drawing its plots must not outlive it.
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from trainyard import forked
        child = forked.start(lambda: time.sleep(60) or b"")
        print(child.pid, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        grandchild = int(parent.stdout.readline())  # type: ignore[union-attr]
        os.kill(grandchild, 0)  # alive while its parent is
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _alive(grandchild):
            time.sleep(0.05)
        assert not _alive(grandchild)
    finally:
        parent.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"  # a zombie waits for its new parent's reap
    except FileNotFoundError:
        return False


def test_plots_are_drawn_in_a_child_process_while_the_caller_goes_on() -> None:
    caller = os.getpid()

    def draw() -> bytes:
        return f"{os.getpid()}:".encode() + plots.confusion_matrix_png(["a", "b"], [[3, 1], [0, 2]])

    drawn = plots.drawing_apart(draw)
    pid, png = drawn().split(b":", 1)
    assert int(pid) != caller and png.startswith(b"\x89PNG")


def test_plots_a_child_cannot_draw_are_drawn_here_and_the_reason_is_logged() -> None:
    caller = os.getpid()
    warned: list[str] = []

    def draw() -> bytes:
        if os.getpid() != caller:
            raise RuntimeError("no fonts in the child")
        return plots.confusion_matrix_png(["a", "b"], [[3, 1], [0, 2]])

    drawn = plots.drawing_apart(draw, lambda message, *args: warned.append(message % args))
    assert drawn().startswith(b"\x89PNG")
    assert warned == ["plots drawn in this process: the child could not (RuntimeError: no fonts in the child)"]


def test_matplotlib_still_has_the_render_lock_the_fork_holds() -> None:
    # Fails on a matplotlib upgrade that renames it (older releases had RendererAgg.lock): plots would
    # then be drawn in the run's process, safely but slower. Review `plots.drawing_apart` then.
    from matplotlib.figure import Figure

    lock = Figure._render_lock
    assert hasattr(lock, "acquire") and hasattr(lock, "release")
    assert "self._render_lock" in __import__("inspect").getsource(Figure.draw)
