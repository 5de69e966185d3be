"""Commands for running beyond one machine: the run image and the cluster work pools."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from runtime.image import BASE_TAG, IMAGE_TAG

image_app = typer.Typer(help="The run image of Docker and Kubernetes pools.", no_args_is_help=True)
pools_app = typer.Typer(help="Work pools for other machines.", no_args_is_help=True)


@image_app.command("build")
def build(
    tag: str = typer.Option(IMAGE_TAG, help="Tag of the run image."),
    base: str = typer.Option(BASE_TAG, help="Tag of the Debian base (debootstrapped once if missing)."),
) -> None:
    """Build the run image with no registry pull: debootstrap + docker import for the base (once),
    then docker/Dockerfile (as root, dockerd is started with no bridge if no engine answers)."""
    from runtime.image import ImageError, build_image, ensure_dockerd
    from trainyard.settings import get_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logs = get_settings().artifacts_dir / "logs"
    try:
        ensure_dockerd(logs / "dockerd.log")
        seconds = build_image(tag, base, log_file=logs / "image-build.log")
    except ImageError as exc:
        typer.echo(f"trainyard image build: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"built {tag} in {seconds:.1f}s (log: {logs / 'image-build.log'})")


@pools_app.command("create")
def create(
    kind: str = typer.Argument(..., help="kubernetes or docker-gpu: the templates in deployments/templates/"),
    name: str | None = typer.Option(None, help="Pool name (default: the kind)."),
    limit: int = typer.Option(4, min=1, help="Concurrent flow runs in the pool."),
    env_file: Path | None = typer.Option(
        None,
        help="JSON object of environment variables for every run "
        "(TRAINYARD_ARTIFACTS_URL, TRAINYARD_REGISTRY_URL, ...).",
    ),
) -> None:
    """Create or update a Kubernetes or Docker GPU pool on the Prefect server at PREFECT_API_URL."""
    import json

    from prefect import get_client

    from deployments.pools import PoolSpec, cluster_template, ensure_pool
    from runtime.crash_watch import ensure_automation

    kinds = {"kubernetes": ("kubernetes", "kubernetes"), "docker-gpu": ("docker", "docker")}
    if kind not in kinds:
        typer.echo(f"unknown pool kind {kind!r}; one of: {', '.join(kinds)}", err=True)
        raise typer.Exit(2)
    template_kind, pool_type = kinds[kind]
    template = cluster_template(template_kind)
    if env_file is not None:
        env = json.loads(env_file.read_text())
        template["variables"]["properties"]["env"]["default"].update(env)
    with get_client(sync_client=True) as client:
        ensure_pool(client, PoolSpec(name or kind, pool_type, f"trainyard {kind} runs", limit, template))
    ensure_automation()  # the template's runs send heartbeats; lost ones are Crashed (runtime.crash_watch)
    typer.echo(f"pool {name or kind} ({pool_type}) is ready")
