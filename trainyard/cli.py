"""The trainyard command line: generate data, train locally, bring the stack up."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

from trainyard import datagen
from trainyard.params import PARAMS_BY_TYPE, ModelType
from trainyard.settings import PROJECT_ROOT

app = typer.Typer(help="trainyard: model training as Prefect flows.", no_args_is_help=True)
logger = logging.getLogger("trainyard")


@app.command("generate-data")
def generate_data(
    out: Path = typer.Option(PROJECT_ROOT / "data", help="Folder for the sample datasets."),
    churn_rows: int = typer.Option(3000, min=10, help="Rows of the churn sample."),
    seed: int = typer.Option(42),
) -> None:
    """Write the committed samples: the HR table (plain and noisy) and the churn table."""
    for path in (
        datagen.write_table(datagen.future_skills(seed=seed), out / "future_skills_dataset.csv"),
        datagen.write_table(datagen.future_skills(seed=seed, noisy=True), out / "future_skills_dataset_noisy.csv"),
        datagen.write_table(datagen.churn(rows=churn_rows, seed=seed), out / "churn.csv"),
    ):
        typer.echo(f"wrote {path}")


@app.command("generate-churn")
def generate_churn(
    out: Path = typer.Argument(..., help="Target .csv or .parquet file."),
    rows: int = typer.Option(100_000, min=10),
    seed: int = typer.Option(42),
) -> None:
    """Write a churn table of any size (1M+ rows for benchmarks)."""
    typer.echo(f"wrote {datagen.write_table(datagen.churn(rows=rows, seed=seed), out)}")


@app.command()
def train(
    model_type: str = typer.Argument(..., help="random-forest, xgboost, neural-net or all"),
    dataset: str = typer.Option("churn.csv", help="Dataset path inside a data root."),
    params_json: str = typer.Option("{}", "--params", help="Extra flow parameters as JSON."),
) -> None:
    """Run a training flow in this process (against PREFECT_API_URL, or an ephemeral server)."""
    from flows.train_all import FLOWS, train_all
    from trainyard.params import TrainAllParams

    extra = json.loads(params_json)
    if model_type == "all":
        result = train_all(TrainAllParams(dataset=dataset, **extra))
        typer.echo(json.dumps({k: v.model_dump(mode="json") for k, v in result.items()}, indent=2))
        return
    kind = ModelType.parse(model_type)
    outcome = FLOWS[kind](PARAMS_BY_TYPE[kind](dataset=dataset, **extra))
    typer.echo(outcome.model_dump_json(indent=2))


if __name__ == "__main__":
    app()
