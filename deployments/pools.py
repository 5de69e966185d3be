"""Create or update trainyard's work pools (process pools on one machine; GPU templates for clusters)."""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
from prefect.exceptions import ObjectNotFound
from prefect.workers.process import ProcessWorker

TEMPLATES = Path(__file__).parent / "templates"
RUN_ENTRY = "python -m runtime.run_entry"  # Prefect's run supervisor with trainyard's patches (containers)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoolSpec:
    name: str
    type: str
    description: str
    concurrency_limit: int
    base_job_template: dict[str, Any]


def process_template(env: dict[str, str], command: str | None = None) -> dict[str, Any]:
    """Prefect's process template with ``env`` as the default environment of every flow run, and
    ``command`` (e.g. the warm-start launcher) in place of ``python -m prefect.engine`` when given."""
    template = copy.deepcopy(ProcessWorker.get_default_base_job_template())
    template["variables"]["properties"]["env"]["default"] = env
    if command is not None:
        template["variables"]["properties"]["command"]["default"] = command
    return template


def cluster_template(kind: str) -> dict[str, Any]:
    """The Kubernetes or Docker GPU template shipped in ``templates/``."""
    return json.loads((TEMPLATES / f"{kind}-gpu.json").read_text())


def local_pools(
    env: dict[str, str], cpu_limit: int, gpu_limit: int, commands: dict[str, str] | None = None
) -> list[PoolSpec]:
    """The two process pools ``trainyard up`` runs: ``cpu`` and ``gpu`` (CUDA when the worker has it).

    ``commands`` maps a pool to its flow-run command (the warm-start launcher); others run Prefect's.
    """
    commands = commands or {}
    return [
        PoolSpec(
            "cpu",
            "process",
            "CPU training (the CPU families, scheduled retraining)",
            cpu_limit,
            process_template(env, commands.get("cpu")),
        ),
        PoolSpec(
            "gpu",
            "process",
            "GPU-capable training: the GPU families use CUDA when visible, and train-all",
            gpu_limit,
            process_template({**env, "TRAINYARD_DEVICE": "auto"}, commands.get("gpu")),
        ),
    ]


def docker_template(env: dict[str, str], image: str) -> dict[str, Any]:
    """prefect-docker's template: ``image`` (built here, never pulled), the host's network only (the
    containers reach the Prefect server, the object store and the registry on 127.0.0.1), removed when
    done, with ``env`` as every run's environment."""
    from prefect_docker.worker import DockerWorker

    template = copy.deepcopy(DockerWorker.get_default_base_job_template())
    defaults = {"env": env, "image": image, "image_pull_policy": "Never", "network_mode": "host",
                "auto_remove": True, "stream_output": True, "command": RUN_ENTRY}  # fmt: skip
    for name, value in defaults.items():
        template["variables"]["properties"][name]["default"] = value
    return template


def docker_pools(env: dict[str, str], image: str, cpu_limit: int, gpu_limit: int) -> list[PoolSpec]:
    """The ``cpu`` and ``gpu`` pools as Docker pools (``trainyard up --pools docker``): same names, so the
    deployments and the API are the same; each run is a container of ``image``."""
    return [
        PoolSpec("cpu", "docker", "CPU training in containers of the trainyard image", cpu_limit,
                 docker_template(env, image)),
        PoolSpec("gpu", "docker", "GPU-capable training in containers (CUDA when the image and host have it)",
                 gpu_limit, docker_template({**env, "TRAINYARD_DEVICE": "auto"}, image)),
    ]  # fmt: skip


def ensure_pool(client: SyncPrefectClient, spec: PoolSpec) -> None:
    """Create the pool, or bring an existing one's template and concurrency limit up to date."""
    try:
        existing = client.read_work_pool(spec.name)
    except ObjectNotFound:
        existing = None
    if existing is not None and existing.type != spec.type:
        # A pool's type cannot change in place (a `up --pools docker` after a process stack).
        client.delete_work_pool(spec.name)
        existing = None
    if existing is None:
        client.create_work_pool(
            WorkPoolCreate(name=spec.name, type=spec.type, description=spec.description,
                           base_job_template=spec.base_job_template, concurrency_limit=spec.concurrency_limit)
        )  # fmt: skip
        logger.info("created work pool %s (%s, limit %d)", spec.name, spec.type, spec.concurrency_limit)
        return
    client.update_work_pool(
        spec.name,
        WorkPoolUpdate(description=spec.description, base_job_template=spec.base_job_template,
                       concurrency_limit=spec.concurrency_limit),
    )  # fmt: skip
