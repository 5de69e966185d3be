"""Shared fixtures: an isolated data root and artifacts folder per test session, settings rebuilt."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

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
