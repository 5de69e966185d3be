"""Every benchmark script runs end to end at a tiny size, so the scripts cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from trainyard.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("script", "args", "needle"),
    [
        ("pipeline_overhead.py", ["--rows", "1500", "--repeats", "1", "--families", "random-forest"], "wall ratio"),
        ("trigger_latency.py", ["--runs", "1"], "ratio ours / raw"),
        ("api_load.py", ["--clients", "2", "--seconds", "1"], "raw Prefect GET /api/flow_runs/{id}"),
        ("concurrency.py", ["--jobs", "3"], "makespan s"),
    ],
)
def test_benchmark_script_smoke(script: str, args: list[str], needle: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / script), *args],
        capture_output=True, text=True, timeout=600, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    table = [line for line in result.stdout.splitlines() if line.startswith("|")]
    assert needle in result.stdout and len(table) >= 3, result.stdout
