"""`dev.py up` / `trainyard up` as a user runs them: Ctrl-C or SIGTERM stops every process they started
(each stop one line, no traceback), SIGKILL of `up` takes its children with it, a port another process
holds is refused with a clear error, and so is a second stack on the same artifacts directory."""

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

from runtime.processes import free_port, port_holder
from trainyard.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration
TRAINYARD = Path(sys.executable).parent / "trainyard"


def _env(artifacts: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return {**env, "TRAINYARD_ARTIFACTS_DIR": str(artifacts)}


def _start_up(args: list[str], artifacts: Path, log: Path) -> subprocess.Popen:
    """``up`` with ``args``, its output in ``log``; returns once it says the stack is up."""
    with open(log, "wb") as out:
        up = subprocess.Popen(args, cwd=PROJECT_ROOT, env=_env(artifacts), stdout=out, stderr=out)
    deadline = time.monotonic() + 240
    while b"stack is up" not in log.read_bytes():
        if up.poll() is not None or time.monotonic() > deadline:
            up.kill()
            raise AssertionError(log.read_text()[-3000:])
        time.sleep(0.5)
    return up


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _tracebacks(logs: Path) -> dict[str, str]:
    """Each log under ``logs`` that holds a traceback, with its end."""
    found = {}
    for log in logs.glob("*.log"):
        text = log.read_text(errors="replace")
        if "Traceback" in text or "KeyboardInterrupt" in text:
            found[log.name] = text[-1500:]
    return found


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
    up = _start_up(args, tmp_path / "artifacts", log)
    try:
        started = psutil.Process(up.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in started)
        assert "runtime.prefect_server" in names and "runtime.worker" in names and "uvicorn" in names, names
        assert "runtime.warm.server" in names, names
        children = psutil.Process(up.pid).children()

        up.send_signal(signum)
        assert up.wait(timeout=90) == 0, log.read_text()[-3000:]
        alive = _alive(started)
        assert not alive, f"left behind: {[(p.pid, p.cmdline()) for p in alive]}"
        assert all(port_holder(port) is None for port in ports), [port_holder(port) for port in ports]
        # A clean stop: one line per process in up's output, and no traceback in any process's log.
        output = log.read_text()
        for child in children:
            assert output.count(f"(pid {child.pid}): ") == 1, output[-3000:]
        assert not _tracebacks(tmp_path / "artifacts" / "logs")
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


def test_one_artifacts_directory_one_stack_and_a_killed_up_takes_its_children_along(tmp_path: Path) -> None:
    artifacts, first_ports = tmp_path / "artifacts", [free_port(), free_port()]
    third: subprocess.Popen | None = None
    first = _start_up([str(TRAINYARD), "up", "--no-train", "--prefect-port", str(first_ports[0]), "--api-port",
                       str(first_ports[1])], artifacts, tmp_path / "first.log")  # fmt: skip
    try:
        started = psutil.Process(first.pid).children(recursive=True)
        # A second `up` on the same checkout and store, on free ports: refused before it starts anything.
        second = subprocess.Popen([str(TRAINYARD), "up", "--no-train", "--artifacts", str(artifacts),
                                   "--prefect-port", str(free_port()), "--api-port", str(free_port())],
                                  cwd=PROJECT_ROOT, env=_env(tmp_path / "elsewhere"), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)  # fmt: skip
        out, err = second.communicate(timeout=60)
        assert second.returncode == 1, out + err
        assert f"in use by the stack of pid {first.pid} (Prefect :{first_ports[0]}, API :{first_ports[1]}" in err, err
        assert "--artifacts" in err, err
        assert not any(f"by pid {second.pid} ----" in log.read_text() for log in (artifacts / "logs").glob("*.log"))

        # SIGKILL (the OOM killer): nothing may live on holding the ports.
        first.kill()
        first.wait(timeout=10)
        deadline = time.monotonic() + 30
        while _alive(started) and time.monotonic() < deadline:
            time.sleep(0.2)
        alive = _alive(started)
        assert not alive, f"outlived up: {[(p.pid, p.cmdline()) for p in alive]}"
        assert all(port_holder(port) is None for port in first_ports), [port_holder(p) for p in first_ports]

        # The dead stack's lock is taken over by the next `up` on the store.
        third = _start_up([str(TRAINYARD), "up", "--no-train", "--prefect-port", str(first_ports[0]), "--api-port",
                           str(first_ports[1])], artifacts, tmp_path / "third.log")  # fmt: skip
        third.send_signal(signal.SIGTERM)
        assert third.wait(timeout=90) == 0
        assert f"the stack of pid {first.pid} (Prefect :{first_ports[0]}" in (tmp_path / "third.log").read_text()
    finally:
        for process in (first, third):
            if process is not None and process.poll() is None:
                process.kill()


def test_a_schedule_declared_in_a_spec_survives_a_restart_of_up_and_a_pause_made_in_prefect_too(
    tmp_path: Path,
) -> None:
    """Declared in a registered table's spec: deployed by `up`; paused in Prefect (as the UI's toggle does),
    it stays paused through a restart and the spec says so; one added while the stack was down is deployed
    by the next `up`."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from deployments.schedules import held_schedules
    from tests.fits import unseen_table
    from trainyard.datasets.infer import infer_spec
    from trainyard.datasets.spec import dump, parse

    artifacts, datasets, ports = tmp_path / "artifacts", tmp_path / "datasets", [free_port(), free_port()]
    datasets.mkdir()
    spec_file = datasets / "rota.yaml"
    spec_file.write_text(dump(infer_spec(unseen_table(), "rota", "rota.csv", "needs_review"))
                         + 'schedules:\n  - {cron: "0 1 * * *", families: [xgboost, random-forest], promote: true}\n')
    nightly = parse(spec_file.read_text()).schedules
    env = {**_env(artifacts), "TRAINYARD_DATASETS_DIR": str(datasets)}
    args = [str(TRAINYARD), "up", "--no-train", "--prefect-port", str(ports[0]), "--api-port", str(ports[1])]

    def held() -> dict:
        with temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{ports[0]}/api"}), \
                get_client(sync_client=True) as client:  # fmt: skip
            return {k: v for k, v in held_schedules(client).items() if k.startswith("rota.")}

    def start(log: Path) -> subprocess.Popen:
        with open(log, "wb") as out:
            up = subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=out)
        deadline = time.monotonic() + 240
        while b"stack is up" not in log.read_bytes():
            if up.poll() is not None or time.monotonic() > deadline:
                up.kill()
                raise AssertionError(log.read_text()[-3000:])
            time.sleep(0.5)
        return up

    first = start(tmp_path / "first.log")
    try:
        found = held()
        assert set(found) == {s.id for s in nightly}, found
        assert all(h.active and h.cron == "0 1 * * *" for h in found.values())
        paused = found[nightly[0].id]
        with temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{ports[0]}/api"}), \
                get_client(sync_client=True) as client:  # fmt: skip
            client.update_deployment_schedule(paused.deployment_id, paused.schedule_id, active=False)
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=90) == 0
    finally:
        if first.poll() is None:
            first.kill()

    # While the stack is down: the command line writes the spec alone.
    added = subprocess.run([str(TRAINYARD), "schedules", "add", "lightgbm", "--dataset", "rota", "--cron",
                            "0 4 * * *"], env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert added.returncode == 0 and "deployed by the next `trainyard up`" in added.stdout, added.stdout + added.stderr

    second = start(tmp_path / "second.log")
    try:
        found = held()
        assert len(found) == 3 and any(h.deployment == "train-lightgbm/lightgbm" for h in found.values()), found
        assert found[nightly[0].id].active is False and found[nightly[1].id].active is True
        declared = {s.id: s for s in parse(spec_file.read_text()).schedules}
        assert declared[nightly[0].id].active is False, spec_file.read_text()  # the pause is written to the spec
        assert f"schedule {nightly[0].id}: paused/resumed in Prefect" in (tmp_path / "second.log").read_text()
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=90) == 0
    finally:
        if second.poll() is None:
            second.kill()
