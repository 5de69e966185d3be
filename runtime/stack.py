"""The local stack behind `trainyard up`: Prefect server, work pools, deployments, workers, the API."""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from runtime import prefect_server
from runtime.crash_watch import ensure_automation, heartbeat_env
from runtime.processes import port_holder, spawn, stop, stop_all, wait_http
from runtime.result_storage import result_storage_env, save_result_storage_block
from runtime.store_lock import FileLock, LockHeld, describe
from runtime.supervisor import Supervisor
from trainyard.artifact_store import get_store
from trainyard.settings import PROJECT_ROOT, get_settings

logger = logging.getLogger(__name__)
BIN = Path(sys.executable).parent
POOLS = ("cpu", "gpu")
# Host variables a run in a container gets: plain ones as they are; credentials through Prefect Secret
# blocks that the Docker worker resolves when it starts the container, so that the pool's template (shown
# in the Prefect UI) holds a reference, never the secret.
CONTAINER_PLAIN = ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL")
CONTAINER_SECRETS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def secret_block_name(variable: str) -> str:
    return "trainyard-" + variable.lower().replace("_", "-")


def save_container_secrets() -> None:
    """The credentials of CONTAINER_SECRETS this host has, as Prefect Secret blocks (obfuscated in Prefect's
    API and UI) that the Docker pools' template refers to."""
    from prefect.blocks.system import Secret

    for name in CONTAINER_SECRETS:
        if name in os.environ:
            Secret(value=os.environ[name]).save(secret_block_name(name), overwrite=True)


@dataclass
class Stack:
    """Child processes of one local stack; ``stop()`` ends them in reverse order of start."""

    prefect_port: int = 4200
    api_port: int = 8000
    workers_per_pool: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    # "process": runs are processes on this host (warm-started); "docker": each run is a container of
    # ``image`` started by a Prefect Docker worker, sharing nothing with this host but its network.
    pools: Literal["process", "docker"] = "process"
    image: str = "trainyard:latest"
    processes: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    _runtime_dir: Path | None = field(default=None, init=False, repr=False)
    # Guards ``processes``: the supervisor's thread restarts children while tests restart others.
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)
    _supervisor: Supervisor | None = field(default=None, init=False, repr=False)
    _child_env: dict[str, dict[str, str]] = field(default_factory=dict, init=False, repr=False)
    _store_lock: FileLock | None = field(default=None, init=False, repr=False)

    @property
    def home(self) -> Path:
        return get_settings().artifacts_dir / "prefect-home"

    @property
    def logs(self) -> Path:
        return get_settings().artifacts_dir / "logs"

    @property
    def prefect_api_url(self) -> str:
        return f"http://127.0.0.1:{self.prefect_port}/api"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        """Environment shared by every child: one PREFECT_HOME, one result store beside the stage store."""
        return {
            "TRAINYARD_ARTIFACTS_DIR": str(get_settings().artifacts_dir),
            "PREFECT_HOME": str(self.home),
            "PREFECT_API_URL": self.prefect_api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            **result_storage_env(get_store()),
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            # Off by default in Prefect: the API's status cache drops a run's logs when they stream in.
            "PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED": "true",
            "PREFECT_SERVER_LOGS_STREAM_PUBLISHING_ENABLED": "true",
            # Runs ship their logs in batches (Prefect's default: every 2 s); status shows them sooner.
            "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.5",
            "PREFECT_UI_URL": f"http://127.0.0.1:{self.prefect_port}",
            "TRAINYARD_PREFECT_UI_URL": f"http://127.0.0.1:{self.prefect_port}",
            "TRAINYARD_PROJECT_ROOT": str(PROJECT_ROOT),
            "TRAINYARD_RUN_OUTPUT_DIR": str(self.logs / "runs"),
            **self.extra_env,
        }

    def container_env(self) -> dict[str, str]:
        """What a run in a container needs to reach this stack's shared parts: the object store, the
        registry and Prefect's result storage (the worker adds PREFECT_API_URL itself)."""
        settings = get_settings()
        if get_store().is_local or settings.registry_url is None or settings.registry_url.startswith("sqlite"):
            raise ValueError(
                "Docker pools share no filesystem with this host: set TRAINYARD_ARTIFACTS_URL to an object store "
                "(s3://...) and TRAINYARD_REGISTRY_URL to a PostgreSQL database first (docs/scaling.md)"
            )
        passed = {name: os.environ[name] for name in CONTAINER_PLAIN if name in os.environ}
        passed |= {name: "{{ prefect.blocks.secret.%s }}" % secret_block_name(name)  # noqa: UP031 (Jinja braces)
                   for name in CONTAINER_SECRETS if name in os.environ}  # fmt: skip
        return {
            **passed,
            **result_storage_env(get_store()),
            "TRAINYARD_ARTIFACTS_URL": get_store().root,
            "TRAINYARD_ARTIFACTS_OPTIONS": json.dumps(settings.artifacts_options),
            "TRAINYARD_REGISTRY_URL": settings.registry_url,
            "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.5",
            "PREFECT_HOME": "/tmp/prefect-home",  # the worker's own (a path on this host) would be passed on
            **heartbeat_env(),  # a run whose host is lost with its worker is Crashed by runtime.crash_watch
        }

    def warm_socket(self, pool: str) -> Path | None:
        """The pool's warm-server socket, or None when warm start is off.

        In a fresh private (0700) directory under the system temp dir: Unix socket paths are capped
        at ~100 bytes, which a deep artifacts dir would exceed.
        """
        if not get_settings().warm_start or self.pools != "process":
            return None
        if self._runtime_dir is None:
            self._runtime_dir = Path(tempfile.mkdtemp(prefix="trainyard-"))
        return self._runtime_dir / f"warm-{pool}.sock"

    def flow_run_commands(self) -> dict[str, str]:
        """Each pool's flow-run command: the launcher, pointed at the pool's warm server when there is one
        (it also gives each run its own output file, so a run never writes to its worker's pipe)."""
        from runtime.warm import launch

        commands = {}
        for pool in POOLS:
            socket = self.warm_socket(pool)
            commands[pool] = shlex.join([sys.executable, "-S", launch.__file__, *([str(socket)] if socket else [])])
        return commands

    def check_ports(self) -> None:
        """Refuse to start over a port another process holds (an old stack's server would be reused)."""
        for what, port, option in (("Prefect server", self.prefect_port, "--prefect-port"),
                                   ("trainyard API", self.api_port, "--api-port")):  # fmt: skip
            if (holder := port_holder(port)) is not None:
                raise PortInUse(f"port {port} for the {what} is in use by {holder}: stop it, or pick another "
                                f"port with {option}")  # fmt: skip

    def claim_store(self) -> None:
        """Hold this host's artifacts directory for this stack until ``stop()`` (or this process's death).

        Two stacks on one directory would share its Prefect database, registry and logs: refused
        (``StoreInUse``, naming the holder) before anything starts. A dead holder's lock is taken over.
        """
        artifacts = get_settings().artifacts_dir
        lock = FileLock(artifacts / "stack.lock")
        try:
            previous = lock.acquire(prefect_port=self.prefect_port, api_port=self.api_port, pools=self.pools)
        except LockHeld as held:
            raise StoreInUse(
                f"the artifacts directory {artifacts} is in use by the stack of {describe(held.holder)}: stop it "
                "first, or run a second stack on a store of its own: trainyard up --artifacts <another directory> "
                "--prefect-port <port> --api-port <port>"
            ) from None
        if previous is not None:
            logger.warning("the stack of %s ended without stopping; taking its artifacts directory over",
                           describe(previous))  # fmt: skip
        self._store_lock = lock

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        # Every child dies with this process (SIGTERM), even when it is killed with SIGKILL.
        return spawn(args, {**self.env(), **env}, self.logs / f"{name}.log", cwd=PROJECT_ROOT, name=name,
                     die_with_me=True)  # fmt: skip

    def _start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        process = self._spawn(name, args, env or {})
        with self._lock:
            self.processes.append((name, process))
            self._child_env[name] = env or {}
        logger.info("started %s (pid %d, log %s)", name, process.pid, self.logs / f"{name}.log")
        return process

    def start_server(self, timeout: float = 180) -> None:
        # `prefect server start`, with trainyard's server-side patch
        server = self._start("prefect-server", prefect_server.command(self.prefect_port))
        wait_http(f"{self.prefect_api_url}/health", timeout, process=server, log_file=self.logs / "prefect-server.log")

    def create_pools(self) -> None:
        from prefect import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from deployments.pools import docker_pools, ensure_pool, local_pools

        with temporary_settings(updates={PREFECT_API_URL: self.prefect_api_url}), get_client(sync_client=True) as c:
            if self.pools == "docker":
                specs = docker_pools(self.container_env(), self.image, cpu_limit=2, gpu_limit=2)
            else:
                specs = local_pools(env={}, cpu_limit=2, gpu_limit=2, commands=self.flow_run_commands())
            for spec in specs:
                ensure_pool(c, spec)
            if self.pools == "docker":
                ensure_automation()
                save_container_secrets()
            save_result_storage_block(get_store(), get_settings().artifacts_options)

    def deploy(self) -> None:
        """`prefect deploy --all` from prefect.yaml, with the stack's environment."""
        # The deployments' pull step enters TRAINYARD_PROJECT_ROOT: the image's /app for containers.
        root = {"TRAINYARD_PROJECT_ROOT": "/app"} if self.pools == "docker" else {}
        result = subprocess.run(
            [str(BIN / "prefect"), "--no-prompt", "deploy", "--all"],
            cwd=PROJECT_ROOT, env={**os.environ, **self.env(), **root}, capture_output=True, text=True,
        )  # fmt: skip
        (self.logs / "deploy.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise RuntimeError(f"prefect deploy failed (see {self.logs / 'deploy.log'}):\n{result.stderr[-2000:]}")
        self.sync_schedules()

    def sync_schedules(self) -> None:
        """Put the schedules the dataset specs declare on the deployments (deployments.schedules.sync)."""
        from prefect import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from deployments.schedules import sync
        from trainyard.errors import TrainyardError

        try:
            with temporary_settings(updates={PREFECT_API_URL: self.prefect_api_url}), \
                    get_client(sync_client=True) as client:  # fmt: skip
                report = sync(client)
        except TrainyardError as exc:  # a spec file that does not parse: the stack comes up, nothing is removed
            logger.error("the datasets' schedules were not synced to Prefect: %s", exc)
            return
        for line in report.lines():
            logger.info("%s", line)
        for schedule_id, problem in report.problems.items():
            logger.warning("schedule %s not deployed: %s", schedule_id, problem)

    def start_warm_servers(self) -> None:
        """Each pool's warm server, when warm start is on (idempotent). Preloading takes ~9 s: start them
        first, beside the Prefect server; until a server listens, its pool's runs start cold."""
        started = {name for name, _ in self.processes}
        sockets = {pool: self.warm_socket(pool) for pool in POOLS if f"warm-{pool}" not in started}
        starting = {pool: socket for pool, socket in sockets.items() if socket is not None}
        if starting:
            from runtime.warm.server import preload_for
            from trainyard.registry.db import get_engine

            # Each warm server opens the registry while it warms up: its tables are made here first, so
            # the servers and the API never race to create them on a new database.
            get_engine().dispose()
        for pool, socket in starting.items():
            modules = preload_for(pool)
            if not get_store().is_local:  # its client library, imported once per server, not per run
                modules = (*modules, "s3fs")
            self._start(f"warm-{pool}", [sys.executable, "-m", "runtime.warm.server", str(socket), *modules])

    def start_workers(self) -> None:
        """The pools' workers (and their warm servers, if not started yet)."""
        self.start_warm_servers()
        for pool in POOLS:
            for index in range(self.workers_per_pool):
                if self.pools == "docker":
                    docker_worker = [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--type", "docker",
                                     "--name", f"{pool}-{index}"]  # fmt: skip
                    self._start(f"worker-{pool}-{index}", docker_worker)
                    continue
                self._start(
                    f"worker-{pool}-{index}",
                    # Prefect's process worker, woken by the run's Scheduled event (runtime/worker.py).
                    [sys.executable, "-m", "runtime.worker", "--pool", pool, "--name", f"{pool}-{index}"],
                )  # fmt: skip

    def start_api(self, timeout: float = 180, *, name: str = "api", port: int | None = None,
                  env: dict[str, str] | None = None, workers: int | None = None) -> str:  # fmt: skip
        """Start an API process (``name``/``port``/``env`` start extra ones, e.g. for tests) with ``workers``
        uvicorn worker processes (the settings' ``api_workers`` by default); its base URL."""
        port = port or self.api_port
        # Keep-alive longer than uvicorn's 5 s default: clients reusing a pooled connection the
        # server has just closed get a reset (seen in bench/concurrency.py).
        args = [str(BIN / "uvicorn"), "api.main:app", "--host", "127.0.0.1", "--port", str(port),
                "--timeout-keep-alive", "30", "--workers", str(workers or get_settings().api_workers)]  # fmt: skip
        process = self._start(name, args, env)
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/health", timeout, process=process, log_file=self.logs / f"{name}.log")
        return url

    def restart(self, name: str) -> None:
        """Start a stopped or killed child again with its original command line."""
        with self._lock:
            for known, process in self.processes:
                if known == name:
                    stop(process, grace=2)
                    self.respawn(name, process.pid)
                    return
        raise KeyError(name)

    def stop_child(self, name: str) -> None:
        """Stop one child for good: it leaves the stack first, so the supervisor does not restart it."""
        with self._lock:
            process = next(p for known, p in self.processes if known == name)
            self.processes.remove((name, process))
        stop(process, grace=5)

    def dead_children(self) -> list[tuple[str, int, int]]:
        """(name, pid, exit code) of every child that has exited."""
        with self._lock:
            return [(n, p.pid, p.returncode) for n, p in self.processes if p.poll() is not None]

    def respawn(self, name: str, dead_pid: int) -> int | None:
        """Start ``name`` again if ``dead_pid`` is still its process (not already replaced); the new PID."""
        with self._lock:
            for index, (known, process) in enumerate(self.processes):
                if known == name and process.pid == dead_pid:
                    # Its process group is left alone: a dead worker's group still holds the runs it
                    # launched, which train on and report by themselves.
                    args = [str(a) for a in process.args]  # type: ignore[union-attr]
                    fresh = self._spawn(name, args, self._child_env.get(name, {}))
                    self.processes[index] = (name, fresh)
                    return fresh.pid
        return None

    def supervise(self) -> None:
        """Restart any child that dies from now on (with backoff), until ``stop()``."""
        if self._supervisor is None:
            self._supervisor = Supervisor(self)
            self._supervisor.start()

    def stop(self) -> None:
        """API and workers first (together), the server last, so workers can still report to it."""
        if self._supervisor is not None:
            self._supervisor.stop()
            self._supervisor = None
        with self._lock:
            server = [p for name, p in self.processes if name == "prefect-server"]
            stop_all([p for name, p in self.processes if name != "prefect-server"], grace=10)
            stop_all(server, grace=10)
            for name, process in self.processes:
                code = process.returncode
                how = f"on {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
                logger.info("stopped %s (pid %d): %s", name, process.pid, how)
            self.processes.clear()
        if self._runtime_dir is not None:
            shutil.rmtree(self._runtime_dir, ignore_errors=True)
            self._runtime_dir = None
        if self._store_lock is not None:
            self._store_lock.release()
            self._store_lock = None


class PortInUse(RuntimeError):
    """A port the stack needs is taken by another process."""


class StoreInUse(RuntimeError):
    """Another live stack holds the artifacts directory."""


def running_stack() -> dict[str, Any] | None:
    """What the stack holding this host's artifacts directory wrote into its lock (ports, pools), or None."""
    from runtime.store_lock import holder

    return holder(get_settings().artifacts_dir / "stack.lock")


def running_prefect_api_url() -> str | None:
    """The Prefect API a command on this host should talk to: PREFECT_API_URL when set, else the one of the
    stack holding this host's artifacts directory (its lock file names its port), else None."""
    from prefect.settings import PREFECT_API_URL

    if configured := PREFECT_API_URL.value():
        return configured
    record = running_stack()
    if record and record.get("prefect_port"):
        return f"http://127.0.0.1:{record['prefect_port']}/api"
    return None
