from collections.abc import Iterator

import pytest
from prefect.logging import disable_run_logger


@pytest.fixture(autouse=True)
def _no_run_logger() -> Iterator[None]:
    """Task functions called through ``.fn()`` log to a null logger instead of needing a run."""
    with disable_run_logger():
        yield
