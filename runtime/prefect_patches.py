"""Five small, documented patches to Prefect 3.8 (its flow engine's heartbeat thread, its API
clients' TLS set-up, its run supervisor's wait after a cancel, its server's SQLite write
transactions, and its flow engine's suspension observer), applied by the warm server at start, by
the pools' workers, by the container pools' run command (``runtime.run_entry``), and (patch 4 only)
by ``runtime.prefect_server``.

1. Heartbeats. Prefect's flow-run heartbeat thread (``prefect.flow_engine._send_heartbeats``, on by default every
180 s) sleeps in 1-second steps, and a synchronous flow joins it when the flow's body returns: every
run ends 0-1 s (0.5 s on average) after its work is done, waiting for a thread that has nothing to
do. There is no setting for it short of turning heartbeats off, and heartbeats are what Prefect uses
to detect crashed runs on pools without PIDs. The replacement below is the same function, except
that the thread waits on its stop event instead of sleeping, so the join returns at once.

``PATCHED_SOURCE_SHA256`` pins the Prefect source this was written against:
``tests/unit/test_prefect_patches.py`` fails when a Prefect upgrade changes it, so the patch is
reviewed (or dropped, if Prefect fixed it) rather than silently applied to different code.

2. TLS contexts. Every Prefect client (sync and async, and a flow run makes several) builds a new
``ssl.create_default_context(cafile=certifi.where())``, parsing the whole CA bundle: 40-50 ms each,
≈ 0.2 s of every run's start here, even against an ``http://`` server. The events and logs clients'
check of the server's version (``prefect._internal.version_checking``, once per process, when a run's
first event goes out) builds one more: 80-90 ms of CPU under the GIL while the run's first steps run.
``install`` gives both modules a stand-in for the ``ssl`` module whose ``create_default_context``
returns one context per CA file per process, built once (the warm server builds it before it forks).
A context without a CA file (Prefect's insecure mode, which then changes it) is never shared. The
unit test checks that Prefect's clients still call it that way.

3. The wait after a cancel. Prefect's run supervisor (``prefect flow-run execute``, what a container
pool runs) stops a cancelled run's engine with SIGTERM, then checks whether it is gone only every
``max(grace / 10, 1)`` seconds, with the grace fixed at 30 s: 3 s. The engine exits in about a second,
and the container waits out the rest (a cancel measured 4.9 s from request to container gone).
``_prompt_kill`` is ``ProcessManager.kill`` with the check every 0.1 s; ``KILL_SOURCE_SHA256`` pins the
code it replaces, as for patch 1.

4. SQLite write transactions (the Prefect *server*, applied by ``runtime.prefect_server``). Prefect
begins its write transactions ``DEFERRED`` unless the caller asks ``with_for_update``: such a
transaction reads, then upgrades to a writer, and when another connection has committed in between,
SQLite fails the upgrade at once with ``SQLITE_BUSY_SNAPSHOT`` (its busy timeout does not apply to it).
The server answers 503 and Prefect's client retries after 2 s: about one triggered run in seven waited
those 2 s on this machine. ``_immediate_begin_transaction`` is Prefect's ``begin_transaction`` with every
write transaction ``BEGIN IMMEDIATE``: writers queue on SQLite's busy timeout instead of failing. Reads
(sessions without ``begin_transaction``) are untouched and keep WAL's concurrency; PostgreSQL is not
concerned. ``BEGIN_TRANSACTION_SOURCE_SHA256`` pins the code it replaces.

5. The suspension observer. A flow run of a deployment watches for a "Suspend" request in a thread
(``prefect._flow_run_suspension.observe_flow_run_suspension``) whose loop checks its stop event
every 0.2 s, and the run joins that thread when its body returns: every run of a deployment ended
0-0.2 s, 0.1 s on average, after its work was done.
``_prompt_suspension_observer`` is the same function with two changes: the stop wakes the thread's
loop at once, and the run does not wait for the observer to connect (a websocket and a read, ~35 ms
here) before it starts. The second loses nothing: once subscribed, the observer reads the run's
state, so a "Suspend" made while it was connecting is seen then, and the run stops at its next task
as it would have. ``SUSPENSION_OBSERVER_SOURCE_SHA256`` pins the code it replaces.

Tried and dropped: giving a busy SQLite's 503 a short ``Retry-After`` so that Prefect's client retries
after 0.25 s instead of 2 s. It took the trigger p95 from 2.6 s to 0.9 s, and then twice stalled the
Prefect server for 2 x 60 s (its SQLite busy timeout) under a burst of writes: it fought the symptom
(more retries of transactions bound to fail) where patch 4 removes the cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import inspect
import ssl
import threading
from collections.abc import AsyncGenerator, Generator
from contextlib import contextmanager
from typing import Any

PATCHED_SOURCE_SHA256 = "83e152cb73a04e977ca181188e99b3d583c894892b5456043b2eb51e45dbe996"  # prefect 3.8.8
_INSTALLED = "__trainyard_prompt_heartbeats__"
# prefect 3.8.8's ProcessManager.kill
KILL_SOURCE_SHA256 = "54409327ccd16859ef7fa6de5c5a1a2a7c0569f12c3292d119f8ed0155771ccd"
KILL_CHECK_SECONDS = 0.1
# prefect 3.8.8's AioSqliteConfiguration.begin_transaction
BEGIN_TRANSACTION_SOURCE_SHA256 = "c9ea33bf1b494ec8d39c907dfbb2927ba29668ad639677bf441fff25fe2649bc"
# prefect 3.8.8's observe_flow_run_suspension
SUSPENSION_OBSERVER_SOURCE_SHA256 = "c342ca7443cedf86a097a6e3598c3111cfa0a9c79694ed17fe9e7d956a3484db"


def _original_source_sha256(function: Any) -> str:
    """The sha256 of ``function``'s source, or of the Prefect original it replaced once patched."""
    original = getattr(function, "__wrapped_original__", function)
    return hashlib.sha256(inspect.getsource(original).encode()).hexdigest()


def _replacing(replacement: Any, original: Any) -> Any:
    """``replacement``, marked as installed and holding the ``original`` it stands in for."""
    setattr(replacement, _INSTALLED, True)
    replacement.__wrapped_original__ = original
    return replacement


def prefect_source_sha256() -> str:
    """The sha256 of Prefect's own ``_send_heartbeats`` source (what the patch replaces)."""
    import prefect.flow_engine as engine

    return _original_source_sha256(engine._send_heartbeats)


@contextmanager
def _prompt_heartbeats(engine: Any, join_on_exit: bool = True) -> Generator[None, None, None]:
    """Prefect's ``_send_heartbeats``, with the 1-second sleep steps replaced by a wait on the stop event."""
    from prefect.flow_engine import MINIMUM_HEARTBEAT_INTERVAL

    heartbeat_seconds = engine.heartbeat_seconds
    if heartbeat_seconds is None:
        yield
        return
    heartbeat_seconds = max(heartbeat_seconds, MINIMUM_HEARTBEAT_INTERVAL)
    resource, related = engine._build_heartbeat_event_template()
    stop_event = threading.Event()

    def heartbeat_loop() -> None:
        while not stop_event.is_set():
            if engine.flow_run and engine.flow_run.state and engine.flow_run.state.is_final():
                return
            try:
                engine._emit_flow_run_heartbeat(resource, related)
            except Exception:
                engine.logger.debug("Failed to emit heartbeat", exc_info=True)
            if stop_event.wait(heartbeat_seconds):  # the change: wakes at once when the flow ends
                return

    # As Prefect does: the thread runs in a copy of the caller's context (its settings, its API URL).
    thread = threading.Thread(target=contextvars.copy_context().run, args=(heartbeat_loop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop_event.set()
        if join_on_exit:
            thread.join(timeout=2)


class SharedTLSContexts:
    """Stands in for the ``ssl`` module in Prefect's client modules: the same behaviour, except
    that verified contexts (those given a CA file) are built once per file and shared."""

    def __init__(self) -> None:
        self._contexts: dict[tuple[Any, ...], ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def create_default_context(
        self, purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH, *, cafile: str | None = None,
        capath: str | None = None, cadata: Any = None,
    ) -> ssl.SSLContext:  # fmt: skip
        if cafile is None:  # the caller may loosen it (insecure mode): always a fresh one
            return ssl.create_default_context(purpose, capath=capath, cadata=cadata)
        key = (purpose, cafile, capath, cadata)
        with self._lock:
            if key not in self._contexts:
                self._contexts[key] = ssl.create_default_context(purpose, cafile=cafile, capath=capath, cadata=cadata)
            return self._contexts[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(ssl, name)


def prefect_client_tls_context() -> ssl.SSLContext:
    """The verified context Prefect's clients use (built now if it is not yet): the warm server calls it
    before forking, so no run builds one."""
    import certifi
    import prefect.client.orchestration as orchestration
    from prefect.settings import PREFECT_API_SSL_CERT_FILE

    return orchestration.ssl.create_default_context(cafile=PREFECT_API_SSL_CERT_FILE.value() or certifi.where())


def prefect_kill_source_sha256() -> str:
    """The sha256 of Prefect's own ``ProcessManager.kill`` source (what patch 3 replaces)."""
    from prefect.runner._process_manager import ProcessManager

    return _original_source_sha256(ProcessManager.kill)


async def _prompt_kill(self: Any, flow_run_id: Any, grace_seconds: float = 30, *, force: bool = False) -> None:
    """Prefect's ``ProcessManager.kill``, checking every ``KILL_CHECK_SECONDS`` (not 3 s) whether the
    process has gone after its SIGTERM."""
    import anyio

    handle = self._process_map.get(flow_run_id)
    if handle is None:
        self._logger.warning("Received kill request for flow run '%s' but no process was found.", flow_run_id)
        return
    if handle.pid is None:
        self._logger.warning("Process for flow run '%s' has no PID.", flow_run_id)
        return
    if force:
        with contextlib.suppress(ProcessLookupError):
            handle.hard_kill()
        return
    try:
        handle.graceful_kill()
    except ProcessLookupError:
        return
    if handle.termination_scope.wait_after_graceful_kill:
        with anyio.move_on_after(grace_seconds):
            while True:
                await anyio.sleep(KILL_CHECK_SECONDS)  # the change: Prefect waits max(grace / 10, 1) s
                if not handle.is_alive():
                    return
        with contextlib.suppress(OSError):
            handle.hard_kill()


def prefect_suspension_observer_source_sha256() -> str:
    """The sha256 of Prefect's own ``observe_flow_run_suspension`` source (what patch 5 replaces)."""
    import prefect.flow_engine as engine

    return _original_source_sha256(engine.observe_flow_run_suspension)


@contextmanager
def _prompt_suspension_observer(
    flow_run_id: Any, suspension_request: Any, polling_interval: float = 10
) -> Generator[None, None, None]:
    """Prefect's ``observe_flow_run_suspension``, with the thread's 0.2 s polls of its stop event
    replaced by a wake-up of its event loop, and without waiting for the observer to connect."""
    from prefect._flow_run_suspension import mark_flow_run_suspension_requested
    from prefect._internal.observers import FlowRunSuspendingObserver
    from prefect.logging.loggers import get_logger

    logger = get_logger("flow_run_suspension")
    stopping = threading.Event()
    wakers: list[Any] = []  # set by the observer's loop once it waits: wakes that loop
    lock = threading.Lock()

    def mark_suspended(flow_run_id: Any, state: Any) -> None:
        if not mark_flow_run_suspension_requested(flow_run_id, state):
            suspension_request.mark_requested(state)

    async def run_observer() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        observing = FlowRunSuspendingObserver(on_suspended=mark_suspended, polling_interval=polling_interval)
        async with observing as observer:
            await observer.watch_flow_run_id(flow_run_id)  # subscribed, then reads the run's state
            with lock:
                if stopping.is_set():
                    return
                wakers.append(lambda: loop.call_soon_threadsafe(stop.set))
            await stop.wait()  # the change: Prefect checks its stop event every 0.2 s

    context = contextvars.copy_context()

    def observer_thread() -> None:
        try:
            context.run(lambda: asyncio.run(run_observer()))
        except Exception:
            logger.debug("Flow run suspension observer exited with an exception", exc_info=True)

    thread = threading.Thread(target=observer_thread, daemon=True)
    thread.start()  # the change: Prefect waits here until the observer has connected and read the state
    try:
        yield
    finally:
        with lock:
            stopping.set()
            for wake in wakers:
                with contextlib.suppress(RuntimeError):  # the observer's loop has already closed
                    wake()
        thread.join(timeout=2)


def install() -> None:
    """Apply the patches in this process (idempotent): what the warm server does before it forks."""
    import prefect._internal.version_checking as version_checking
    import prefect.client.orchestration as orchestration
    import prefect.flow_engine as engine
    from prefect.runner._process_manager import ProcessManager

    if not getattr(engine.observe_flow_run_suspension, _INSTALLED, False):
        engine.observe_flow_run_suspension = _replacing(_prompt_suspension_observer, engine.observe_flow_run_suspension)

    if not getattr(ProcessManager.kill, _INSTALLED, False):
        ProcessManager.kill = _replacing(_prompt_kill, ProcessManager.kill)  # type: ignore[method-assign]

    if not isinstance(orchestration.ssl, SharedTLSContexts):
        orchestration.ssl = SharedTLSContexts()  # type: ignore[assignment]
    # The events and logs clients' server-version check builds its own context, in another module.
    version_checking.ssl = orchestration.ssl  # type: ignore[attr-defined]
    if getattr(engine._send_heartbeats, _INSTALLED, False):
        return
    engine._send_heartbeats = _replacing(_prompt_heartbeats, engine._send_heartbeats)


def prefect_begin_transaction_source_sha256() -> str:
    """The sha256 of Prefect's own ``AioSqliteConfiguration.begin_transaction`` source (what patch 4 replaces)."""
    from prefect.server.database.configurations import AioSqliteConfiguration

    return _original_source_sha256(AioSqliteConfiguration.begin_transaction)


@contextlib.asynccontextmanager
async def _immediate_begin_transaction(
    self: Any, session: Any, with_for_update: bool = False
) -> AsyncGenerator[Any, None]:
    """Prefect's ``AioSqliteConfiguration.begin_transaction``, every write transaction ``IMMEDIATE``."""
    from prefect.server.database.configurations import SQLITE_BEGIN_MODE

    token = SQLITE_BEGIN_MODE.set("IMMEDIATE")  # the change: Prefect sets DEFERRED unless with_for_update
    try:
        async with session.begin() as transaction:
            yield transaction
    finally:
        SQLITE_BEGIN_MODE.reset(token)


def install_server() -> None:
    """Apply patch 4 in a Prefect server's process (idempotent): ``runtime.prefect_server`` does it
    before Prefect's CLI starts the server in the same process."""
    from prefect.server.database.configurations import AioSqliteConfiguration

    if getattr(AioSqliteConfiguration.begin_transaction, _INSTALLED, False):
        return
    AioSqliteConfiguration.begin_transaction = _replacing(  # type: ignore[method-assign]
        _immediate_begin_transaction, AioSqliteConfiguration.begin_transaction
    )
