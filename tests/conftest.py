"""Shared fixtures: an isolated data root and artifacts folder per test session, settings rebuilt."""

from __future__ import annotations

import json
import os
import shutil
import sys
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
