"""Shared fixtures: an isolated data root and artifacts folder per test session, settings rebuilt."""

from __future__ import annotations

import json
import re
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


TOKEN_SHAPE = re.compile(rb"(?<![0-9a-f])[0-9a-f]{40}(?![0-9a-f])")  # secrets.token_hex(20), as issue_token makes
LOG_SUFFIXES = {".log", ".db", ".db-wal", ".out", ".err"}


@pytest.fixture(scope="session", autouse=True)
def _no_token_in_any_log(sandbox: Path, _isolated_settings: None) -> Iterator[None]:
    """After the whole run, no log file (the stack's process logs, flow runs' own, Prefect's database with its
    run logs) holds a token: every token issued in this process, and every one the registry holds at the end
    (the API's logins, the CLI's), is looked for by its sha256."""
    from sqlalchemy import event, select

    from trainyard.registry.db import session_scope
    from trainyard.registry.models import ApiToken

    issued: set[str] = set()

    def remember(_mapper: object, _connection: object, token: ApiToken) -> None:
        issued.add(token.token_sha256)

    event.listen(ApiToken, "before_insert", remember)
    yield
    event.remove(ApiToken, "before_insert", remember)
    with session_scope() as session:
        issued |= set(session.scalars(select(ApiToken.token_sha256)))
    leaks = tokens_in_logs(sandbox, issued)
    assert not leaks, leaks


def tokens_in_logs(root: Path, digests: set[str]) -> list[str]:
    """``path: token sha256 prefix`` for each token (known by its digest) written in a log file under ``root``."""
    from trainyard.registry.auth import token_digest

    leaks = []
    for path in root.rglob("*"):
        if path.suffix in LOG_SUFFIXES and path.is_file():
            found = {match.decode() for match in TOKEN_SHAPE.findall(path.read_bytes())}
            leaks += [f"{path}: token sha256 {token_digest(t)[:12]}…" for t in sorted(found)
                      if token_digest(t) in digests]  # fmt: skip
    return leaks


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
