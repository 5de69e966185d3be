"""Every benchmark script runs end to end at a tiny size, so the scripts cannot rot."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from trainyard.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration
SMOKES = [
    ("pipeline_overhead.py", ["--rows", "1500", "--repeats", "1", "--families", "random-forest"], "job ratio"),
    ("trigger_latency.py", ["--runs", "1"], "POST → Running (Prefect's timestamp)"),
    ("api_load.py", ["--clients", "2", "--seconds", "1", "--tool", "httpx"], "raw Prefect GET /api/flow_runs/{id}"),
    ("concurrency.py", ["--jobs", "2"], "makespan s"),
    ("cancel_latency.py", ["--repeats", "1", "--families", "xgboost"], "process gone p50 s"),
    ("hostile_requests.py", ["--repeats", "1", "--scale", "0.2", "--guesses", "60", "--names", "1000",
                             "--patient-seconds", "3"],
     "ratio ours / unthrottled"),
    ("progress_overhead.py", ["--rows", "5000", "--repeats", "1"], "ratio on / off"),
    ("flow_teardown.py", ["--runs", "2"], "ratio patched / shipped"),
    ("breakdown.py", ["--family", "random-forest", "--rows", "2000"], "the Prefect server (whole process tree)"),
    ("object_store.py", ["--rows", "2000", "--repeats", "1", "--families", "random-forest"], "ratio bucket / local"),
    ("validation.py", ["--rows", "2000", "--repeats", "1"], "ratio to isin"),
    ("scoring.py", ["--rows", "5000", "--clients", "2", "--seconds", "2"], "ratio ours / bare (p50, p99)"),
    ("gpu_check.sh", ["--rows", "3000", "--no-install", "--no-stack"], "speed-up vs cpu"),
]
# Alone, after the others: it builds the run image (minutes on a fresh machine) and runs two stacks.
SOLO = [("docker_pool.py", ["--runs", "1"], "ratio docker / process")]


def _run(script: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    runner = ["bash"] if script.endswith(".sh") else [sys.executable]
    return subprocess.run(
        [*runner, str(PROJECT_ROOT / "bench" / script), *args],
        capture_output=True, text=True, timeout=600, cwd=PROJECT_ROOT,
    )  # fmt: skip


def test_every_benchmark_script_prints_its_table() -> None:
    # Two at a time: each script mostly waits on its own stack starting up, and CI time is scarce.
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda smoke: _run(smoke[0], smoke[1]), SMOKES))
    results += [_run(script, args) for script, args, _ in SOLO]
    for (script, _, needle), result in zip(SMOKES + SOLO, results, strict=True):
        assert result.returncode == 0, f"{script}:\n{result.stderr[-3000:]}"
        table = [line for line in result.stdout.splitlines() if line.startswith("|")]
        assert needle in result.stdout and len(table) >= 3, f"{script}:\n{result.stdout}"
        assert _errors_column(table) in (None, [0] * (len(table) - 2)), f"{script} saw errors:\n{result.stdout}"


def _errors_column(table: list[str]) -> list[int] | None:
    """The values of a table's ``errors`` column (None when it has none): a load run with errors is no result."""
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table]
    if "errors" not in rows[0]:
        return None
    column = rows[0].index("errors")
    return [int(row[column]) for row in rows[2:]]
