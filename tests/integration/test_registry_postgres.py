"""The registry's own tests again, on PostgreSQL (Debian's server, started by the ``postgres`` fixture):
what the multi-host setup runs on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Postgres
from tests.unit.test_registry import *  # noqa: F403  (each test runs here again, on PostgreSQL)
from trainyard.registry.db import get_engine
from trainyard.settings import get_settings

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True, scope="module")
def _registry_on_postgres(postgres: Postgres) -> Iterator[None]:
    patch = pytest.MonkeyPatch()
    patch.setenv("TRAINYARD_REGISTRY_URL", postgres.database("registry_tests"))
    get_settings.cache_clear()
    try:
        assert get_engine().dialect.name == "postgresql"
        yield
    finally:
        patch.undo()
        get_settings.cache_clear()
