"""Two hosts on one machine: the API and the Prefect server (on PostgreSQL) here, every training run
in a container of a Prefect Docker work pool that shares no filesystem with them, only the network
to 127.0.0.1 (dockerd runs with no bridge). Models, staged tables and Prefect's results go to an
S3-compatible server (moto's, standing in for S3 or MinIO); the registry is on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prefect import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

from runtime.crash_watch import HEARTBEAT_SECONDS, SILENCE
from runtime.image import build_image, ensure_dockerd
from runtime.processes import free_port
from runtime.stack import Stack
from tests.integration.helpers import assert_model_served, task_states, wait_for_rerun, wait_for_status
from tests.integration.test_retries import retry
from tests.services import Postgres, S3Endpoint
from trainyard.artifact_store import get_store
from trainyard.registry.auth import create_user, issue_token
from trainyard.settings import get_settings

pytestmark = pytest.mark.integration


@dataclass
class DockerStack:
    stack: Stack
    client: httpx.Client
    bucket: str
    image_seconds: float


def _containers(label: str = "io.prefect.flow-run-id") -> dict[str, str]:
    """Running containers of flow runs: flow-run id -> container id."""
    template = f'{{{{.ID}}}} {{{{.Label "{label}"}}}}'
    out = subprocess.run(["docker", "ps", "--filter", f"label={label}", "--format", template],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return {run: container for container, run in (line.split() for line in out.stdout.splitlines())}


@pytest.fixture(scope="module")
def docker_stack(sandbox: Path, postgres: Postgres, s3_endpoint: S3Endpoint) -> Iterator[DockerStack]:
    ensure_dockerd(sandbox / "dockerd.log")
    image_seconds = build_image(log_file=sandbox / "image-build.log")
    bucket = s3_endpoint.bucket("trainyard-two-hosts")
    host_env = {
        "TRAINYARD_ARTIFACTS_DIR": str(sandbox / "two-hosts"),
        "TRAINYARD_ARTIFACTS_URL": f"{bucket}/artifacts",
        "TRAINYARD_ARTIFACTS_OPTIONS": json.dumps({"endpoint_url": s3_endpoint.url}),
        "TRAINYARD_REGISTRY_URL": postgres.database("registry_two_hosts"),
    }
    patch = pytest.MonkeyPatch()
    for name, value in host_env.items():
        patch.setenv(name, value)
    get_settings.cache_clear()
    stack = Stack(prefect_port=free_port(), api_port=free_port(), pools="docker",
                  extra_env={**host_env, "PREFECT_SERVER_DATABASE_CONNECTION_URL":
                             postgres.database("prefect_two_hosts", "asyncpg")})  # fmt: skip
    client = None
    try:
        stack.start_server()
        stack.create_pools()
        stack.deploy()
        stack.start_workers()
        stack.start_api()
        user = create_user("two-hosts", "pw-two-hosts", "admin")
        client = httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Token {issue_token(user.id)}"},
                              timeout=300)  # fmt: skip
        with temporary_settings(updates={PREFECT_API_URL: stack.prefect_api_url}):
            yield DockerStack(stack, client, bucket, image_seconds)
    finally:
        if client is not None:
            client.close()
        stack.stop()
        for container in _containers().values():
            subprocess.run(["docker", "rm", "-f", container], capture_output=True)
        patch.undo()
        get_settings.cache_clear()


def test_a_run_in_a_container_publishes_a_model_the_api_lists_and_loads(docker_stack: DockerStack) -> None:
    created = docker_stack.client.post("/api/training/train/", json={"model_version": "two-hosts-v1"})
    assert created.status_code == 201, created.text
    detail = assert_model_served(docker_stack.client, created.json()["training_run_id"], "two-hosts-v1")
    assert detail["model_path"] == f"{docker_stack.bucket}/artifacts/models/random-forest/two-hosts-v1"
    # The containers got the bucket's credentials through Secret blocks: the pool's template, which the
    # Prefect UI shows, holds references only.
    with get_client(sync_client=True) as prefect:
        env = prefect.read_work_pool("gpu").base_job_template["variables"]["properties"]["env"]["default"]
    assert env["AWS_SECRET_ACCESS_KEY"] == "{{ prefect.blocks.secret.trainyard-aws-secret-access-key }}"
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in json.dumps(env)
    # Nothing of the run is on this host's disk: no local models or stage folder was ever made.
    local = get_settings().artifacts_dir
    assert not (local / "models").exists() and not (local / "stage").exists()


def test_a_model_in_the_bucket_is_reused_when_nothing_changed(docker_stack: DockerStack) -> None:
    body = {"dataset": "churn.csv", "hyperparameters": {"n_estimators": 5}, "use_cv": False, "retrain": True}
    first = docker_stack.client.post("/train/random-forest", json=body).json()
    wait_for_status(docker_stack.client, first["job_id"], {"completed"}, timeout=180)
    again = docker_stack.client.post("/train/random-forest", json={**body, "retrain": False}).json()
    assert again["cached"] is True and again["job_id"] == first["job_id"], again


def test_a_retry_of_a_failed_run_runs_in_a_new_container_from_the_bucket_cache(docker_stack: DockerStack) -> None:
    store = get_store()
    blocker = store.location("models", "random-forest", "two-hosts-retry", "manifest.json")
    store.fs.pipe_file(blocker, b"{}")  # an object where the model must go: persist fails, the rest is cached
    created = docker_stack.client.post("/api/training/train/", json={"model_version": "two-hosts-retry"})
    assert created.status_code == 500, created.text
    run_id = created.json()["training_run_id"]
    failed = docker_stack.client.get(f"/api/training/runs/{run_id}/").json()
    assert failed["status"] == "FAILED" and "already exists" in failed["error_message"], failed
    store.fs.rm(blocker)

    count = retry(failed["flow_run_id"])
    wait_for_rerun(failed["flow_run_id"], count)
    assert_model_served(docker_stack.client, run_id, "two-hosts-retry")
    states = task_states(failed["flow_run_id"])
    assert {states[s] for s in ("load-dataset", "validate-dataset", "split-dataset")} == {"Cached"}, states


def _running_container(client: httpx.Client) -> tuple[str, str]:
    """A neural net that fits far longer than any test waits, and the container it runs in."""
    body = {"dataset": "churn.csv", "retrain": True, "use_cv": False,
            "hyperparameters": {"epochs": 1000, "batch_size": 16}}  # fmt: skip
    created = client.post("/train/neural-net", json=body)
    assert created.status_code == 200, created.text
    job_id = created.json()["job_id"]
    deadline = time.monotonic() + 180
    while task_states(job_id).get("fit-neural-net") != "Running":  # mid-fit, where a cancel matters
        assert time.monotonic() < deadline, f"run {job_id} never reached its fit: {task_states(job_id)}"
        time.sleep(0.2)
    assert job_id in _containers(), f"no container runs {job_id}"
    return job_id, _containers()[job_id]


# Measured 3.6-5.0 s mid-fit on this 2-core machine (BENCHMARKS.md): ~1 s for the engine to stop, then
# its interpreter's teardown; the bound leaves room for a loaded CI machine.
CONTAINER_GONE_WITHIN = 10.0


def test_cancel_removes_the_container_within_the_cancel_target(docker_stack: DockerStack) -> None:
    job_id, container = _running_container(docker_stack.client)
    started = time.monotonic()
    assert docker_stack.client.delete(f"/train/job/{job_id}").status_code == 200
    while job_id in _containers():
        assert time.monotonic() - started < CONTAINER_GONE_WITHIN, f"container {container} still runs"
        time.sleep(0.1)
    wait_for_status(docker_stack.client, job_id, {"cancelled"}, timeout=30)


def test_a_killed_container_is_crashed_within_90_s(docker_stack: DockerStack) -> None:
    job_id, container = _running_container(docker_stack.client)
    subprocess.run(["docker", "kill", "--signal", "KILL", container], check=True, capture_output=True)
    killed = time.monotonic()
    body = wait_for_status(docker_stack.client, job_id, {"failed"}, timeout=90)
    # Seen by the Docker worker's watch of its container (exit 137): no PID on this host is involved.
    assert body["prefect_state"] == "Crashed" and "137" in (body["error"] or ""), body
    assert time.monotonic() - killed < 90


def test_a_run_whose_host_is_lost_with_its_worker_is_crashed_by_its_missing_heartbeats(
    docker_stack: DockerStack,
) -> None:
    """No worker is left to see the container go: Prefect's heartbeats stop, and the automation of
    runtime.crash_watch marks the run Crashed (last heartbeat + 90 s, heartbeats every 30 s)."""
    job_id, container = _running_container(docker_stack.client)
    worker = next(p for name, p in docker_stack.stack.processes if name == "worker-gpu-0")
    try:
        os.kill(worker.pid, signal.SIGKILL)  # the worker first, then its container: the host is gone
        subprocess.run(["docker", "kill", "--signal", "KILL", container], check=True, capture_output=True)
        lost = time.monotonic()
        body = wait_for_status(docker_stack.client, job_id, {"failed"}, timeout=SILENCE.seconds + 90)
        assert body["prefect_state"] == "Crashed" and "heartbeat" in (body["error"] or ""), body
        assert time.monotonic() - lost < SILENCE.seconds + HEARTBEAT_SECONDS + 30
    finally:
        docker_stack.stack.restart("worker-gpu-0")
