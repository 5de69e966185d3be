"""`trainyard datasets …`: register a table without writing Python, then review, list or remove its spec."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from trainyard.datasets.spec import DatasetSpec
from trainyard.errors import DatasetError

datasets_app = typer.Typer(help="Dataset specs: one reviewable YAML file per table.", no_args_is_help=True)


def _fail(message: str) -> None:
    typer.echo(f"trainyard datasets: {message}", err=True)
    raise typer.Exit(1)


def _relative_to_root(path: Path) -> str:
    from trainyard.settings import get_settings

    for root in get_settings().data_roots:
        if path.is_relative_to(root.resolve()):
            return str(path.relative_to(root.resolve()))
    return str(path)


@datasets_app.command("add")
def add(
    name: str = typer.Argument(..., help="The dataset's name (lower case, digits and _), as runs will refer to it."),
    file: str = typer.Option(..., "--file", help="The CSV or Parquet table, inside a data root."),
    target: str = typer.Option(..., "--target", help="The column to predict."),
    margin: float = typer.Option(0.1, min=0, max=10, help="Widen each numeric range by this share of its span."),
    task: str = typer.Option(
        None, "--task", help="classification or regression (default: inferred from the target: a number "
        "taking many values is regression)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace a registered spec of the same name."),
) -> None:
    """Infer a spec from the table, write it as datasets/<name>.yaml (edit it by hand as you like) and print it."""

    from trainyard.dataset_files import read_table, resolve_dataset_path
    from trainyard.datasets.infer import infer_spec
    from trainyard.datasets.registry import BUILTIN, get_spec, spec_path
    from trainyard.datasets.schema import schema_for
    from trainyard.datasets.spec import NAME_PATTERN, dump, parse
    from trainyard.settings import get_settings

    if not re.fullmatch(NAME_PATTERN, name):
        _fail(f"dataset name {name!r} must be lower case letters, digits and _, starting with a letter (≤ 64)")
    if name in BUILTIN:
        _fail(f"{name!r} is a built-in dataset; pick another name")
    if task not in (None, "classification", "regression"):
        _fail(f"--task is classification or regression, not {task!r}")
    destination = spec_path(name)
    try:
        get_spec(name)
        exists = True
    except DatasetError:
        exists = False
    if exists and not (force and destination.is_file()):
        _fail(f"a dataset named {name!r} is registered already ({destination}); --force replaces it")
    settings = get_settings()
    try:
        path = resolve_dataset_path(file, settings.data_roots, settings.max_dataset_bytes)
        frame = read_table(path)
        text = dump(infer_spec(frame, name, _relative_to_root(path), target, margin, task))
        spec = parse(text, source=str(destination))
        schema_for(spec).validate(frame.copy(), lazy=True)  # the table passes its own spec
    except DatasetError as exc:
        _fail(str(exc))
    if exists:  # a re-registered table keeps its schedules (`trainyard schedules` changes them)
        from trainyard.datasets.schedules import with_schedules

        text = with_schedules(text, get_spec(name).schedules)
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(text)
    typer.echo(f"# {destination}\n{text}")
    typer.echo(f"registered {name!r}: {len(frame)} rows, {len(spec.feature_columns)} features, {_task(spec)}. "
               f"Train it with {{\"dataset\": \"{name}\"}} (POST /train/{{model_type}}).")  # fmt: skip


def _task(spec: DatasetSpec) -> str:
    """``classes [...]``, or ``regression`` for a numeric target."""
    return "regression" if spec.is_regression else f"classes {list(spec.target_values)}"


@datasets_app.command("show")
def show(name: str = typer.Argument(...)) -> None:
    """Print a dataset's spec file."""
    from trainyard.datasets import get_spec

    try:
        spec = get_spec(name)
    except DatasetError as exc:
        _fail(str(exc))
    assert spec.source is not None
    typer.echo(f"# {spec.source}\n{spec.source.read_text()}")


@datasets_app.command("list")
def list_() -> None:
    """Every dataset: name, file, target and classes, feature count, where its spec is."""
    from trainyard.datasets import dataset_specs
    from trainyard.datasets.registry import BUILTIN

    for name, spec in dataset_specs().items():
        where = "built-in" if name in BUILTIN else str(spec.source)
        typer.echo(f"{name:<20} {spec.default_file:<32} target {spec.target} {_task(spec)} "
                   f"{len(spec.feature_columns)} features  {where}")  # fmt: skip


@datasets_app.command("remove")
def remove(name: str = typer.Argument(...)) -> None:
    """Remove a registered dataset's spec (its table and the models trained on it stay)."""
    from trainyard.datasets.registry import BUILTIN, get_spec, spec_path

    if name in BUILTIN:
        _fail(f"{name!r} is a built-in dataset and cannot be removed")
    path = spec_path(name)
    if not path.is_file():
        _fail(f"no registered dataset named {name!r} in {path.parent}")
    try:
        had = get_spec(name).schedules
    except DatasetError:  # a spec that no longer parses is removed all the same
        had = ()
    path.unlink()
    typer.echo(f"removed {path}")
    if had:
        _drop_schedules(name, len(had))


def _drop_schedules(name: str, count: int) -> None:
    """Take a removed table's schedules out of the running stack's Prefect (if one runs here)."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from deployments.schedules import sync
    from runtime.stack import running_prefect_api_url

    url = running_prefect_api_url()
    if url is None:
        typer.echo(f"its {count} schedule(s) leave Prefect at the next `trainyard up` (no stack runs here)")
        return
    with temporary_settings(updates={PREFECT_API_URL: url}), get_client(sync_client=True) as client:
        removed = [i for i in sync(client).removed if i.startswith(f"{name}.")]
    typer.echo(f"removed its schedules from Prefect: {', '.join(removed) or 'none were deployed'}")
