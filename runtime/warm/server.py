"""The warm server: imports once, then forks one child per flow run, which runs Prefect's engine.

    python -m runtime.warm.server SOCKET [MODULE ...]

Each child gets the launcher's stdin/stdout/stderr, working directory and environment before any
run code executes, and Prefect's settings are rebuilt from that environment, so a child is the same
process ``python -m prefect.engine`` would have been, minus the seconds of imports.
Only processes of this server's own user may connect (checked with SO_PEERCRED).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import runpy
import selectors
import signal
import socket
import struct
import sys
import time
import warnings
from pathlib import Path

from runtime import prefect_patches
from runtime.processes import die_with_parent, libc_prctl
from runtime.warm.launch import HEADER, STDIO
from runtime.warm.warmup import warm_up

logger = logging.getLogger("runtime.warm")
# What every flow run imports: Prefect's engine, the flows, and what the steps import when they run.
COMMON_PRELOAD = (
    "prefect.engine",
    "prefect.flow_engine",
    "flows.train_all",
    "flows.score",
    "pandas",
    "pyarrow.parquet",
    "pandera.pandas",
    "sklearn.model_selection",
    "sklearn.metrics",
    "sklearn.pipeline",
    "skops.io",
    "trainyard.datasets.schema",
    "trainyard.estimators",
    "trainyard.preprocessing",
    "trainyard.model_store",
    "trainyard.registry.runs",
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
    "sklearn.inspection",
    "trainyard.registry.aliases",
    # Prefect's Flow.serialize_parameters imports FastAPI's encoder the first time a process creates a
    # flow run (train-all's sub-jobs; an in-process flow call): 0.48 s of pydantic model building.
    "fastapi.encoders",
    # What a forked run still imported itself (the modules it added to sys.modules, listed once): the
    # engine's async loop, the deployment's pull step, the task engine, the registry's SQLite dialect,
    # pandera's narwhals backend, pyplot (scikit-learn's displays), Prefect's graph helpers.
    "anyio._backends._asyncio",
    "prefect.deployments.steps.core",
    "prefect.deployments.steps.pull",
    "prefect.deployments.steps.utility",
    "prefect.task_engine",
    "prefect.concurrency._sync",
    "prefect.utilities.visualization",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "narwhals._pandas_like.namespace",
    "narwhals._interchange.dataframe",
    "pyarrow.feather",
    "matplotlib.pyplot",
    "encodings.idna",
    "rich._emoji_codes",
)


def preload_for(pool: str) -> tuple[str, ...]:
    """COMMON_PRELOAD plus the libraries of the families whose runs ``pool`` starts (each family's
    ``preload``): the cpu pool's server leaves out the GPU families' libraries, ~300 MiB less in every
    forked run.
    The pool of ``train-all`` runs every family in its process, so its server preloads them all."""
    from trainyard.families import families, families_in_pool
    from trainyard.families.registry import TRAIN_ALL_POOL

    chosen = families().values() if pool == TRAIN_ALL_POOL else families_in_pool(pool)
    return COMMON_PRELOAD + tuple(dict.fromkeys(module for family in chosen for module in family.preload))


ENGINE = "prefect.engine"  # what `python -m prefect.engine`, the process worker's command, runs
REQUEST_TIMEOUT = 10.0
MAX_REQUEST_BYTES = 16 * 2**20  # an environment, as JSON


def preload(modules: tuple[str, ...]) -> None:
    """Import ``modules``; one that fails is logged and skipped (the run imports it itself)."""
    started = time.perf_counter()
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:
            logger.warning("warm server could not preload %s: %s", name, exc)
    logger.info("warm server preloaded %d modules in %.1fs", len(modules), time.perf_counter() - started)


def peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def receive_request(conn: socket.socket) -> tuple[dict, list[int]]:
    """The launcher's request (cwd, env) and its three stdio descriptors (closed again if it is bad)."""
    conn.settimeout(REQUEST_TIMEOUT)
    header, fds, _flags, _addr = socket.recv_fds(conn, HEADER.size, len(STDIO))
    try:
        if len(header) != HEADER.size or len(fds) != len(STDIO):
            raise ValueError("malformed warm-start request")
        (length,) = HEADER.unpack(header)
        if length > MAX_REQUEST_BYTES:
            raise ValueError(f"warm-start request of {length} bytes")
        payload = bytearray()
        while len(payload) < length:
            chunk = conn.recv(length - len(payload))
            if not chunk:
                raise ValueError("truncated warm-start request")
            payload += chunk
        request = json.loads(payload)
        if not isinstance(request.get("cwd"), str) or not isinstance(request.get("env"), dict):
            raise ValueError("warm-start request without cwd and env")
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    conn.settimeout(None)
    return request, fds


def become_run(request: dict, fds: list[int], server_pid: int, entry_module: str = ENGINE) -> None:
    """In the forked child: take the launcher's stdio, cwd and environment, then run the engine."""
    for signum in (signal.SIGTERM, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    die_with_parent(signal.SIGKILL, server_pid)
    for target, fd in zip(STDIO, fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    from prefect.context import refresh_global_settings_context

    from trainyard.settings import get_settings

    refresh_global_settings_context()
    get_settings.cache_clear()
    sys.argv = [sys.executable]  # run_module puts the engine's path in argv[0]; it takes no arguments
    # Preloaded on purpose: running it as __main__ from sys.modules' copy is what this server is for.
    warnings.filterwarnings("ignore", f"'{entry_module}' found in sys.modules", RuntimeWarning)
    runpy.run_module(entry_module, run_name="__main__", alter_sys=True)
    # The engine ends with exit(); if it returns, end here all the same. Either way the child leaves
    # through a normal interpreter exit (Prefect ships the run's last logs then), never back into the
    # server's loop: the server's own cleanup is guarded by its PID.
    raise SystemExit(0)


class WarmServer:
    """Accepts launchers, forks their runs, reports each run's exit status back to its launcher."""

    def __init__(self, socket_path: Path, entry_module: str = ENGINE) -> None:
        self.socket_path = socket_path
        self.entry_module = entry_module
        self.selector = selectors.DefaultSelector()
        self.runs: dict[int, socket.socket] = {}  # child pid -> its launcher's connection
        self.wake = os.pipe()  # SIGCHLD wakes the selector through this pipe
        self.pid = os.getpid()  # forked children unwind through serve() too: cleanup is the server's only

    def serve(self) -> None:
        libc_prctl()  # looked up before any fork: a forked run only calls it (become_run)
        wake_read, wake_write = self.wake
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the selector
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        listener.bind(str(self.socket_path))
        self.socket_path.chmod(0o600)
        listener.listen(64)
        self.selector.register(listener, selectors.EVENT_READ, "accept")
        self.selector.register(wake_read, selectors.EVENT_READ, "reap")
        logger.info("warm server listening on %s (pid %d)", self.socket_path, os.getpid())
        try:
            while True:
                for key, _ in self.selector.select():
                    if key.data == "accept":
                        self._accept(listener)
                    elif key.data == "reap":
                        with contextlib.suppress(BlockingIOError):
                            os.read(wake_read, 4096)
                        self._reap()
                    else:
                        self._launcher_event(key.fileobj, key.data)  # type: ignore[arg-type]
        finally:
            if os.getpid() == self.pid:
                self._shutdown()

    def _shutdown(self) -> None:
        for pid in self.runs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    def _accept(self, listener: socket.socket) -> None:
        conn, _ = listener.accept()
        try:
            if peer_uid(conn) != os.getuid():
                raise PermissionError("launcher runs as another user")
            request, fds = receive_request(conn)
        except (OSError, ValueError) as exc:
            logger.warning("refused a warm-start request: %s", exc)
            conn.close()
            return
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        try:
            pid = os.fork()
        except OSError as exc:  # out of processes or memory: this run fails (its launcher says so), not the server
            logger.error("could not fork a run: %s", exc)
            for fd in fds:
                os.close(fd)
            conn.close()
            return
        if pid == 0:
            self._close_inherited(listener, conn)
            become_run(request, fds, self.pid, self.entry_module)
        for fd in fds:
            os.close(fd)
        self.runs[pid] = conn
        with contextlib.suppress(OSError):  # a launcher already gone shows as EOF below: its run is killed
            conn.sendall(f"pid {pid}\n".encode())
        self.selector.register(conn, selectors.EVENT_READ, pid)
        logger.info("flow run %s started warm as pid %d", request["env"].get("PREFECT__FLOW_RUN_ID"), pid)

    def _close_inherited(self, *sockets: socket.socket) -> None:
        """In a new child: drop the server's descriptors, so no launcher waits on a copy of its socket."""
        signal.set_wakeup_fd(-1)
        self.selector.close()
        for sock in (*sockets, *self.runs.values()):
            sock.close()
        for fd in self.wake:
            os.close(fd)

    def _launcher_event(self, conn: socket.socket, pid: int) -> None:
        """A launcher only ever closes its end: it died (SIGKILL), so its run must end too."""
        try:
            data = conn.recv(64)
        except OSError:
            data = b""
        if not data:
            self.selector.unregister(conn)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            logger.info("launcher of pid %d is gone: killed the run", pid)

    def _reap(self) -> None:
        while self.runs:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.runs.pop(pid, None)
            if conn is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            with contextlib.suppress(OSError):
                conn.sendall(f"exit {code}\n".encode())
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(conn)
            conn.close()
            logger.info("pid %d exited with %d", pid, code)


def main(argv: list[str]) -> None:
    # A handler of its own: the root logger is Prefect's to configure, as in any flow-run process.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    socket_path, modules = Path(argv[0]), tuple(argv[1:]) or preload_for("gpu")
    preload(modules)
    prefect_patches.install()  # runs end when their work does (runtime/prefect_patches.py); forks inherit it
    warm_up()
    server = WarmServer(socket_path)
    try:
        server.serve()
    except SystemExit:
        if os.getpid() == server.pid:  # not a forked run unwinding through serve()
            logger.info("warm server stopped (SIGTERM)")
        raise


if __name__ == "__main__":
    main(sys.argv[1:])
