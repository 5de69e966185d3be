"""Shared fixtures: an isolated data root and artifacts folder per test session, settings rebuilt."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from trainyard.processes import free_port, spawn, stop, wait_http
from trainyard.settings import PROJECT_ROOT, get_settings


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding copies of the committed samples, and an empty artifacts folder."""
    root = tmp_path_factory.mktemp("trainyard")
    shutil.copytree(PROJECT_ROOT / "data", root / "data", ignore=shutil.ignore_patterns("*.py", "README*"))
    (root / "artifacts").mkdir()
    return root


@pytest.fixture(scope="session", autouse=True)
def _isolated_settings(sandbox: Path) -> Iterator[None]:
    patch = pytest.MonkeyPatch()
    patch.setenv("TRAINYARD_DATA_ROOTS", f'["{sandbox / "data"}"]')
    patch.setenv("TRAINYARD_ARTIFACTS_DIR", str(sandbox / "artifacts"))
    get_settings.cache_clear()
    yield
    patch.undo()
    get_settings.cache_clear()


@dataclass(frozen=True)
class S3Endpoint:
    """A local S3-compatible server (moto's standalone server on 127.0.0.1), standing in for S3 or MinIO."""

    url: str
    env: dict[str, str]

    def bucket(self, name: str) -> str:
        """Create bucket ``name`` (if new); its s3:// URL."""
        import s3fs

        fs = s3fs.S3FileSystem(endpoint_url=self.url, key="testing", secret="testing", skip_instance_cache=True)
        if not fs.exists(name):
            fs.mkdir(name)
        return f"s3://{name}"


@pytest.fixture(scope="session")
def s3_endpoint(sandbox: Path) -> Iterator[S3Endpoint]:
    """Started on first use; credentials and region through the AWS_* variables, as a user sets them."""
    port = free_port()
    log = sandbox / "moto.log"
    server = spawn([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], os.environ, log)
    endpoint = S3Endpoint(
        url=f"http://127.0.0.1:{port}",
        env={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"},
    )
    patch = pytest.MonkeyPatch()
    try:
        wait_http(f"{endpoint.url}/moto-api/", timeout=60, process=server, log_file=log)
        for name, value in endpoint.env.items():
            patch.setenv(name, value)
        yield endpoint
    finally:
        patch.undo()
        stop(server)


@contextmanager
def artifacts_at(url: str, options: dict[str, str]) -> Iterator[None]:
    """This process's settings with the artifact store at ``url`` for the block's duration."""
    patch = pytest.MonkeyPatch()
    patch.setenv("TRAINYARD_ARTIFACTS_URL", url)
    patch.setenv("TRAINYARD_ARTIFACTS_OPTIONS", json.dumps(options))
    get_settings.cache_clear()
    try:
        yield
    finally:
        patch.undo()
        get_settings.cache_clear()


@dataclass(frozen=True)
class Postgres:
    """A PostgreSQL server of Debian's package on 127.0.0.1 (trust auth, user ``trainyard``)."""

    port: int

    def database(self, name: str, driver: str = "psycopg") -> str:
        """Create database ``name`` (if new); its SQLAlchemy URL with ``driver``."""
        import psycopg

        with psycopg.connect(self.url("postgres", "postgresql"), autocommit=True) as connection:
            if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name, f"postgresql+{driver}")

    def url(self, name: str, scheme: str) -> str:
        return f"{scheme}://trainyard@127.0.0.1:{self.port}/{name}"


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not found and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=True, env=env,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not found:
        pytest.fail("PostgreSQL is not installed: apt-get install postgresql (as root)")
    return found[-1].parent


@pytest.fixture(scope="session")
def postgres(sandbox: Path) -> Iterator[Postgres]:
    """Started on first use, in a fresh data directory; as the ``postgres`` user when this is root."""
    bindir = _postgres_bin()
    data = Path(tempfile.mkdtemp(prefix="trainyard-pg-"))
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(data, "postgres", "postgres")
    subprocess.run([*as_user, bindir / "initdb", "-D", data, "-U", "trainyard", "--auth=trust", "--no-sync"],
                   check=True, capture_output=True)  # fmt: skip
    port = free_port()
    log = sandbox / "postgres.log"
    server = spawn([*as_user, str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1",
                    "-k", str(data), "-c", "fsync=off", "-c", "max_connections=300"], {}, log)  # fmt: skip
    running = Postgres(port)
    try:
        _wait_for_postgres(running, server, log)
        yield running
    finally:
        stop(server)
        shutil.rmtree(data, ignore_errors=True)


def _wait_for_postgres(running: Postgres, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(running.url("postgres", "postgresql"), connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"PostgreSQL did not start: {log.read_text()[-2000:] if log.exists() else ''}")
            time.sleep(0.3)
