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
            "CPU training (RandomForest, scheduled retraining)",
            cpu_limit,
            process_template(env, commands.get("cpu")),
        ),
        PoolSpec(
            "gpu",
            "process",
            "GPU-capable training: torch and XGBoost use CUDA when visible",
            gpu_limit,
            process_template({**env, "TRAINYARD_DEVICE": "auto"}, commands.get("gpu")),
        ),
    ]


def ensure_pool(client: SyncPrefectClient, spec: PoolSpec) -> None:
    """Create the pool, or bring an existing one's template and concurrency limit up to date."""
    try:
        client.read_work_pool(spec.name)
    except ObjectNotFound:
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
