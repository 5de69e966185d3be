"""A burst of simultaneous triggers: one run per Idempotency-Key, no lost or duplicated run, no 5xx."""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.integration.conftest import Clients
from tests.integration.helpers import paused_pools
from trainyard.registry.runs import get_run

pytestmark = pytest.mark.integration
PAYLOAD = {"dataset": "future_skills_dataset.csv", "retrain": True, "use_cv": False}


def _burst(client: httpx.Client, headers: list[dict[str, str]]) -> list[httpx.Response]:
    # How long a burst takes on SQLite is measured in bench/concurrency.py; here only what it yields is
    # asserted, so the client waits as long as the API keeps retrying the database's 503s.
    with httpx.Client(base_url=client.base_url, headers=client.headers, timeout=600) as patient, \
            ThreadPoolExecutor(len(headers)) as pool:  # fmt: skip
        return list(pool.map(lambda h: patient.post("/train/random-forest", json=PAYLOAD, headers=h), headers))


def test_fifty_simultaneous_triggers_with_and_without_idempotency_keys(live_stack: Clients) -> None:
    # One burst of 50: 25 requests share 5 keys (5 each), 25 carry none.
    headers = [{"Idempotency-Key": f"burst-{i % 5}"} if i < 25 else {} for i in range(50)]
    with paused_pools():  # the runs only need to exist; the pools would take minutes to train them all
        responses = _burst(live_stack.hr, headers)
        for response in responses:  # SQLite's "database is locked" never reaches a client
            assert response.status_code == 200, response.text

        jobs_by_key: dict[str, set[str]] = defaultdict(set)
        for header, response in zip(headers[:25], responses[:25], strict=True):
            jobs_by_key[header["Idempotency-Key"]].add(response.json()["job_id"])
        assert all(len(ids) == 1 for ids in jobs_by_key.values()), jobs_by_key
        keyed_jobs = set().union(*jobs_by_key.values())
        unkeyed_jobs = {response.json()["job_id"] for response in responses[25:]}
        assert len(keyed_jobs) == 5 and len(unkeyed_jobs) == 25 and not keyed_jobs & unkeyed_jobs

        # Each run is in Prefect exactly once and has its registry row.
        listed = live_stack.hr.get("/train/jobs", params={"status": "started", "limit": 100}).json()["jobs"]
        listed_ids = [job["job_id"] for job in listed]
        assert len(listed_ids) == len(set(listed_ids)) and keyed_jobs | unkeyed_jobs <= set(listed_ids)
        assert all(get_run(job_id) is not None for job_id in keyed_jobs | unkeyed_jobs)


def test_idempotency_key_reused_for_another_request_is_refused(live_stack: Clients) -> None:
    headers = {"Idempotency-Key": "reused-key"}
    with paused_pools():
        first = live_stack.hr.post("/train/random-forest", json=PAYLOAD, headers=headers)
        assert first.status_code == 200, first.text
        other = live_stack.hr.post("/train/random-forest", json={**PAYLOAD, "hyperparameters": {"n_estimators": 7}},
                                   headers=headers)  # fmt: skip
        assert other.status_code == 422 and other.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
        assert first.json()["job_id"] in other.json()["detail"][0]["msg"]
        # The same key on another job type is another request scope, as in Prefect (per deployment).
        xgb = live_stack.hr.post("/train/xgboost", json=PAYLOAD, headers=headers)
        assert xgb.status_code == 200 and xgb.json()["job_id"] != first.json()["job_id"]


def test_seed_route_replays_a_retried_request_and_refuses_a_different_one(live_stack: Clients) -> None:
    headers = {"Idempotency-Key": "seed-retry"}
    request = {"dataset_path": "future_skills_dataset.csv", "async_training": True}
    with paused_pools():
        first = live_stack.hr.post("/api/training/train/", json=request, headers=headers)
        again = live_stack.hr.post("/api/training/train/", json=request, headers=headers)
        assert first.status_code == again.status_code == 202, (first.text, again.text)
        assert again.json()["training_run_id"] == first.json()["training_run_id"]
        assert again.json()["model_version"] == first.json()["model_version"]  # not a newly generated one
        other = live_stack.hr.post("/api/training/train/", json={**request, "test_split": 0.3}, headers=headers)
        assert other.status_code == 400 and "Idempotency-Key" in other.json()["details"], other.text
