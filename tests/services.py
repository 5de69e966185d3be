"""Real servers on 127.0.0.1 for the multi-host tests and benchmarks: an S3-compatible store (moto's
standalone server, standing in for S3 or MinIO) and PostgreSQL (Debian's package). Nothing in the
product imports this: it reaches them as any S3 endpoint and database, by URL."""

from __future__ import annotations

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

from runtime.processes import free_port, spawn, stop, wait_http

S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    env: dict[str, str]  # the AWS_* variables a client of it needs

    def bucket(self, name: str) -> str:
        """Create bucket ``name`` (if new); its s3:// URL."""
        import s3fs

        fs = s3fs.S3FileSystem(endpoint_url=self.url, key="testing", secret="testing", skip_instance_cache=True)
        if not fs.exists(name):
            fs.mkdir(name)
        return f"s3://{name}"


@contextmanager
def running_s3(log: Path) -> Iterator[S3Endpoint]:
    port = free_port()
    server = spawn([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], os.environ, log)
    try:
        wait_http(f"http://127.0.0.1:{port}/moto-api/", timeout=60, process=server, log_file=log)
        yield S3Endpoint(url=f"http://127.0.0.1:{port}", env=dict(S3_CREDENTIALS))
    finally:
        stop(server)


@dataclass(frozen=True)
class Postgres:
    """Trust auth for user ``trainyard`` on 127.0.0.1 only."""

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


def postgres_bin() -> Path:
    """Debian's PostgreSQL binaries (installed with apt-get when missing and this is root)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not found and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=True, env=env,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (as root)")
    return found[-1].parent


@contextmanager
def running_postgres(log: Path, timeout: float = 60) -> Iterator[Postgres]:
    """A fresh cluster in a temp directory, run as the ``postgres`` user when this is root."""
    import psycopg

    bindir = postgres_bin()
    data = Path(tempfile.mkdtemp(prefix="trainyard-pg-"))
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(data, "postgres", "postgres")
    server = None
    try:
        subprocess.run([*as_user, bindir / "initdb", "-D", data, "-U", "trainyard", "--auth=trust", "--no-sync"],
                       check=True, capture_output=True)  # fmt: skip
        running = Postgres(free_port())
        args = [*as_user, str(bindir / "postgres"), "-D", str(data), "-p", str(running.port), "-h", "127.0.0.1",
                "-k", str(data), "-c", "fsync=off", "-c", "max_connections=300"]  # fmt: skip
        server = spawn(args, {}, log)
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(running.url("postgres", "postgresql"), connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.3)
        yield running
    finally:
        if server is not None:
            stop(server)
        shutil.rmtree(data, ignore_errors=True)
