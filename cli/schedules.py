"""`trainyard schedules …` and `trainyard deploy`: retrain (or score) a registered table on a cron schedule.

Each command writes the table's spec file (``schedules:`` in datasets/<name>.yaml, so a restart keeps it)
and then Prefect: the running stack's (PREFECT_API_URL, or the one `trainyard up` runs on this host's
artifacts directory). With no stack running, the spec alone is written and `up` deploys it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from trainyard.datasets.schedules import SCORE, Schedule, ScheduleError, check_cron, check_timezone

schedules_app = typer.Typer(help="Cron schedules of the datasets: retraining and scoring by Prefect.",
                            no_args_is_help=True)  # fmt: skip


def _fail(message: str) -> None:
    typer.echo(f"trainyard schedules: {message}", err=True)
    raise typer.Exit(1)


@contextmanager
def _prefect() -> Iterator[Any]:
    """A client of the running stack's Prefect, or None when no stack runs here (the spec alone changes)."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from runtime.stack import running_prefect_api_url

    url = running_prefect_api_url()
    if url is None:
        yield None
        return
    with temporary_settings(updates={PREFECT_API_URL: url}), get_client(sync_client=True) as client:
        yield client


@contextmanager
def _reported() -> Iterator[None]:
    """ScheduleError and an unreachable Prefect as one line on stderr and exit status 1."""
    import httpx

    try:
        yield
    except ScheduleError as exc:
        _fail(str(exc))
    except httpx.TransportError as exc:
        _fail(f"the spec is written, but Prefect did not answer ({exc}): `trainyard schedules sync` once it is up "
              "(or the next `trainyard up`) puts the schedule there")  # fmt: skip


def _deployed_note(client: Any) -> str:
    if client is None:
        return "no stack runs on this host: deployed by the next `trainyard up` (or `trainyard deploy`)"
    return "in Prefect now (the deployment's page in the UI shows it)"


@schedules_app.command("add")
def add(
    jobs: list[str] = typer.Argument(..., help="Families to retrain (trainyard models families), all, or score."),
    dataset: str = typer.Option(..., "--dataset", help="A registered dataset (trainyard datasets list)."),
    cron: str = typer.Option(..., "--cron", help='Five cron fields, e.g. "0 2 * * *" (02:00 every day).'),
    timezone: str = typer.Option("UTC", "--timezone", help="IANA time zone the cron is read in."),
    promote: bool = typer.Option(False, "--promote", help="A retrained model competes for champion."),
    model: str = typer.Option(None, "--model", help="With score: family@alias or family:version."),
    paused: bool = typer.Option(False, "--paused", help="Declare it paused (resume it later)."),
) -> None:
    """Retrain some families of a table (or score it with one model) on a cron schedule."""
    from deployments import schedules

    try:
        cron, timezone = check_cron(cron), check_timezone(timezone)
    except ValueError as exc:
        _fail(str(exc))
    if SCORE in jobs and (len(jobs) > 1 or model is None or promote):
        _fail("score schedules one model alone: `trainyard schedules add score --dataset D --cron C --model "
              "xgboost@champion` (no --promote, no family beside it)")  # fmt: skip
    if SCORE not in jobs and model is not None:
        _fail("--model goes with score; a training schedule names families")
    made = [Schedule(dataset=dataset, job=job.strip().lower().replace("_", "-") if job != SCORE else job, cron=cron,
                     timezone=timezone, promote=promote, model=model, active=not paused) for job in jobs]  # fmt: skip
    with _reported(), _prefect() as client:
        for schedule in made:
            schedules.check(schedule)  # all of them, before the first is written
        for schedule in made:
            _, created = schedules.add(client, schedule)
            typer.echo(f"{'added' if created else 'updated'} {schedule.id}: {_describe(schedule)}")
        typer.echo(_deployed_note(client))


def _describe(schedule: Schedule) -> str:
    what = f"score with {schedule.model}" if schedule.kind == "score" else f"retrain {schedule.job}"
    extra = (" (promote)" if schedule.promote else "") + ("" if schedule.active else " [paused]")
    return f"{what} on {schedule.dataset} at {schedule.cron!r} {schedule.timezone}{extra}"


@schedules_app.command("list")
def list_(dataset: str = typer.Option(None, "--dataset", help="Only this dataset's schedules.")) -> None:
    """Every schedule: id, job, time, state (Prefect's, when a stack runs), next run."""
    from deployments.schedules import listing

    with _reported(), _prefect() as client:
        found = listing(client, dataset)
    if not found:
        typer.echo("no schedules" + (f" for {dataset}" if dataset else "") + ": `trainyard schedules add` makes one")
        return
    for entry in found:
        schedule = entry.schedule
        state = "active" if entry.active else "paused"
        if entry.held is not None and entry.held.deployment_paused:
            state += " (deployment paused)"
        elif client is not None and entry.held is None:
            state += " (not deployed)"
        due = entry.next_run_at or (schedule.next_runs(1)[0] if client is None and schedule.active else None)
        nxt = due.isoformat(timespec="minutes") if due else "-"
        typer.echo(f"{schedule.id:<40} {schedule.job:<20} {schedule.cron:<15} {schedule.timezone:<14} "
                   f"{'promote' if schedule.promote else '':<8} {state:<10} next {nxt}")  # fmt: skip
        if entry.problem:
            typer.echo(f"    not deployable: {entry.problem}")


def _set_active(schedule_id: str, active: bool) -> None:
    from deployments import schedules

    with _reported(), _prefect() as client:
        schedule = schedules.set_active(client, schedule_id, active)
        typer.echo(f"{'resumed' if active else 'paused'} {schedule.id}: {_describe(schedule)}")
        typer.echo(_deployed_note(client))


@schedules_app.command("pause")
def pause(schedule_id: str = typer.Argument(..., help="An id from `trainyard schedules list`.")) -> None:
    """Pause a schedule (its future runs are withdrawn; the spec says active: false)."""
    _set_active(schedule_id, False)


@schedules_app.command("resume")
def resume(schedule_id: str = typer.Argument(..., help="An id from `trainyard schedules list`.")) -> None:
    """Resume a paused schedule."""
    _set_active(schedule_id, True)


@schedules_app.command("remove")
def remove(schedule_id: str = typer.Argument(..., help="An id from `trainyard schedules list`.")) -> None:
    """Remove a schedule from its spec and from Prefect (its future runs go with it)."""
    from deployments import schedules

    with _reported(), _prefect() as client:
        schedule = schedules.remove(client, schedule_id)
        typer.echo(f"removed {schedule.id}: {_describe(schedule)}")


@schedules_app.command("sync")
def sync() -> None:
    """Make the running stack's Prefect hold exactly the schedules the specs declare."""
    from deployments import schedules

    with _reported(), _prefect() as client:
        if client is None:
            _fail("no stack runs on this host (and PREFECT_API_URL is not set): nothing to sync with")
        report = schedules.sync(client)
    for line in report.lines() or ["Prefect already holds every declared schedule"]:
        typer.echo(line)
    for schedule_id, problem in report.problems.items():
        typer.echo(f"schedule {schedule_id} not deployed: {problem}", err=True)
