"""Kubernetes on paper: the shipped GPU job template, rendered by prefect-kubernetes's own worker
configuration for a real deployment (``prefect deploy`` of prefect.kubernetes.yaml) and a real flow
run on the real Prefect server, then read back through the Kubernetes API models (``kubernetes``)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient, V1Job
from prefect import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

from deployments.pools import PoolSpec, cluster_template, ensure_pool
from runtime.processes import free_port
from runtime.stack import BIN, Stack
from tests.services import Postgres
from trainyard.settings import PROJECT_ROOT, get_settings

pytestmark = pytest.mark.integration
IMAGE = "registry.example.com/trainyard:1.0"


def _paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON document (list items by position)."""
    if isinstance(value, dict):
        return {p for key, item in value.items() if item is not None for p in _paths(item, f"{prefix}.{key}")}
    if isinstance(value, list):
        return {p for index, item in enumerate(value) for p in _paths(item, f"{prefix}[{index}]")}
    return {prefix}


@pytest.fixture(scope="module")
def cluster_prefect(sandbox: Path, postgres: Postgres) -> Iterator[str]:
    """A Prefect server of its own (on PostgreSQL): deploying prefect.kubernetes.yaml moves the session
    server's xgboost, neural-net and all deployments to the kubernetes pool (same names, by design)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("TRAINYARD_ARTIFACTS_DIR", str(sandbox / "kubernetes"))
    get_settings.cache_clear()
    database = {"PREFECT_SERVER_DATABASE_CONNECTION_URL": postgres.database("prefect_k8s", "asyncpg")}
    stack = Stack(prefect_port=free_port(), api_port=free_port(), extra_env=database)
    try:
        stack.start_server()
        with temporary_settings(updates={PREFECT_API_URL: stack.prefect_api_url}):
            yield stack.prefect_api_url
    finally:
        stack.stop()
        patch.undo()
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def rendered_job(cluster_prefect: str) -> dict[str, Any]:
    prefect_api = cluster_prefect
    with get_client(sync_client=True) as client:
        ensure_pool(client, PoolSpec("kubernetes", "kubernetes", "GPU Jobs", 4, cluster_template("kubernetes")))
    deployed = subprocess.run(
        [str(BIN / "prefect"), "--no-prompt", "deploy", "--prefect-file", "prefect.kubernetes.yaml", "--name",
         "neural-net"], cwd=PROJECT_ROOT, capture_output=True, text=True,
        env={**os.environ, "PREFECT_API_URL": prefect_api, "TRAINYARD_IMAGE": IMAGE},
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stdout[-2000:] + deployed.stderr[-2000:]
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("train-neural-net/neural-net")
        pool = client.read_work_pool("kubernetes")
        flow = client.read_flow(deployment.flow_id)
        flow_run = client.create_flow_run_from_deployment(
            deployment.id, parameters={"params": {"dataset": "churn.csv"}}, job_variables={"gpu_count": "2"}
        )
    values = {**(deployment.job_variables or {}), **(flow_run.job_variables or {})}
    configuration = asyncio.run(
        KubernetesWorkerJobConfiguration.from_template_and_values(pool.base_job_template, values)
    )
    configuration.prepare_for_flow_run(flow_run=flow_run, deployment=deployment, flow=flow, work_pool=pool)
    return {"manifest": configuration.job_manifest, "flow_run_id": str(flow_run.id)}


def test_the_rendered_job_is_a_valid_kubernetes_job(rendered_job: dict[str, Any]) -> None:
    manifest = rendered_job["manifest"]
    with ApiClient() as api:
        job = api.deserialize(json.dumps(manifest), "V1Job", "application/json")
        assert isinstance(job, V1Job)
        # Nothing of the manifest was dropped as unknown to the Kubernetes models (a misspelt field would be),
        # but for the two fields prefect-kubernetes's own validator insists on finding in the pod spec
        # (its default template has them there too); the API server ignores them with a warning.
        required_by_prefect_kubernetes = {".spec.template.spec.completions", ".spec.template.spec.parallelism"}
        assert _paths(api.sanitize_for_serialization(job)) == _paths(manifest) - required_by_prefect_kubernetes
    container = job.spec.template.spec.containers[0]
    assert job.api_version == "batch/v1" and job.kind == "Job" and job.spec.backoff_limit == 0
    assert job.spec.template.spec.restart_policy == "Never"
    assert container.image == IMAGE
    assert container.resources.limits["nvidia.com/gpu"] == "2"  # the flow run's own job variable
    assert any(t.key == "nvidia.com/gpu" and t.effect == "NoSchedule" for t in job.spec.template.spec.tolerations)
    env = {item.name: item.value for item in container.env}
    assert env["TRAINYARD_DEVICE"] == "cuda" and env["PREFECT__FLOW_RUN_ID"] == rendered_job["flow_run_id"]
    assert env["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == "30"  # for runtime.crash_watch's automation
    assert container.args == ["python", "-m", "runtime.run_entry"]
    assert job.metadata.namespace == "trainyard" and job.metadata.generate_name
