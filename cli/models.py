"""`trainyard models …`: registered model versions, their aliases (champion and free-form), the audit trail."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import typer

from trainyard.errors import RegistryError
from trainyard.params import ModelType
from trainyard.registry import aliases
from trainyard.registry.runs import list_model_versions

models_app = typer.Typer(help="Model versions and their aliases (champion, staging, …).", no_args_is_help=True)


@models_app.command("families")
def families_() -> None:
    """The registered model families: name, pool, tasks, summary, and hyperparameters with their defaults."""
    from trainyard.families import families

    for family in families().values():
        typer.echo(f"{family.name:<20} pool {family.pool:<4} {'+'.join(family.tasks):<26} {family.summary}")
        typer.echo(f"{'':<20} {json.dumps(family.hyperparameters().model_dump())}")


@models_app.command("deployments")
def deployments(write: bool = typer.Option(False, "--write", help="Rewrite the generated blocks.")) -> None:
    """Check (or, with --write, rewrite) the families' deployments in prefect.yaml and prefect.kubernetes.yaml."""
    from deployments.families import out_of_date

    stale = out_of_date(write=write)
    for path in stale:
        typer.echo(f"{'rewrote' if write else 'out of date'}: {path}")
    if stale and not write:
        typer.echo("run `trainyard models deployments --write`", err=True)
        raise typer.Exit(1)


def _actor(given: str | None) -> str:
    return given or f"cli:{getpass.getuser()}"


def _type(value: str) -> str:
    try:
        return str(ModelType.parse(value))
    except ValueError:
        raise typer.BadParameter(f"one of {', '.join(str(t) for t in ModelType)}") from None


@models_app.command("list")
def list_(model_type: str | None = typer.Option(None, "--type", help="Only this model type.")) -> None:
    """Registered versions, newest first, with their dataset, metrics and aliases."""
    tags = aliases.aliases_by_version()
    wanted = _type(model_type) if model_type else None
    for version, run in list_model_versions():
        if wanted and version.model_type != wanted:
            continue
        labels = ",".join(tags.get((version.model_type, version.version), [])) or "-"
        f1 = "n/a" if run.f1_score is None else f"{run.f1_score:.4f}"
        typer.echo(f"{version.model_type:<14} {version.version:<40} f1={f1}  aliases={labels:<20} {run.dataset_path}")


@models_app.command("alias")
def alias(
    model_type: str = typer.Argument(..., help="A model family (trainyard models families lists them)."),
    version: str = typer.Argument(..., help="A registered version of that type."),
    name: str = typer.Argument(aliases.CHAMPION, help="The alias (default: champion)."),
    remove: bool = typer.Option(False, "--remove", help="Take the alias off the version instead."),
    actor: str | None = typer.Option(None, "--as", help="Name recorded in the audit trail (default: cli:<login>)."),
) -> None:
    """Point an alias at a version (moving it from its previous holder), or remove it; audited."""
    try:
        if remove:
            change = aliases.remove_alias(_type(model_type), version, name, _actor(actor))
            typer.echo(f"removed {change.alias!r} from {change.model_type} {version}")
        else:
            change = aliases.set_alias(_type(model_type), version, name, _actor(actor))
            was = f" (was {change.previous_version})" if change.previous_version else ""
            typer.echo(f"{change.alias} of {change.model_type} on {change.dataset} is now {version}{was}")
    except (RegistryError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@models_app.command("history")
def history(
    model_type: str | None = typer.Option(None, "--type", help="Only this model type."),
    limit: int = typer.Option(50, min=1, max=500),
) -> None:
    """Alias changes, newest first: who, when, from which version, and why."""
    for event in aliases.history(_type(model_type) if model_type else None, limit):
        moved = f"{event.previous_version or '-'} -> {event.version or '(removed)'}"
        typer.echo(f"{event.at:%Y-%m-%d %H:%M:%S} {event.model_type:<14} {event.alias:<12} {moved}  "
                   f"by {event.actor}: {event.reason}")  # fmt: skip


@models_app.command("predict")
def predict(
    ref: str = typer.Argument(..., help="family@alias (FAMILY@champion), family:version, or a family (its champion)."),
    file: str = typer.Option(..., "--file", help="The rows: a registered dataset's name or a CSV/Parquet file inside a "
                             "data root. Checked against the model's dataset spec; the target may be absent."),
    out: Path | None = typer.Option(None, "--out", help="Where to write the predictions (.parquet or .csv; default: "
                                    "<file>.predictions.parquet in the current directory)."),
    alias_dataset: str | None = typer.Option(None, "--alias-dataset", help="Whose alias REF names, when the alias "
                                             "is held on several datasets."),
) -> None:
    """Score a table with a registered model in this process (no Prefect run; POST /score makes it a job)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from trainyard.dataset_files import read_table
    from trainyard.datasets.registry import resolve_request
    from trainyard.errors import TrainyardError
    from trainyard.scoring import ModelRef, alias_scope, check_rows, load_scorer, prediction_table, resolve

    try:
        model_ref = ModelRef.parse(ref)
        scorer = load_scorer(resolve(model_ref, alias_scope(model_ref, file, alias_dataset)))
        path, _ = resolve_request(file)
        table = prediction_table(scorer, check_rows(scorer, read_table(path)))
    except (TrainyardError, ValueError) as exc:
        typer.echo(f"trainyard models predict: {exc}", err=True)
        raise typer.Exit(1) from None
    destination = out or Path(f"{path.stem}.predictions.parquet")
    if destination.suffix.lower() == ".csv":
        pacsv.write_csv(table, destination)
    else:
        pq.write_table(table, destination)
    typer.echo(f"{table.num_rows} rows scored by {scorer.model.model_type} {scorer.model.version} "
               f"({scorer.spec.kind}): {destination}")  # fmt: skip
