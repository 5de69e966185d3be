"""The datasets' schedules as Prefect deployment schedules, kept equal to what the spec files declare.

Each ``Schedule`` of a spec (``trainyard.datasets.schedules``) is one schedule, with its own parameters, on
its job's deployment (``train-<family>/<family>``, ``train-all/all``, ``score/score``); its slug is the
schedule's id, which the Prefect UI shows on the deployment's page. Schedules whose slug is not such an id
(made by hand in the UI) are left alone.

The spec files say what exists; Prefect says whether it is paused: a schedule paused or resumed in the UI
keeps that state when the stack restarts, and ``sync`` writes it back into its spec (``active: false``).
``up``, ``trainyard deploy`` and ``trainyard schedules sync`` run ``sync``; the API and the command line
change one schedule with ``add``, ``set_active`` and ``remove``, which write the spec and then Prefect.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import DeploymentScheduleCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName, FlowFilter, FlowFilterName
from prefect.client.schemas.schedules import CronSchedule
from prefect.exceptions import ObjectNotFound

from trainyard.datasets import DatasetSpec, dataset_specs, get_spec
from trainyard.datasets.schedules import (
    ALL,
    ID_PATTERN,
    SCORE,
    Schedule,
    ScheduleError,
    check_job,
    dataset_of,
    upserted,
    with_active,
    write_spec_schedules,
)
from trainyard.errors import DatasetError, ModelNotFoundError
from trainyard.families import families

logger = logging.getLogger(__name__)
# Deployments of earlier releases whose schedules are now declared in datasets/future_skills.yaml and
# datasets/churn.yaml: left in a Prefect database they would fire beside their replacements.
RETIRED = ("train-random-forest/nightly-future-skills", "train-all/weekly-churn-all", "score/nightly-churn-scoring")


def deployment_of(job: str) -> str:
    """``<flow>/<deployment>`` of a job: a family's own deployment, train-all's or the score flow's."""
    if job == ALL:
        return "train-all/all"
    if job == SCORE:
        return "score/score"
    return families()[job].deployment


@dataclass(frozen=True)
class Deployed:
    """A trainyard schedule as Prefect holds it."""

    id: str
    deployment: str
    deployment_id: UUID
    schedule_id: UUID
    cron: str | None
    timezone: str | None
    parameters: dict[str, Any]
    active: bool
    deployment_paused: bool


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)  # paused or resumed in Prefect; the spec now says so
    problems: dict[str, str] = field(default_factory=dict)  # id -> why it cannot be made (naming its file)

    def lines(self) -> list[str]:
        said = [(self.created, "created"), (self.updated, "updated"), (self.removed, "removed"),
                (self.adopted, "paused/resumed in Prefect, written to its spec")]  # fmt: skip
        return [f"schedule {name}: {what}" for names, what in said for name in names]


def declared(specs: dict[str, DatasetSpec] | None = None) -> tuple[list[Schedule], dict[str, str]]:
    """Every schedule the specs declare whose job can run on its table, and why each other one cannot."""
    found, problems = [], {}
    for spec in (specs or dataset_specs()).values():
        for schedule in spec.schedules:
            try:
                check_job(schedule, spec.task)
            except ScheduleError as exc:
                problems[schedule.id] = f"{spec.source}: {exc}"
                continue
            found.append(schedule)
    return found, problems


def _deployments(client: SyncPrefectClient) -> dict[str, Any]:
    """trainyard's deployments that schedules go on, by ``<flow>/<deployment>`` (one request)."""
    wanted = {deployment_of(job): job for job in (*families(), ALL, SCORE)}
    flows = sorted({name.split("/")[0] for name in wanted})
    names = sorted({name.split("/")[1] for name in wanted})
    found = client.read_deployments(
        flow_filter=FlowFilter(name=FlowFilterName(any_=flows)),
        deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=names)),
    )
    by_short = {name.split("/")[1]: name for name in wanted}  # deployment names are unique among ours
    return {by_short[d.name]: d for d in found if d.name in by_short}


def deployed(deployments: dict[str, Any]) -> dict[str, Deployed]:
    """trainyard's schedules on ``deployments`` (``_deployments``), by id."""
    found = {}
    for name, deployment in deployments.items():
        for held in deployment.schedules or []:
            if held.slug and re.fullmatch(ID_PATTERN, held.slug):
                schedule = held.schedule
                found[held.slug] = Deployed(
                    id=held.slug, deployment=name, deployment_id=deployment.id, schedule_id=held.id,
                    cron=getattr(schedule, "cron", None), timezone=getattr(schedule, "timezone", None),
                    parameters=dict(held.parameters or {}), active=held.active, deployment_paused=deployment.paused,
                )  # fmt: skip
    return found


def held_schedules(client: SyncPrefectClient) -> dict[str, Deployed]:
    """trainyard's schedules Prefect holds now, by id (one request)."""
    return deployed(_deployments(client))


def _cron(schedule: Schedule) -> CronSchedule:
    return CronSchedule(cron=schedule.cron, timezone=schedule.timezone)


def _put(client: SyncPrefectClient, schedule: Schedule, deployments: dict[str, Any]) -> str:
    """Create ``schedule`` in Prefect, or bring the one held to it (its active state included); what was done."""
    held = deployed(deployments).get(schedule.id)
    if held is None:
        deployment = deployments.get(deployment_of(schedule.job))
        if deployment is None:
            raise ScheduleError(f"the deployment {deployment_of(schedule.job)} is not deployed: run "
                                "`trainyard deploy` (or restart `trainyard up`)")  # fmt: skip
        created = DeploymentScheduleCreate(
            schedule=_cron(schedule), active=schedule.active, parameters=schedule.parameters(), slug=schedule.id
        )
        client.create_deployment_schedules(deployment.id, [created])
        return "created"
    same = (held.cron, held.timezone, held.parameters, held.active) == (
        schedule.cron, schedule.timezone, schedule.parameters(), schedule.active)  # fmt: skip
    if same:
        return "unchanged"
    client.update_deployment_schedule(
        held.deployment_id,
        held.schedule_id,
        schedule=_cron(schedule),
        active=schedule.active,
        parameters=schedule.parameters(),
        slug=schedule.id,
    )
    return "updated"


def sync(client: SyncPrefectClient) -> SyncReport:
    """Make Prefect hold exactly the schedules the specs declare (a paused one stays paused: see the module)."""
    report = SyncReport()
    wanted, report.problems = declared()
    deployments = _deployments(client)
    held = deployed(deployments)
    adopt: dict[str, dict[str, bool]] = defaultdict(dict)
    for schedule in wanted:
        current = held.get(schedule.id)
        if current is not None and current.active != schedule.active:
            adopt[schedule.dataset][schedule.id] = current.active
            schedule = replace(schedule, active=current.active)
        try:
            done = _put(client, schedule, deployments)
        except ScheduleError as exc:
            report.problems[schedule.id] = str(exc)
            continue
        {"created": report.created, "updated": report.updated}.get(done, []).append(schedule.id)
    keep = {s.id for s in wanted} | set(report.problems)  # one not deployable now (its family gone) stays as is
    for schedule_id, current in held.items():
        if schedule_id not in keep:
            client.delete_deployment_schedule(current.deployment_id, current.schedule_id)
            report.removed.append(schedule_id)
    for dataset, states in adopt.items():
        _write(dataset, lambda now, states=states: [replace(s, active=states.get(s.id, s.active)) for s in now])
        report.adopted.extend(states)
    _retire(client)
    return report


def _retire(client: SyncPrefectClient) -> None:
    for name in RETIRED:
        try:
            retired = client.read_deployment_by_name(name)
        except ObjectNotFound:
            continue
        client.delete_deployment(retired.id)
        logger.info("removed the deployment %s of an earlier release: its schedule is declared in its "
                    "dataset's spec now", name)  # fmt: skip


def _spec(dataset: str) -> DatasetSpec:
    try:
        spec = get_spec(dataset)
    except DatasetError as exc:
        raise ScheduleError(str(exc), "dataset") from None
    assert spec.source is not None
    return spec


def _write(dataset: str, change: Any) -> list[Schedule]:
    return write_spec_schedules(_spec(dataset).source, change)  # type: ignore[arg-type]


def check(schedule: Schedule) -> None:
    """ScheduleError unless ``schedule`` can run now: its dataset is registered, its job trains (or scores)
    that table, and a score schedule's model reference names a registered model."""
    spec = _spec(schedule.dataset)
    check_job(schedule, spec.task)
    if schedule.model is not None:
        from trainyard.scoring import ModelRef, resolve

        try:
            resolve(ModelRef.parse(schedule.model), schedule.dataset)
        except (ModelNotFoundError, ValueError) as exc:
            raise ScheduleError(str(exc), "score") from None
        except DatasetError as exc:  # the table to score is not where its spec says
            raise ScheduleError(str(exc), "dataset") from None


def find(schedule_id: str) -> Schedule:
    """The declared schedule of that id; ScheduleError naming the dataset's schedules if there is none."""
    spec = _spec(dataset_of(schedule_id))
    for schedule in spec.schedules:
        if schedule.id == schedule_id:
            return schedule
    known = ", ".join(s.id for s in spec.schedules) or "none"
    raise ScheduleError(f"no schedule {schedule_id!r} in {spec.source} (its schedules: {known})")


def add(client: SyncPrefectClient | None, schedule: Schedule) -> tuple[Schedule, bool]:
    """Declare ``schedule`` in its spec and, with a client, in Prefect; whether it is new. The same dataset,
    job and time again is the same schedule (its options replaced)."""
    check(schedule)
    existed = any(s.id == schedule.id for s in _spec(schedule.dataset).schedules)
    _write(schedule.dataset, lambda now: upserted(now, schedule))
    if client is not None:
        _put(client, schedule, _deployments(client))
    return schedule, not existed


def set_active(client: SyncPrefectClient | None, schedule_id: str, active: bool) -> Schedule:
    """Pause (``active=False``) or resume a schedule, in its spec and in Prefect."""
    schedule = replace(find(schedule_id), active=active)
    _write(schedule.dataset, lambda now: with_active(now, schedule_id, active))
    if client is not None:
        _put(client, schedule, _deployments(client))
    return schedule


def remove(client: SyncPrefectClient | None, schedule_id: str) -> Schedule:
    """Take a schedule out of its spec and out of Prefect (its future runs go with it)."""
    schedule = find(schedule_id)
    _write(schedule.dataset, lambda now: [s for s in now if s.id != schedule_id])
    if client is not None and (held := held_schedules(client).get(schedule_id)) is not None:
        client.delete_deployment_schedule(held.deployment_id, held.schedule_id)
    return schedule


@dataclass(frozen=True)
class Listed:
    """A declared schedule with what Prefect holds of it (None: not deployed) and why it cannot be, if so."""

    schedule: Schedule
    held: Deployed | None
    problem: str | None = None

    @property
    def deployment(self) -> str:
        """The deployment it is (or would be) a schedule of."""
        if self.held is not None:
            return self.held.deployment
        try:
            return deployment_of(self.schedule.job)
        except KeyError:  # a family no longer installed: its problem says so
            return f"train-{self.schedule.job}/{self.schedule.job}"

    @property
    def active(self) -> bool:
        """Prefect's state when it holds the schedule (a pause in the UI shows at once), else the spec's."""
        return self.held.active if self.held is not None else self.schedule.active

    @property
    def next_run_at(self) -> datetime | None:
        if self.held is None or not self.active or self.held.deployment_paused:
            return None
        return self.schedule.next_runs(1)[0]


def listing(client: SyncPrefectClient | None, dataset: str | None = None) -> list[Listed]:
    """Every declared schedule (of ``dataset``, or all), with Prefect's state of it when a client is given."""
    specs = {dataset: _spec(dataset)} if dataset is not None else None
    wanted, problems = declared(specs)
    failing = [s for spec in (specs or dataset_specs()).values() for s in spec.schedules if s.id in problems]
    held = held_schedules(client) if client is not None else {}
    return [Listed(s, held.get(s.id), problems.get(s.id)) for s in [*wanted, *failing]]
