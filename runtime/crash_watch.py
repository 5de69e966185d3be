"""Crash detection that needs no PID: Prefect's flow-run heartbeats and the automation Prefect
documents for "zombie" runs ("How to detect and respond to zombie flows").

A run in a container is watched by its Docker worker, which marks it Crashed when the container
exits. When the worker dies with it (the whole host is lost), nothing watches the run any more: it
would stay Running. With heartbeats every ``HEARTBEAT_SECONDS`` (Prefect's minimum), this automation
marks a run Crashed once ``SILENCE`` passes after a heartbeat with neither another heartbeat nor a
final state.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

AUTOMATION_NAME = "trainyard: runs whose heartbeats stop are Crashed"
HEARTBEAT_SECONDS = 30
SILENCE = timedelta(seconds=90)


def heartbeat_env() -> dict[str, str]:
    """What a run's process needs to send heartbeats often enough for the automation."""
    return {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS)}


def automation() -> Any:
    """The automation, as Prefect documents it (not yet saved)."""
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    from trainyard.states import default_state_name

    final = {f"prefect.flow-run.{default_state_name(state)}"
             for state in (StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED)}  # fmt: skip
    return Automation(
        name=AUTOMATION_NAME,
        description="Flow runs on pools without a PID reconciler (Docker, Kubernetes): Crashed when their "
        "heartbeats stop, e.g. a lost host with its worker.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *final},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=SILENCE,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"No heartbeat for {SILENCE.seconds} s: its process, container or host is gone",
            )
        ],
    )


def ensure_automation() -> None:
    """Create the automation on the Prefect server at PREFECT_API_URL unless it is there (by name)."""
    from prefect.automations import Automation

    try:
        Automation.read(name=AUTOMATION_NAME)
    except ValueError:
        automation().create()
