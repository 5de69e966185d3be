"""Schedules: retrain a dataset's families (or score it) on a cron schedule, as Prefect deployment schedules.

The same thing a spec's ``schedules:`` declares and ``trainyard schedules`` changes: each write goes to the
dataset's spec file (a restart keeps it) and to Prefect (its UI shows it at once); ``active`` is read from
Prefect, so a schedule paused in the UI shows paused here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi.exceptions import RequestValidationError

from api.deps import READ, TRAIN, GatewayDep, Reader, Trainer
from api.gateway import ListedSchedule
from api.responses import AUTHED, errors
from api.schemas import ScheduleCreate, SchedulePublic, SchedulesPublic, ScheduleUpdate
from trainyard.datasets.schedules import SCORE, Schedule, ScheduleError
from trainyard.datasets.spec import NAME_PATTERN
from trainyard.registry import audit
from trainyard.registry.audit import Action
from trainyard.registry.auth import Principal
from trainyard.settings import get_settings

router = APIRouter(tags=["schedules"])


def _public(entry: ListedSchedule) -> SchedulePublic:
    schedule, held = entry.schedule, entry.held
    ui = f"{get_settings().prefect_ui_url}/deployments/deployment/{held.deployment_id}" if held else None
    return SchedulePublic(id=schedule.id, dataset=schedule.dataset, kind=schedule.kind, job=schedule.job,
                          model=schedule.model, cron=schedule.cron, timezone=schedule.timezone,
                          promote=schedule.promote, active=entry.active, deployed=held is not None,
                          deployment=entry.deployment, deployment_paused=bool(held and held.deployment_paused),
                          next_run_at=entry.next_run_at, problem=entry.problem, prefect_ui_url=ui)  # fmt: skip


def _listing(entries: list[ListedSchedule]) -> SchedulesPublic:
    return SchedulesPublic(schedules=[_public(entry) for entry in entries], count=len(entries))


def _invalid(field: str, message: str, value: object) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("body", field), "msg": message, "input": value}])


@router.get("/schedules", response_model=SchedulesPublic, dependencies=[Depends(READ)], responses=errors(*AUTHED))
def list_schedules(
    gateway: GatewayDep, _user: Reader,
    dataset: Annotated[str | None, Query(pattern=NAME_PATTERN, description="Only this dataset's")] = None,
) -> SchedulesPublic:  # fmt: skip
    """Every schedule the datasets declare, with Prefect's state of it (paused in the UI: active false)."""
    try:
        return _listing(gateway.schedules(dataset))
    except ScheduleError as exc:  # an unknown dataset
        raise RequestValidationError([{"type": "value_error", "loc": ("query", "dataset"), "msg": str(exc),
                                       "input": dataset}]) from None  # fmt: skip


@router.post("/schedules", response_model=SchedulesPublic, status_code=201, dependencies=[Depends(TRAIN)],
             responses={200: {"model": SchedulesPublic, "description": "Every schedule existed already (same "
                              "dataset, job and time): its options were replaced"}, **errors(*AUTHED)})  # fmt: skip
def create_schedule(body: ScheduleCreate, gateway: GatewayDep, response: Response, user: Trainer) -> SchedulesPublic:
    """Declare a schedule: one Prefect schedule per family (or one score schedule), with its own parameters,
    on the family's deployment. The same dataset, job and time again is the same schedule (200)."""
    jobs = [(SCORE, body.score)] if body.score is not None else [(name, None) for name in body.families or []]
    made = [Schedule(dataset=body.dataset, job=job.strip().lower().replace("_", "-") if model is None else job,
                     cron=body.cron, timezone=body.timezone, promote=body.promote, model=model, active=body.active)
            for job, model in jobs]  # fmt: skip
    try:
        for schedule in made:
            gateway.check_schedule(schedule)  # every one, before the first is written
        added = [gateway.add_schedule(schedule) for schedule in made]
    except ScheduleError as exc:
        field = exc.field or "dataset"
        raise _invalid(field, str(exc), getattr(body, field)) from None
    if not any(created for _, created in added):
        response.status_code = status.HTTP_200_OK
    for entry, created in added:
        _audit(user, entry, "added" if created else "replaced")
    return _listing([entry for entry, _ in added])


def _audit(user: Principal, entry: ListedSchedule, change: str) -> ListedSchedule:
    audit.record(Action.SCHEDULE_CHANGED, actor=user.username, target=entry.schedule.id,
                 detail={"change": change, "cron": entry.schedule.cron, "job": entry.schedule.job})  # fmt: skip
    return entry


def _found(call: Callable[[], ListedSchedule]) -> ListedSchedule:
    """What ``call`` returns; 404 naming the dataset's schedules when the id is no declared schedule."""
    try:
        return call()
    except ScheduleError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@router.patch("/schedules/{schedule_id}", response_model=SchedulePublic, dependencies=[Depends(TRAIN)],
              responses=errors(404, *AUTHED))  # fmt: skip
def update_schedule(schedule_id: str, body: ScheduleUpdate, gateway: GatewayDep, user: Trainer) -> SchedulePublic:
    """Pause (``{"active": false}``) or resume a schedule, in its spec and in Prefect."""
    entry = _found(lambda: gateway.set_schedule_active(schedule_id, body.active))
    return _public(_audit(user, entry, "resumed" if body.active else "paused"))


@router.delete("/schedules/{schedule_id}", response_model=SchedulePublic, dependencies=[Depends(TRAIN)],
               responses=errors(404, *AUTHED))  # fmt: skip
def delete_schedule(schedule_id: str, gateway: GatewayDep, user: Trainer) -> SchedulePublic:
    """Remove a schedule from its spec and from Prefect (its future runs go with it); what it was."""
    return _public(_audit(user, _found(lambda: gateway.remove_schedule(schedule_id)), "removed"))
