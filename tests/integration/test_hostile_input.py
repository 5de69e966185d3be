"""Datasets a caller should not be able to use: outside the roots, too big, binary, or a full disk."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import Clients
from tests.integration.helpers import wait_for_status
from trainyard.registry.runs import list_model_versions
from trainyard.settings import get_settings

pytestmark = pytest.mark.integration


def _data_root() -> Path:
    return get_settings().data_roots[0]


def test_symlink_out_of_the_data_root_is_refused(live_stack: Clients, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.csv"
    outside.write_text((_data_root() / "future_skills_dataset.csv").read_text())
    (_data_root() / "innocent.csv").symlink_to(outside)
    response = live_stack.hr.post("/train/random-forest", json={"dataset": "innocent.csv", "retrain": True})
    assert response.status_code == 422 and "outside the allowed data roots" in response.text, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "dataset"]


def test_dataset_over_the_size_limit_is_refused_before_anything_reads_it(live_stack: Clients) -> None:
    huge = _data_root() / "huge.csv"
    with open(huge, "wb") as handle:  # sparse: the limit is checked from the size, nothing is read
        handle.truncate(get_settings().max_dataset_bytes + 1)
    response = live_stack.hr.post("/train/random-forest", json={"dataset": "huge.csv", "retrain": True})
    assert response.status_code == 422 and "-byte limit" in response.text, response.text


def test_binary_file_fails_the_run_with_a_message_naming_the_problem(live_stack: Clients) -> None:
    (_data_root() / "binary.csv").write_bytes(os.urandom(64 * 1024))
    response = live_stack.hr.post("/api/training/train/", json={"dataset_path": "binary.csv"})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "FAILED" and "not valid UTF-8" in body["error"], body
    detail = live_stack.hr.get(f"/api/training/runs/{body['training_run_id']}/").json()
    assert detail["status"] == "FAILED" and "not valid UTF-8" in detail["error_message"]


@contextlib.contextmanager
def _full_disk_at(directory: Path) -> Iterator[None]:
    """Mount a 1 MiB tmpfs at ``directory`` and fill it: every write there fails with ENOSPC."""
    directory.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(directory)],
                             capture_output=True, text=True)  # fmt: skip
    # Never a silent skip: CI runs as root, where this works; anywhere else the reason is the failure.
    assert mounted.returncode == 0, f"cannot mount a tmpfs (run the suite as root): {mounted.stderr.strip()}"
    try:
        with open(directory / "filler", "wb") as filler, contextlib.suppress(OSError):
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        yield
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=True)


def test_full_artifacts_disk_fails_the_run_and_registers_no_half_written_model(live_stack: Clients) -> None:
    family_dir = get_settings().models_dir / "xgboost"
    with _full_disk_at(family_dir):
        response = live_stack.hr.post("/train/xgboost", json={"dataset": "future_skills_dataset.csv",
                                                              "retrain": True, "use_cv": False,
                                                              "hyperparameters": {"n_estimators": 20}})  # fmt: skip
        job_id = response.json()["job_id"]
        body = wait_for_status(live_stack.hr, job_id, {"completed", "failed"})
        assert body["status"] == "failed" and "No space left on device" in (body["error"] or ""), body
        assert sorted(p.name for p in family_dir.iterdir()) == ["filler"]  # no staging or partial version left
    runs = live_stack.hr.get("/api/training/runs/", params={"status": "FAILED", "model_type": "xgboost"}).json()
    failed = [r for r in runs["results"] if r["status"] == "FAILED"]
    assert failed, runs
    detail = live_stack.hr.get(f"/api/training/runs/{failed[0]['id']}/").json()
    assert detail["flow_run_id"] == job_id and "No space left on device" in detail["error_message"]
    assert detail["model_path"] is None and all(run.flow_run_id != job_id for _, run in list_model_versions())
