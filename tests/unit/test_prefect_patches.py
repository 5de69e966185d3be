"""The warm server's patch of Prefect's heartbeat thread: pinned to the Prefect source it replaces,
and it ends the thread when the flow ends instead of up to a second later."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import prefect.flow_engine as engine

from trainyard import prefect_patches


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
