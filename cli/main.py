"""The trainyard command line: generate data, train locally, bring the stack up."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

from cli.audit import audit_command
from cli.cluster import image_app, pools_app
from cli.datasets import datasets_app
from cli.models import models_app
from cli.schedules import schedules_app
from cli.users import tokens_app, users_app
from trainyard import datagen
from trainyard.params import PARAMS_BY_TYPE, ModelType
from trainyard.settings import PROJECT_ROOT

app = typer.Typer(help="trainyard: model training as Prefect flows.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(models_app, name="models")
app.add_typer(datasets_app, name="datasets")
app.add_typer(image_app, name="image")
app.add_typer(pools_app, name="pools")
app.add_typer(schedules_app, name="schedules")
app.command("audit")(audit_command)
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
    model_type: str = typer.Argument(..., help="A model family, or all (trainyard models families lists them)."),
    dataset: str = typer.Option("churn.csv", help="Dataset path inside a data root."),
    params_json: str = typer.Option("{}", "--params", help="Extra flow parameters as JSON."),
) -> None:
    """Run a training flow in this process (against PREFECT_API_URL, or an ephemeral server)."""
    import os

    # Prefect reads this when first imported (below); a fresh ephemeral server migrates for ~21 s,
    # past Prefect's 20 s default.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
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


@app.command()
def deploy(
    prefect_port: int = typer.Option(None, help="The Prefect server's port (default: the running stack's, or 4200)."),
) -> None:
    """Deploy prefect.yaml and the datasets' schedules to the running stack's Prefect (what `up` does). The
    stack is the one on this host's artifacts directory (TRAINYARD_ARTIFACTS_DIR, as `up --artifacts` set)."""
    from runtime.stack import Stack, running_prefect_api_url, running_stack

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if prefect_port is None:
        url = running_prefect_api_url() or "http://127.0.0.1:4200/api"
        prefect_port = int(url.rsplit(":", 1)[1].split("/")[0])
    # A Docker-pool stack's deployments enter the image's /app: the running stack's lock says which it is.
    pools = (running_stack() or {}).get("pools", "process")
    stack = Stack(prefect_port=prefect_port, pools=pools if pools in ("process", "docker") else "process")
    try:
        stack.deploy()
    except RuntimeError as exc:
        typer.echo(f"trainyard deploy: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"deployed prefect.yaml and the datasets' schedules to {stack.prefect_api_url}")


@app.command()
def up(
    prefect_port: int = typer.Option(4200, help="Prefect server (and UI) port."),
    api_port: int = typer.Option(8000, help="trainyard API port."),
    workers: int = typer.Option(1, min=1, help="Workers per pool (cpu, gpu)."),
    train_first: bool = typer.Option(True, "--train/--no-train", help="Train a model once the stack is up."),
    exit_after_train: bool = typer.Option(False, help="Stop the stack after the first training (smoke test)."),
    artifacts: Path | None = typer.Option(
        None,
        help="This stack's artifacts directory (TRAINYARD_ARTIFACTS_DIR; default <repo>/artifacts). One stack "
        "per directory: a second stack on this host needs its own.",
    ),
    pools: str = typer.Option(
        "process",
        help="process: runs are processes here (warm-started); docker: each run "
        "is a container of the trainyard image (needs an object store and PostgreSQL: "
        "docs/scaling.md).",
    ),
) -> None:
    """Bring the whole stack up on embedded defaults; Ctrl-C (or SIGTERM) stops everything it started."""
    import os
    import signal
    import time

    from runtime.stack import PortInUse, Stack, StoreInUse
    from trainyard.registry.auth import ensure_admin
    from trainyard.settings import get_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if pools not in ("process", "docker"):
        typer.echo(f"trainyard up: --pools must be process or docker, not {pools!r}", err=True)
        raise typer.Exit(2)
    if artifacts is not None:  # for this process and, through its environment, every child
        os.environ["TRAINYARD_ARTIFACTS_DIR"] = str(artifacts.resolve())
        get_settings.cache_clear()
    stack = Stack(prefect_port=prefect_port, api_port=api_port, workers_per_pool=workers, pools=pools)  # type: ignore[arg-type]
    try:
        stack.claim_store()  # held until the stack stops (or this process dies)
        stack.check_ports()
        if pools == "docker":
            stack.container_env()  # refuses a local store or registry before anything starts
            _build_image(stack.image)
    except (StoreInUse, PortInUse, ValueError) as exc:
        typer.echo(f"trainyard up: {exc}", err=True)
        raise typer.Exit(1) from None
    # Ctrl-C and SIGTERM both stop the stack cleanly; SIGINT is installed explicitly because a
    # shell starting `up` in the background hands it down as ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        stack.start_warm_servers()  # preload Prefect and the ML libraries while the server starts
        logger.info("starting the Prefect server (its first start migrates its database: ~20 s)")
        stack.start_server()
        stack.create_pools()
        logger.info("deploying prefect.yaml")
        stack.deploy()
        stack.start_workers()
        stack.start_api()
        stack.supervise()  # from here on, a child that dies is restarted (logged, with backoff)
        token, password = ensure_admin()
        typer.echo(f"\nPrefect UI   {stack.env()['PREFECT_UI_URL']}\ntrainyard API {stack.api_url}  (docs: /docs)")
        typer.echo(f"admin token  {token}" + (f"   (user admin, password {password})" if password else ""))
        typer.echo(f"logs         {stack.logs}\n")
        if train_first:
            _train_demo(stack.api_url, token)
        if exit_after_train:
            return
        typer.echo("stack is up; Ctrl-C stops it")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        typer.echo("stopping...")
    finally:
        # A second Ctrl-C or SIGTERM must not cut the shutdown short and leave children behind.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: logger.warning("still stopping the stack; please wait"))
        stack.stop()
        typer.echo("stopped")


def _build_image(tag: str) -> None:
    """The run image, rebuilt if the code changed (seconds when only the code did)."""
    from runtime.image import build_image, ensure_dockerd
    from trainyard.settings import get_settings

    logs = get_settings().artifacts_dir / "logs"
    ensure_dockerd(logs / "dockerd.log")
    logger.info("building the run image %s (minutes the first time; log %s)", tag, logs / "image-build.log")
    build_image(tag, log_file=logs / "image-build.log")


def _train_demo(api_url: str, token: str) -> None:
    """Train the HR RandomForest through the API, as a client would."""
    import httpx

    typer.echo("training a RandomForest on the HR future-skills table through POST /api/training/train/ ...")
    response = httpx.post(f"{api_url}/api/training/train/", headers={"Authorization": f"Token {token}"},
                          json={"notes": "trainyard up demo"}, timeout=600)  # fmt: skip
    typer.echo(f"{response.status_code} {json.dumps(response.json(), indent=2)}")
    if response.status_code != 201:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
