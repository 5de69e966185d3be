"""Starting, health-checking and stopping the stack's child processes."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx
import psutil


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


PR_SET_PDEATHSIG = 1  # linux/prctl.h


@functools.cache
def libc_prctl() -> Callable[..., int] | None:
    """libc's prctl, looked up once in the parent: a forked child only calls it (no dlopen after a fork)."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


def die_with_parent(signum: int, parent_pid: int) -> None:
    """In a forked child: have the kernel send ``signum`` when the parent dies (Linux; elsewhere nothing).

    The signal is tied to the parent *thread* that forked: a child spawned from a thread that ends
    first gets it then. If the parent died before the signal was armed, the child signals itself.
    """
    if (prctl := libc_prctl()) is None:
        return
    prctl(PR_SET_PDEATHSIG, signum)
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signum)


def spawn(args: Sequence[str], env: Mapping[str, str], log_file: Path, cwd: Path | None = None, *,
          name: str | None = None, die_with_me: bool = False) -> subprocess.Popen:  # fmt: skip
    """Start ``args`` in its own process group (so a stop reaches its children), logging to ``log_file``.

    ``name`` writes a line naming the new process and its parent into the log first, so a log that
    several processes have written tells which wrote what. ``die_with_me``: the child is sent SIGTERM
    when this process (the thread calling this) dies, even by SIGKILL, so no child of a killed stack
    lives on holding its ports.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    parent_pid = os.getpid()
    pre_exec = None
    if die_with_me and libc_prctl() is not None:  # looked up here, before the fork
        pre_exec = functools.partial(die_with_parent, signal.SIGTERM, parent_pid)
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            list(args), env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
            start_new_session=True, preexec_fn=pre_exec,
        )  # fmt: skip
        if name is not None:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(f"---- {stamp} {name} started as pid {process.pid} by pid {parent_pid} ----\n".encode())
        return process


def wait_http(url: str, timeout: float, process: subprocess.Popen | None = None, log_file: Path | None = None) -> None:
    """Poll ``url`` until it answers 2xx; fail early if ``process`` exits first.

    A failure quotes the end of ``log_file`` (the process's output), so the cause is in the error.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            exited = f"{process.args[0]} exited with {process.returncode} before {url} came up"
            raise RuntimeError(exited + _tail(log_file))
        try:
            if httpx.get(url, timeout=2).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s" + _tail(log_file))


def _tail(log_file: Path | None, chars: int = 3000) -> str:
    if log_file is None or not log_file.exists():
        return ""
    return f"\n--- end of {log_file} ---\n" + log_file.read_text(errors="replace")[-chars:]


def stop(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it is still there after ``grace`` seconds."""
    stop_all([process], grace)


def stop_all(processes: Sequence[subprocess.Popen], grace: float = 10.0) -> None:
    """SIGTERM every process group at once; SIGKILL what is still there after ``grace`` seconds.

    ``prefect worker start`` often ignores the first SIGTERM, hence the escalation. Descendants that
    left the group (a child that started its own session) are found by walking the process tree
    first, and are signalled with it.
    """
    trees = {p.pid: _descendants(p.pid) for p in processes if p.poll() is None}
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        alive = [p for p in processes if p.poll() is None]
        strays = [d for p in processes for d in trees.get(p.pid, []) if d.is_running()]
        for process in alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
        for stray in strays:
            with contextlib.suppress(psutil.Error):
                stray.send_signal(sig)
        deadline = time.monotonic() + wait
        for process in alive:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
        psutil.wait_procs(strays, timeout=max(0.0, deadline - time.monotonic()))


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def port_holder(port: int, host: str = "127.0.0.1") -> str | None:
    """None if ``host:port`` is free to listen on; otherwise who holds it, e.g. ``pid 123 (prefect server)``."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: TIME_WAIT is not taken
        try:
            sock.bind((host, port))
            return None
        except OSError:
            pass
    with contextlib.suppress(psutil.Error):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
                with contextlib.suppress(psutil.Error):
                    return f"pid {conn.pid} ({' '.join(psutil.Process(conn.pid).cmdline())[:120]})"
                return f"pid {conn.pid}"
    return "another process"


