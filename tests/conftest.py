"""Shared fixtures: an isolated data root and artifacts folder per test session, settings rebuilt."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.services import Postgres, S3Endpoint, running_postgres, running_s3
from trainyard.settings import PROJECT_ROOT, get_settings


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding copies of the committed samples, and an empty artifacts folder."""
    root = tmp_path_factory.mktemp("trainyard")
    shutil.copytree(PROJECT_ROOT / "data", root / "data", ignore=shutil.ignore_patterns("*.py", "README*"))
    (root / "artifacts").mkdir()
    (root / "datasets").mkdir()  # the specs `trainyard datasets add` writes in tests; the built-ins stay in the repo
    return root


@pytest.fixture(scope="session", autouse=True)
def _isolated_settings(sandbox: Path) -> Iterator[None]:
    patch = pytest.MonkeyPatch()
    patch.setenv("TRAINYARD_DATA_ROOTS", f'["{sandbox / "data"}"]')
    patch.setenv("TRAINYARD_ARTIFACTS_DIR", str(sandbox / "artifacts"))
    patch.setenv("TRAINYARD_DATASETS_DIR", str(sandbox / "datasets"))
    get_settings.cache_clear()
    yield
    patch.undo()
    get_settings.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def _shipped_specs_unchanged() -> Iterator[None]:
    """The repo's own dataset specs come out of the session as they went in: a test that writes them (a schedule
    added, paused or removed on a shipped table) must work on a copy. Restored, then reported, if one did not."""
    from trainyard.datasets.registry import BUILTIN_DIR

    before = {path: path.read_bytes() for path in BUILTIN_DIR.glob("*.yaml")}
    yield
    changed = sorted(str(path) for path, text in before.items() if not path.is_file() or path.read_bytes() != text)
    for path, text in before.items():
        path.write_bytes(text)
    assert not changed, f"the tests rewrote the shipped specs {changed} (restored now)"


@pytest.fixture(scope="session")
def s3_endpoint(sandbox: Path) -> Iterator[S3Endpoint]:
    """Started on first use; its credentials and region set as the AWS_* variables, as a user sets them."""
    with running_s3(sandbox / "moto.log") as endpoint:
        patch = pytest.MonkeyPatch()
        for name, value in endpoint.env.items():
            patch.setenv(name, value)
        try:
            yield endpoint
        finally:
            patch.undo()


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


@pytest.fixture(scope="session")
def postgres(sandbox: Path) -> Iterator[Postgres]:
    """Started on first use, in a fresh data directory."""
    with running_postgres(sandbox / "postgres.log") as server:
        yield server
