"""The registry's record of batch scoring runs (``ScoringRun``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from trainyard.registry.db import retry_on_disconnect, session_scope
from trainyard.registry.models import ScoringRun


@retry_on_disconnect
def record_scoring(flow_run_id: str, **values: Any) -> ScoringRun:
    """Create or update the scoring run of ``flow_run_id`` (a retry of the flow run updates its row)."""
    with session_scope() as session:
        run = session.scalar(select(ScoringRun).where(ScoringRun.flow_run_id == flow_run_id))
        if run is None:
            run = ScoringRun(flow_run_id=flow_run_id, model_ref=str(values.pop("model_ref", "")))
            session.add(run)
        for key, value in values.items():
            setattr(run, key, value)
        session.flush()
        return run


def get_scoring(flow_run_id: str) -> ScoringRun | None:
    with session_scope() as session:
        return session.scalar(select(ScoringRun).where(ScoringRun.flow_run_id == flow_run_id))
