"""The warm-start launcher and fork server, as real processes over a real Unix socket.

The server's entry module is a stand-in (``warm_entry``) for Prefect's engine, so these run without
a Prefect server; the integration tests run every flow through the real thing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.processes import stop
from runtime.warm import launch
from trainyard.pids import pid_alive
from trainyard.settings import PROJECT_ROOT

# Preloaded like the real engine: the run starts in the launcher's cwd, where ``tests`` is not importable.
SERVE = "import sys; from pathlib import Path; import tests.unit.warm_entry; from runtime.warm.server import " \
        "WarmServer; WarmServer(Path(sys.argv[1]), entry_module='tests.unit.warm_entry').serve()"  # fmt: skip


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    socket = tmp_path / "warm.sock"
    process = subprocess.Popen([sys.executable, "-c", SERVE, str(socket)], cwd=PROJECT_ROOT, start_new_session=True)
    deadline = time.monotonic() + 20
    while not socket.exists():
        assert process.poll() is None and time.monotonic() < deadline, "warm server did not start"
        time.sleep(0.05)
    yield process
    stop(process, grace=2)


@pytest.fixture
def server(server_process: subprocess.Popen[bytes], tmp_path: Path) -> Path:
    return tmp_path / "warm.sock"


def _launch(socket: Path, tmp_path: Path, **env: str) -> subprocess.Popen[str]:
    run_env = {**os.environ, "WARM_TEST_PID_FILE": str(tmp_path / "run.pid"), "WARM_TEST_MARKER": "m-42", **env}
    return subprocess.Popen([sys.executable, "-S", launch.__file__, str(socket)], cwd=tmp_path, env=run_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _run_pid(tmp_path: Path) -> int:
    deadline = time.monotonic() + 10
    while not (tmp_path / "run.pid").exists() or not (tmp_path / "run.pid").read_text():
        assert time.monotonic() < deadline, "the forked run never started"
        time.sleep(0.02)
    return int((tmp_path / "run.pid").read_text())


def test_the_run_gets_the_launchers_cwd_env_and_stdout_and_its_exit_status_comes_back(
    server: Path, tmp_path: Path
) -> None:
    launcher = _launch(server, tmp_path, WARM_TEST_EXIT="3")
    out, err = launcher.communicate(timeout=20)
    assert launcher.returncode == 3, err
    assert f"cwd={tmp_path} marker=m-42" in out
    assert _run_pid(tmp_path) != launcher.pid  # forked by the server, not the launcher itself


def test_sigterm_to_the_launcher_reaches_the_run_and_is_its_exit_status(server: Path, tmp_path: Path) -> None:
    launcher = _launch(server, tmp_path, WARM_TEST_SLEEP="30")
    run = _run_pid(tmp_path)
    launcher.send_signal(signal.SIGTERM)
    launcher.wait(timeout=10)
    assert launcher.returncode == -signal.SIGTERM
    assert not pid_alive(run)


def test_a_lost_sigterm_is_sent_again(server: Path, tmp_path: Path) -> None:
    launcher = _launch(server, tmp_path, WARM_TEST_SLEEP="30", WARM_TEST_IGNORE_TERMS="1")
    run = _run_pid(tmp_path)
    sent = time.monotonic()
    launcher.send_signal(signal.SIGTERM)
    launcher.wait(timeout=10)
    assert launcher.returncode == 143 and 1.5 < time.monotonic() - sent < 5  # the second SIGTERM ended it
    assert not pid_alive(run)


def test_a_run_that_ignores_sigterm_is_killed_after_8s(server: Path, tmp_path: Path) -> None:
    launcher = _launch(server, tmp_path, WARM_TEST_SLEEP="60", WARM_TEST_IGNORE_TERMS="100")
    run = _run_pid(tmp_path)
    sent = time.monotonic()
    launcher.send_signal(signal.SIGTERM)
    launcher.wait(timeout=20)
    assert launcher.returncode == -signal.SIGKILL and 7.5 < time.monotonic() - sent < 12
    assert not pid_alive(run)


def test_a_killed_launcher_takes_its_run_with_it(server: Path, tmp_path: Path) -> None:
    launcher = _launch(server, tmp_path, WARM_TEST_SLEEP="30")
    run = _run_pid(tmp_path)
    launcher.kill()  # what the worker does after the grace period, or a test killing "the run's PID"
    launcher.wait(timeout=10)
    deadline = time.monotonic() + 10
    while pid_alive(run):
        assert time.monotonic() < deadline, "the run outlived its launcher"
        time.sleep(0.05)


def test_without_a_server_the_launcher_becomes_prefects_own_engine_command(tmp_path: Path) -> None:
    launcher = _launch(tmp_path / "no-such.sock", tmp_path)
    _, err = launcher.communicate(timeout=60)
    # `python -m prefect.engine` with no flow run id: Prefect's own error, from the cold path.
    assert launcher.returncode == 1 and "Invalid flow run id" in err


def test_a_dead_server_takes_its_runs_with_it_and_the_launcher_reports_failure(
    server: Path, server_process: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    launcher = _launch(server, tmp_path, WARM_TEST_SLEEP="30")
    run = _run_pid(tmp_path)
    server_process.kill()
    _, err = launcher.communicate(timeout=10)
    assert launcher.returncode == 1 and "lost the warm server" in err
    deadline = time.monotonic() + 10
    while pid_alive(run):  # the parent-death signal
        assert time.monotonic() < deadline, "the run outlived its warm server"
        time.sleep(0.05)


def test_a_malformed_request_is_refused_and_the_server_keeps_serving(server: Path, tmp_path: Path) -> None:
    import socket as sockets

    for garbage in (b"", b"\x00\x00\x00\x05{", b"no descriptors"):
        with sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM) as client:
            client.connect(str(server))
            client.sendall(garbage)
    launcher = _launch(server, tmp_path, WARM_TEST_EXIT="0")
    out, err = launcher.communicate(timeout=20)
    assert launcher.returncode == 0 and "marker=m-42" in out, err


CREATES_SUB_JOBS = """
import sys
from runtime.warm.server import preload, preload_for
preload(preload_for(sys.argv[1]))
from flows.train_all import FLOWS
from trainyard.params import PARAMS_BY_TYPE
before = set(sys.modules)
for kind, flow in FLOWS.items():  # what creating train-all's sub-job runs does with their parameters
    flow.serialize_parameters({"p": PARAMS_BY_TYPE[kind](dataset="x.csv")})
print(" ".join(sorted(set(sys.modules) - before)))
"""


@pytest.mark.parametrize("pool", ["cpu", "gpu"])
def test_a_forked_run_creating_sub_jobs_imports_nothing_the_warm_server_left_out(pool: str) -> None:
    # Prefect's Flow.serialize_parameters imports FastAPI's encoder on a process's first flow-run
    # creation: 0.48 s of pydantic model building that every train-all run paid before its sub-jobs.
    imported = subprocess.run([sys.executable, "-c", CREATES_SUB_JOBS, pool], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, check=True).stdout.split()  # fmt: skip
    assert imported == []


WARMED_REGISTRY_FORKS = """
import os, sys
from runtime.warm.warmup import WARMUPS
from trainyard.registry import db
WARMUPS["registry"]()
pool = db.get_engine().pool
assert pool.checkedin() == 0 and pool.checkedout() == 0, "a pooled connection would cross the fork"
pid = os.fork()
if pid == 0:  # the forked run: its first registry call reuses the checked schema and opens its own connection
    def checked_again(engine):
        raise AssertionError("schema checked again in the run")
    db._add_new_columns = checked_again
    from trainyard.registry.runs import RunStart, ensure_run
    ensure_run(RunStart(flow_run_id="run-1", model_type="random-forest", parameters={}), started=True)
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status))
"""


def test_the_warmed_registry_is_shared_by_a_forked_run_without_a_connection_crossing_the_fork(tmp_path: Path) -> None:
    env = {**os.environ, "TRAINYARD_ARTIFACTS_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", WARMED_REGISTRY_FORKS], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0 and "child 0" in result.stdout, result.stderr[-3000:]


WARMED_LINEAGE_FORKS = """
import os, subprocess
from runtime.warm.warmup import WARMUPS
from trainyard.lineage import code_version
WARMUPS["lineage"]()
pid = os.fork()
if pid == 0:  # the forked run: persist records the code version without starting git
    def no_process(*args, **kwargs):
        raise AssertionError("the run started a process for its code version")
    subprocess.run = no_process
    code_version()
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status))
"""


def test_a_forked_run_records_its_code_version_without_starting_git() -> None:
    # `git rev-parse HEAD` took ~15 ms of every run's persist step; the warm server's code is one commit.
    result = subprocess.run([sys.executable, "-c", WARMED_LINEAGE_FORKS], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0 and "child 0" in result.stdout, result.stderr[-3000:]
