"""A child spawned with ``die_with_me`` ends when its parent is killed outright; the log names it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil

PARENT = "import sys, time; from pathlib import Path; from runtime.processes import spawn; " \
         "child = spawn([sys.executable, '-c', 'import time; time.sleep(60)'], {}, Path(sys.argv[1]), " \
         "name='sleeper', die_with_me=sys.argv[2] == 'yes'); print(child.pid, flush=True); time.sleep(60)"  # fmt: skip


def _orphan_after_parent_killed(tmp_path: Path, die_with_me: bool) -> psutil.Process:
    log = tmp_path / "sleeper.log"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(log), "yes" if die_with_me else "no"],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert parent.stdout is not None
    child = psutil.Process(int(parent.stdout.readline()))
    assert f"sleeper started as pid {child.pid} by pid {parent.pid}" in log.read_text()
    parent.kill()
    parent.wait()
    return child


def test_a_child_dies_with_its_killed_parent(tmp_path: Path) -> None:
    child = _orphan_after_parent_killed(tmp_path, die_with_me=True)
    deadline = time.monotonic() + 10
    while child.is_running() and child.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


def test_without_it_the_child_lives_on(tmp_path: Path) -> None:
    child = _orphan_after_parent_killed(tmp_path, die_with_me=False)
    try:
        time.sleep(1)
        assert child.is_running() and child.status() != psutil.STATUS_ZOMBIE
    finally:
        child.kill()
