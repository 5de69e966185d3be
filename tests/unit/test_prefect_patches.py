"""The warm server's patch of Prefect's heartbeat thread: pinned to the Prefect source it replaces,
and it ends the thread when the flow ends instead of up to a second later."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import prefect.flow_engine as engine

from runtime import prefect_patches


def test_prefect_heartbeat_code_is_the_code_the_patch_was_written_against() -> None:
    # Fails on a Prefect upgrade that changes `_send_heartbeats`: review the patch (or drop it if
    # Prefect no longer sleeps in 1 s steps), then update PATCHED_SOURCE_SHA256.
    assert prefect_patches.prefect_source_sha256() == prefect_patches.PATCHED_SOURCE_SHA256
    assert "time.sleep(1)" in __import__("inspect").getsource(engine._send_heartbeats.__dict__.get(
        "__wrapped_original__", engine._send_heartbeats))  # fmt: skip


def _fake_engine(emitted: list[str]) -> SimpleNamespace:
    return SimpleNamespace(
        heartbeat_seconds=30, flow_run=None, logger=SimpleNamespace(debug=lambda *a, **k: None),
        _build_heartbeat_event_template=lambda: ({}, []),
        _emit_flow_run_heartbeat=lambda resource, related: emitted.append(threading.current_thread().name),
    )  # fmt: skip


def _exit_seconds(heartbeats, emitted: list[str]) -> float:  # type: ignore[no-untyped-def]
    """How long leaving the heartbeat context takes, for a flow whose body returns at once."""
    with heartbeats(_fake_engine(emitted)):
        while not emitted:  # the thread has sent its first heartbeat and gone to sleep/wait
            time.sleep(0.001)
        leaving = time.perf_counter()
    return time.perf_counter() - leaving


def test_the_patched_heartbeat_ends_with_the_flow_where_prefects_makes_it_wait() -> None:
    original = engine._send_heartbeats.__dict__.get("__wrapped_original__", engine._send_heartbeats)
    assert _exit_seconds(original, []) > 0.5  # Prefect's thread finishes its 1 s sleep first
    emitted: list[str] = []
    assert _exit_seconds(prefect_patches._prompt_heartbeats, emitted) < 0.5
    assert len(emitted) == 1, "one heartbeat at start, as Prefect sends"


def test_install_replaces_prefects_context_manager_once() -> None:
    original = engine._send_heartbeats
    try:
        prefect_patches.install()
        prefect_patches.install()
        assert engine._send_heartbeats is prefect_patches._prompt_heartbeats
        assert engine._send_heartbeats.__wrapped_original__ is original  # type: ignore[attr-defined]
    finally:
        engine._send_heartbeats = original


def test_prefect_clients_still_build_their_tls_context_the_way_the_patch_shares() -> None:
    # The TLS patch replaces `ssl` inside this module: it only helps while the clients call
    # `ssl.create_default_context(cafile=...)` there. A Prefect upgrade that changes this fails here.
    import inspect

    import prefect.client.orchestration as orchestration

    for client in (orchestration.SyncPrefectClient, orchestration.PrefectClient):
        assert "ssl.create_default_context(cafile=cert_file)" in inspect.getsource(client.__init__)


def test_shared_tls_contexts_build_one_verified_context_per_ca_file_and_never_share_an_insecure_one() -> None:
    import certifi

    shared = prefect_patches.SharedTLSContexts()
    first = shared.create_default_context(cafile=certifi.where())
    assert shared.create_default_context(cafile=certifi.where()) is first
    assert first.verify_mode == __import__("ssl").CERT_REQUIRED and first.check_hostname
    loose = shared.create_default_context()
    assert loose is not first and shared.create_default_context() is not loose
    assert shared.SSLContext is __import__("ssl").SSLContext and shared.CERT_NONE == __import__("ssl").CERT_NONE


def test_after_install_two_prefect_clients_share_one_tls_context() -> None:
    import prefect.client.orchestration as orchestration

    original = orchestration.ssl
    try:
        prefect_patches.install()
        contexts = []
        for _ in range(2):  # built, never connected: no server needed
            client = orchestration.SyncPrefectClient(api="http://127.0.0.1:9/api")
            contexts.append(client._client._transport._pool._ssl_context)
        assert contexts[0] is contexts[1] is prefect_patches.prefect_client_tls_context()
    finally:
        orchestration.ssl = original


def test_after_install_the_server_version_check_builds_no_tls_context_of_its_own(monkeypatch) -> None:
    # The events client checks the server's version once per process, in a module of its own: before
    # the patch covered it, each run built one more TLS context (80-90 ms) there, under the GIL.
    import asyncio
    import http.server
    import logging
    import ssl
    import threading

    import prefect
    import prefect._internal.version_checking as version_checking
    import prefect.client.orchestration as orchestration

    class Version(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f'"{prefect.__version__}"'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Version)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    originals = orchestration.ssl, version_checking.ssl
    try:
        prefect_patches.install()
        prefect_patches.prefect_client_tls_context()  # what the warm server builds before it forks
        built = []
        create = ssl.create_default_context
        monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: built.append(k) or create(*a, **k))
        api_url = f"http://127.0.0.1:{server.server_address[1]}/api"
        version_checking._clear_api_version_check_cache()
        asyncio.run(version_checking.check_server_version(api_url, logging.getLogger("test"), raise_on_error=True))
        assert version_checking._is_api_version_check_cached((api_url, prefect.__version__))  # it did check
        assert built == []
    finally:
        orchestration.ssl, version_checking.ssl = originals
        version_checking._clear_api_version_check_cache()
        server.shutdown()


def test_prefect_kill_code_is_the_code_patch_3_was_written_against() -> None:
    # Fails on a Prefect upgrade that changes `ProcessManager.kill`: review patch 3 (or drop it if
    # Prefect no longer waits max(grace / 10, 1) s between checks), then update KILL_SOURCE_SHA256.
    assert prefect_patches.prefect_kill_source_sha256() == prefect_patches.KILL_SOURCE_SHA256


class _Handle:
    """A run process that exits 0.3 s after its SIGTERM."""

    pid = 4242
    termination_scope = SimpleNamespace(wait_after_graceful_kill=True)

    def __init__(self) -> None:
        self.terminated_at: float | None = None
        self.hard_killed = False

    def graceful_kill(self) -> None:
        self.terminated_at = time.monotonic()

    def is_alive(self) -> bool:
        return self.terminated_at is None or time.monotonic() - self.terminated_at < 0.3

    def hard_kill(self) -> None:
        self.hard_killed = True


def _kill_seconds(kill) -> tuple[float, _Handle]:  # type: ignore[no-untyped-def]
    import asyncio

    handle = _Handle()
    manager = SimpleNamespace(_process_map={"run": handle}, _logger=SimpleNamespace(warning=print))
    started = time.monotonic()
    asyncio.run(kill(manager, "run", grace_seconds=30))
    return time.monotonic() - started, handle


def test_the_patched_kill_returns_when_the_process_is_gone_where_prefects_waits_3_s() -> None:
    from prefect.runner._process_manager import ProcessManager

    original = getattr(ProcessManager.kill, "__wrapped_original__", ProcessManager.kill)
    slow, handle = _kill_seconds(original)
    assert slow >= 2.9 and not handle.hard_killed  # Prefect's first check comes after max(30 / 10, 1) s
    fast, handle = _kill_seconds(prefect_patches._prompt_kill)
    assert 0.3 <= fast < 0.8 and not handle.hard_killed


def test_prefect_suspension_observer_code_is_the_code_patch_5_was_written_against() -> None:
    # Fails on a Prefect upgrade that changes `observe_flow_run_suspension`: review patch 5 (or drop it
    # if Prefect's thread no longer polls its stop event), then update SUSPENSION_OBSERVER_SOURCE_SHA256.
    pinned = prefect_patches.SUSPENSION_OBSERVER_SOURCE_SHA256
    assert prefect_patches.prefect_suspension_observer_source_sha256() == pinned


class _Observer:
    """Stands in for Prefect's FlowRunSuspendingObserver (no server): reports one suspension."""

    connect_seconds = 0.0  # how long its websocket takes to connect

    def __init__(self, on_suspended, polling_interval: float = 10) -> None:  # type: ignore[no-untyped-def]
        self.on_suspended = on_suspended

    async def __aenter__(self) -> _Observer:
        import asyncio

        await asyncio.sleep(self.connect_seconds)
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def watch_flow_run_id(self, flow_run_id: object) -> None:
        self.on_suspended(flow_run_id, "Suspended")


def _observer_exit_seconds(observe, monkeypatch) -> tuple[float, list[object]]:  # type: ignore[no-untyped-def]
    """How long leaving the observer's context takes, 50 ms after the run's body began."""
    import prefect._internal.observers as observers

    monkeypatch.setattr(observers, "FlowRunSuspendingObserver", _Observer)
    requested: list[object] = []
    request = SimpleNamespace(mark_requested=requested.append)
    with observe("run-id", request):
        time.sleep(0.05)
        leaving = time.perf_counter()
    return time.perf_counter() - leaving, requested


def test_the_patched_suspension_observer_ends_with_the_flow_where_prefects_makes_it_wait(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    observe = engine.observe_flow_run_suspension
    original = observe.__dict__.get("__wrapped_original__", observe)
    slow, requested = _observer_exit_seconds(original, monkeypatch)
    assert slow >= 0.1 and requested == ["Suspended"]  # Prefect's thread finishes its 0.2 s sleep first
    fast, requested = _observer_exit_seconds(prefect_patches._prompt_suspension_observer, monkeypatch)
    assert fast < 0.08 and requested == ["Suspended"], "stops at once, and still reports a suspension"


def test_install_replaces_the_suspension_observer_the_flow_engine_calls() -> None:
    installed = engine.observe_flow_run_suspension
    original = installed.__dict__.get("__wrapped_original__", installed)
    engine.observe_flow_run_suspension = original
    try:
        prefect_patches.install()
        assert engine.observe_flow_run_suspension is prefect_patches._prompt_suspension_observer
        assert engine.observe_flow_run_suspension.__wrapped_original__ is original  # type: ignore[attr-defined]
    finally:
        engine.observe_flow_run_suspension = installed


class _SlowObserver(_Observer):
    connect_seconds = 0.3


def test_the_patched_suspension_observer_lets_the_run_start_while_it_connects(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import prefect._internal.observers as observers

    monkeypatch.setattr(observers, "FlowRunSuspendingObserver", _SlowObserver)
    observe = engine.observe_flow_run_suspension
    original = observe.__dict__.get("__wrapped_original__", observe)
    for observing, slow in ((original, True), (prefect_patches._prompt_suspension_observer, False)):
        requested: list[object] = []
        entering = time.perf_counter()
        with observing("run-id", SimpleNamespace(mark_requested=requested.append)):
            entered = time.perf_counter() - entering
            time.sleep(0.4)  # the run's body; the observer connects meanwhile
        assert (entered >= 0.3) is slow, f"{observing.__name__} entered after {entered:.2f} s"
        assert requested == ["Suspended"], "a suspension made while it connected is still reported"
