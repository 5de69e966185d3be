"""`dev.py up` / `trainyard up` as a user runs them: Ctrl-C or SIGTERM stops every process they started,
and a port another process holds is refused with a clear error, not silently reused."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from trainyard.processes import free_port, port_holder
from trainyard.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration
TRAINYARD = Path(sys.executable).parent / "trainyard"


def _env(artifacts: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return {**env, "TRAINYARD_ARTIFACTS_DIR": str(artifacts)}


@pytest.mark.parametrize(
    ("command", "signum"),
    [
        ([sys.executable, str(PROJECT_ROOT / "dev.py"), "up"], signal.SIGINT),  # Ctrl-C in the README's command
        ([str(TRAINYARD), "up"], signal.SIGTERM),
    ],
    ids=["dev.py-up-SIGINT", "trainyard-up-SIGTERM"],
)
def test_a_signal_to_up_stops_every_process_it_started(tmp_path: Path, command: list[str], signum: int) -> None:
    ports = [free_port(), free_port()]
    log = tmp_path / "up.log"
    args = [*command, "--no-train", "--prefect-port", str(ports[0]), "--api-port", str(ports[1])]
    with open(log, "wb") as out:
        up = subprocess.Popen(args, cwd=PROJECT_ROOT, env=_env(tmp_path / "artifacts"), stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 240
        while b"stack is up" not in log.read_bytes():
            assert up.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        started = psutil.Process(up.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in started)
        assert "trainyard.prefect_server" in names and "trainyard.worker" in names and "uvicorn" in names, names
        assert "trainyard.warm.server" in names, names

        up.send_signal(signum)
        assert up.wait(timeout=90) == 0, log.read_text()[-3000:]
        alive = [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert not alive, f"left behind: {[(p.pid, p.cmdline()) for p in alive]}"
        assert all(port_holder(port) is None for port in ports), [port_holder(port) for port in ports]
    finally:
        if up.poll() is None:
            up.kill()


def test_up_refuses_a_port_another_process_holds(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = subprocess.run([str(TRAINYARD), "up", "--no-train", "--prefect-port", str(port)],
                                cwd=PROJECT_ROOT, env=_env(tmp_path / "artifacts"), capture_output=True, text=True,
                                timeout=60)  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"port {port}" in result.stderr and f"pid {os.getpid()}" in result.stderr, result.stderr
    assert "--prefect-port" in result.stderr
    assert not (tmp_path / "artifacts" / "logs" / "prefect-server.log").exists(), "nothing may start"
