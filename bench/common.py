"""Shared benchmark helpers: percentiles, tables, an isolated stack with an admin client."""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A Markdown table (pasted as is into BENCHMARKS.md)."""
    cells = [[_number(c) if isinstance(c, float) else str(c) for c in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


@contextmanager
def isolated_stack(extra_env: dict[str, str] | None = None,
                   pools: str = "process") -> Iterator[tuple[object, httpx.Client]]:  # fmt: skip
    """A full trainyard stack in a temporary artifacts dir; yields (Stack, admin HTTP client)."""
    with tempfile.TemporaryDirectory(prefix="trainyard-bench-") as workdir:
        os.environ["TRAINYARD_ARTIFACTS_DIR"] = str(Path(workdir) / "artifacts")
        from trainyard.settings import get_settings

        get_settings.cache_clear()
        from runtime.processes import free_port
        from runtime.stack import Stack
        from trainyard.registry.auth import ensure_admin

        stack = Stack(
            prefect_port=free_port(),
            api_port=free_port(),
            extra_env={"PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false", **(extra_env or {})},
            pools=pools,  # type: ignore[arg-type]
        )
        try:
            stack.start_warm_servers()
            stack.start_server()
            stack.create_pools()
            stack.deploy()
            stack.start_workers()
            stack.start_api()
            token, _ = ensure_admin()
            with httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Token {token}"}, timeout=300) as c:
                yield stack, c
        finally:
            stack.stop()
