"""The training-runs contract (seed 000), including the seed document's own examples."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.integration.conftest import Clients
from trainyard.settings import get_settings

pytestmark = pytest.mark.integration


def test_seed_train_example_answers_201_with_metrics(live_stack: Clients) -> None:
    # The seed's request body, with the dataset path adjusted to this data root.
    response = live_stack.hr.post(
        "/api/training/train/",
        json={"dataset_path": "future_skills_dataset.csv", "test_split": 0.2,
              "hyperparameters": {"n_estimators": 100, "max_depth": 15, "min_samples_split": 5},
              "model_version": "v3.0", "notes": "Production model"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "COMPLETED" and body["model_version"] == "v3.0"
    assert body["message"].startswith("Training completed successfully in ")
    assert set(body["metrics"]) == {"accuracy", "precision", "recall", "f1_score", "training_duration_seconds"}
    assert 0.5 < body["metrics"]["accuracy"] <= 1

    detail = live_stack.manager.get(f"/api/training/runs/{body['training_run_id']}/").json()
    assert detail["hyperparameters"]["max_depth"] == 15 and detail["n_estimators"] == 100
    assert detail["total_samples"] == 357 and detail["train_samples"] == 285 and detail["test_samples"] == 72
    assert detail["trained_by_username"] == "test-hr_staff" and detail["notes"] == "Production model"
    assert set(detail["per_class_metrics"]) == {"HIGH", "MEDIUM"}
    assert {"accuracy", "precision", "recall", "f1_score", "support"} <= set(detail["per_class_metrics"]["HIGH"])
    assert detail["features_used"][0] == "job_role_name" and len(detail["dataset_sha256"]) == 64
    assert detail["device"] == "cpu" and detail["flow_run_id"] and detail["error_message"] is None

    duplicate = live_stack.hr.post("/api/training/train/", json={"model_version": "v3.0"})
    assert duplicate.status_code == 400 and "model_version" in duplicate.json()["details"]


def test_async_training_answers_202(live_stack: Clients) -> None:
    response = live_stack.hr.post("/api/training/train/", json={"async_training": True,
                                                                "hyperparameters": {"n_estimators": 5}})  # fmt: skip
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "RUNNING" and body["job_id"] and body["model_version"].startswith("api_v")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"test_split": 0.9}, "test_split"),
        ({"hyperparameters": {"n_estimators": 0}}, "hyperparameters.n_estimators"),
        ({"hyperparameters": {"max_depth": 101}}, "hyperparameters.max_depth"),
        ({"hyperparameters": {"min_samples_split": 1}}, "hyperparameters.min_samples_split"),
        ({"hyperparameters": {"bogus": 1}}, "hyperparameters.bogus"),
        ({"model_version": "v 1/2"}, "model_version"),
        ({"dataset_path": "../secrets.csv"}, "dataset"),
        ({"hyperparameters": {"n_jobs": False}}, "hyperparameters.n_jobs"),
        ({"async_training": "yes"}, "async_training"),
        ({"dataset_path": "x" * 1025}, "dataset_path"),
    ],
)
def test_invalid_requests_are_400_naming_the_field(live_stack: Clients, payload: dict, field: str) -> None:
    response = live_stack.hr.post("/api/training/train/", json=payload)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "Invalid request data"
    assert field in response.json()["details"]


def test_schema_violation_is_a_failed_run_with_its_message(live_stack: Clients) -> None:
    frame = pd.read_csv(get_settings().data_roots[0] / "future_skills_dataset.csv")
    frame.loc[4, "hiring_difficulty"] = 7.5
    frame.to_csv(get_settings().data_roots[0] / "bad_range.csv", index=False)
    response = live_stack.hr.post("/api/training/train/", json={"dataset_path": "bad_range.csv"})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "FAILED" and "hiring_difficulty" in body["error"] and "4 (7.5)" in body["error"]
    detail = live_stack.hr.get(f"/api/training/runs/{body['training_run_id']}/").json()
    assert detail["status"] == "FAILED" and "hiring_difficulty" in detail["error_message"]
    assert detail["accuracy"] is None


def test_runs_list_paginates_filters_and_orders(live_stack: Clients) -> None:
    for _ in range(2):
        assert (
            live_stack.hr.post("/api/training/train/", json={"hyperparameters": {"n_estimators": 5}}).status_code == 201
        )
    first = live_stack.manager.get("/api/training/runs/", params={"page_size": 1}).json()
    assert first["count"] >= 2 and len(first["results"]) == 1 and "page=2" in first["next"]
    assert first["previous"] is None
    second = live_stack.manager.get(first["next"].replace(live_stack.stack.api_url, "")).json()
    assert second["results"][0]["id"] < first["results"][0]["id"]
    completed = live_stack.manager.get("/api/training/runs/", params={"status": "completed"}).json()["results"]
    assert completed and all(run["status"] == "COMPLETED" and run["accuracy"] is not None for run in completed)
    mine = live_stack.manager.get("/api/training/runs/", params={"trained_by": "test-hr_staff"}).json()
    assert mine["count"] >= 2
    assert live_stack.manager.get("/api/training/runs/", params={"status": "DONE"}).status_code == 400
    assert live_stack.manager.get("/api/training/runs/999999/").status_code == 404
    assert live_stack.manager.post("/api/training/train/", json={}).status_code == 403


def test_the_seed_documents_python_example_runs_verbatim(live_stack: Clients) -> None:
    """The seed's ``requests`` example, only BASE_URL and TOKEN substituted, against the stack."""
    source = (Path(__file__).parent / "seed_examples" / "training_api_quick_reference.py").read_text()
    token = live_stack.hr.headers["Authorization"].split()[1]
    source = source.replace('"http://localhost:8000"', repr(live_stack.stack.api_url))
    source = source.replace('"your_token_here"', repr(token))
    source = source.replace('"v1.0"', '"seed-example-v1.0"')  # versions are unique per model type
    result = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Training Run ID: " in result.stdout and "Accuracy: " in result.stdout
    assert "Hyperparameters: {'n_estimators': 100" in result.stdout
