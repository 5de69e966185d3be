"""Retry policy for I/O tasks: retry transient failures, never errors about the input itself."""

from __future__ import annotations

from typing import Any

from trainyard.errors import DETERMINISTIC_ERRORS


def retry_unless_deterministic(_task: Any, _task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: False when the failure would repeat on every try."""
    return not isinstance(state.result(raise_on_failure=False), DETERMINISTIC_ERRORS)
