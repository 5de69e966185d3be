"""Pure pieces of the multi-host setup: store locations, the Docker pool template, what containers get."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployments.pools import RUN_ENTRY, docker_pools
from runtime.image import _requirements
from runtime.result_storage import BLOCK_SLUG, result_storage_env
from runtime.stack import Stack
from trainyard.artifact_store import ArtifactStore


def test_an_s3_store_names_objects_by_url_and_a_local_one_by_path(tmp_path: Path) -> None:
    s3 = ArtifactStore("s3://bucket/prefix/", {"endpoint_url": "http://127.0.0.1:9"})
    assert not s3.is_local and s3.root == "s3://bucket/prefix"
    assert s3.location("models", "xgboost", "v1") == "s3://bucket/prefix/models/xgboost/v1"
    assert result_storage_env(s3) == {"PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK": BLOCK_SLUG}
    local = ArtifactStore(str(tmp_path))
    assert local.is_local and local.location("stage", "a.arrow") == str(tmp_path / "stage" / "a.arrow")
    assert result_storage_env(local) == {"PREFECT_LOCAL_STORAGE_PATH": str(tmp_path / "stage" / "results")}


def test_docker_pools_run_the_image_on_the_host_network_and_never_pull() -> None:
    cpu, gpu = docker_pools({"A": "1"}, "trainyard:test", cpu_limit=2, gpu_limit=1)
    assert (cpu.name, gpu.name, cpu.type, gpu.type) == ("cpu", "gpu", "docker", "docker")
    defaults = {k: v.get("default") for k, v in gpu.base_job_template["variables"]["properties"].items()}
    assert defaults["image"] == "trainyard:test" and defaults["image_pull_policy"] == "Never"
    assert defaults["network_mode"] == "host" and defaults["command"] == RUN_ENTRY
    assert defaults["env"] == {"A": "1", "TRAINYARD_DEVICE": "auto"} and gpu.concurrency_limit == 1


def test_docker_pools_are_refused_with_a_store_or_registry_on_this_host() -> None:
    with pytest.raises(ValueError, match="TRAINYARD_ARTIFACTS_URL"):
        Stack(pools="docker").container_env()  # the test settings: a local folder and SQLite


def test_the_image_installs_the_projects_own_dependencies() -> None:
    requirements = _requirements().splitlines()
    assert any(r.startswith("prefect") for r in requirements) and any(r.startswith("s3fs") for r in requirements)
