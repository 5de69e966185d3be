"""Hostile and careless callers, and the seed contracts taken literally, against the running API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import Clients
from tests.integration.helpers import paused_pools, wait_for_status

pytestmark = pytest.mark.integration
LIMIT = 1024 * 1024
TRAINYARD = Path(sys.executable).parent / "trainyard"


def test_a_body_over_the_limit_is_refused_413_before_parsing(live_stack: Clients) -> None:
    body = json.dumps({"model_type": "xgboost", "hyperparameters": {f"k{i}": i for i in range(700_000)}})
    assert len(body) > 10 * LIMIT
    started = time.monotonic()
    response = live_stack.hr.post("/train", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and str(LIMIT) in response.json()["detail"], response.text[:300]
    assert len(response.content) < 200 and time.monotonic() - started < 5


def test_a_chunked_body_over_the_limit_is_refused_too(live_stack: Clients) -> None:
    def chunks():  # no Content-Length: the API counts as it reads
        yield b'{"model_type": "xgboost", "dataset": "'
        for _ in range(2 * LIMIT // 65536 + 1):
            yield b"a" * 65536
        yield b'"}'

    response = live_stack.hr.post("/train", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413, response.text[:300]


def test_error_bodies_are_bounded_and_never_echo_a_long_value(live_stack: Clients) -> None:
    many = {"model_type": "xgboost", "hyperparameters": {f"unknown_{i}": i for i in range(20_000)}}
    response = live_stack.hr.post("/train", json=many)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert len(errors) <= 21 and errors[-1]["type"] == "too_many_errors" and len(response.content) < 20_000
    long_value = "x" * 500_000
    response = live_stack.hr.post("/train", json={"model_type": "xgboost", "dataset": long_value})
    assert response.status_code == 422 and len(response.content) < 2_000, len(response.content)
    drf = live_stack.hr.post("/api/training/train/", json={"notes": long_value, "model_version": "no spaces"})
    assert drf.status_code == 400 and len(drf.content) < 2_000 and "model_version" in drf.json()["details"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [("Token {key}", 200), ("token {key}", 200), ("TOKEN {key}", 200), ("Bearer {key}", 401), ("{key}", 401)],
)
def test_only_the_token_scheme_is_accepted(live_stack: Clients, header: str, expected: int) -> None:
    key = live_stack.manager.headers["Authorization"].split(" ", 1)[1]
    response = live_stack.anonymous.get("/train/jobs", headers={"Authorization": header.format(key=key)})
    assert response.status_code == expected, response.text
    if expected == 401:
        assert response.headers["WWW-Authenticate"] == "Token" and "Token <key>" in response.json()["detail"]


def test_errors_name_the_field_as_the_caller_wrote_it(live_stack: Clients) -> None:
    bad_json = live_stack.hr.post(
        "/api/training/train/", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400 and list(bad_json.json()["details"]) == ["non_field_errors"], bad_json.text
    flat = live_stack.hr.post("/train", json={"model_type": "all", "hyperparameters": {"n_estimators": 10}})
    assert flat.status_code == 422
    assert flat.json()["detail"][0]["loc"] == ["body", "hyperparameters", "n_estimators"], flat.text


@pytest.mark.parametrize("body", [None, {}], ids=["no body", "empty object"])
def test_seed_000_every_field_is_optional(live_stack: Clients, body: dict | None) -> None:
    response = live_stack.hr.post("/api/training/train/", json=body) if body is not None else \
        live_stack.hr.post("/api/training/train/")  # fmt: skip
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "COMPLETED" and response.json()["model_version"].startswith("api_v")


def test_seed_000_literal_default_dataset_path_is_the_data_roots_copy(live_stack: Clients) -> None:
    response = live_stack.hr.post("/api/training/train/", json={"dataset_path": "ml/data/future_skills_dataset.csv"})
    assert response.status_code == 201, response.text
    run = live_stack.hr.get(f"/api/training/runs/{response.json()['training_run_id']}/").json()
    assert run["dataset_path"].endswith("future_skills_dataset.csv") and "ml/data" not in run["dataset_path"]
    escape = live_stack.hr.post("/api/training/train/", json={"dataset_path": "ml/data/../../etc/passwd"})
    assert escape.status_code == 400, escape.text


def test_seed_003_literal_curl_trains_xgboost(live_stack: Clients) -> None:
    # curl -X POST "http://127.0.0.1:8000/train/xgboost" -H "Authorization: Token …": no body, no content type
    token = live_stack.hr.headers["Authorization"]
    response = httpx.post(f"{live_stack.stack.api_url}/train/xgboost", headers={"Authorization": token}, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Training initiated for xgboost" and body["model_type"] == "xgboost"
    if body["status"] != "completed":  # `retrain` defaults to false: an earlier identical model is reused
        assert wait_for_status(live_stack.hr, body["job_id"], {"completed", "failed"})["status"] == "completed"


def test_a_job_cancelled_before_it_started_never_started(live_stack: Clients) -> None:
    with paused_pools(("cpu",)):
        job_id = live_stack.hr.post("/train/random-forest", json={"retrain": True}).json()["job_id"]
        assert live_stack.hr.delete(f"/train/job/{job_id}").json()["status"] == "cancelled"
    body = wait_for_status(live_stack.hr, job_id, {"cancelled"})
    assert body["started_at"] is None and body["completed_at"] is not None, body


def _cli(*args: str) -> str:
    result = subprocess.run([str(TRAINYARD), *args], capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_second_user_made_with_the_cli_reads_and_cannot_train(live_stack: Clients) -> None:
    out = _cli("users", "add", "newcomer-manager", "--role", "manager", "--password", "pw-manager", "--token")
    token = next(line.split()[1] for line in out.splitlines() if line.startswith("token "))
    manager = {"Authorization": f"Token {token}"}
    api = live_stack.anonymous
    assert api.get("/api/training/runs/", headers=manager).status_code == 200
    assert api.get("/train/models/available", headers=manager).status_code == 200
    assert api.post("/train/xgboost", headers=manager).status_code == 403
    login = api.post("/api-token-auth/", json={"username": "newcomer-manager", "password": "pw-manager"})
    assert login.status_code == 200
    assert "newcomer-manager" in _cli("users", "list") and "manager" in _cli("tokens", "list", "newcomer-manager")

    unused = _cli("tokens", "create", "newcomer-manager").strip()  # never used, so never cached by the API
    _cli("users", "disable", "newcomer-manager")
    assert api.get("/train/jobs", headers={"Authorization": f"Token {unused}"}).status_code == 401
    refused = api.post("/api-token-auth/", json={"username": "newcomer-manager", "password": "pw-manager"})
    assert refused.status_code == 400


PUBLIC = {("GET", "/health"), ("POST", "/api-token-auth/")}
ADMIN_ONLY = {("GET", "/audit")}
# A request per route that is authorised but stops at validation or lookup (nothing is trained).
NO_SUCH_MODEL = "/train/models/xgboost/no-such-version"
HARMLESS = {"/train/{model_type}": ("/train/xgboost", {"retrain": "yes"}), "/train": ("/train", {}),
            "/api/training/train/": ("/api/training/train/", {"test_split": 5}),
            "/train/status/{job_id}": ("/train/status/00000000-0000-0000-0000-000000000000", None),
            "/train/job/{job_id}": ("/train/job/00000000-0000-0000-0000-000000000000", None),
            "/api/training/runs/{run_id}/": ("/api/training/runs/999999999/", None),
            "/train/models/{model_type}/{version}/aliases": (f"{NO_SUCH_MODEL}/aliases", {"alias": "x"}),
            "/train/models/{model_type}/{version}/aliases/{alias}": (f"{NO_SUCH_MODEL}/aliases/x", None),
            "/score": ("/score", {"model": "xgboost:no-such-version"}),
            "/predict/{family}": ("/predict/xgboost?version=no-such-version", {"rows": [{}]}),
            "/schedules": ("/schedules", {"dataset": "churn", "cron": "0 2 * * *"}),  # neither families nor score
            "/schedules/{schedule_id}": ("/schedules/churn.xgboost.00000000", {"active": False})}  # fmt: skip


def test_every_route_answers_401_without_a_token_and_403_to_a_role_without_the_right(live_stack: Clients) -> None:
    spec = live_stack.anonymous.get("/openapi.json").json()
    checked = 0
    for path, operations in spec["paths"].items():
        for method in operations:
            if (method.upper(), path) in PUBLIC:
                continue
            url, body = HARMLESS.get(path, (path, None))
            send = {"method": method.upper(), "url": url, **({"json": body} if body is not None else {})}
            assert live_stack.anonymous.request(**send).status_code == 401, send
            if (method.upper(), path) in ADMIN_ONLY:
                assert live_stack.manager.request(**send).status_code == 403, send
                assert live_stack.hr.request(**send).status_code == 403, send
                assert live_stack.admin.request(**send).status_code not in {401, 403}, send
                checked += 1
                continue
            writes = method.upper() in {"POST", "PATCH", "DELETE"}
            assert (live_stack.manager.request(**send).status_code == 403) == writes, send
            for allowed in (live_stack.admin, live_stack.hr):
                assert allowed.request(**send).status_code not in {401, 403}, send
            checked += 1
    # every authenticated operation: the two contracts, the aliases routes, /datasets, /score, /predict,
    # the four /schedules routes and /audit (admins only)
    assert checked == 20, checked


def test_a_tampered_model_is_dropped_from_the_available_models(live_stack: Clients) -> None:
    body = {"dataset": "future_skills_dataset.csv", "retrain": True, "use_cv": False,
            "hyperparameters": {"n_estimators": 5}}  # fmt: skip
    job_id = live_stack.hr.post("/train/random-forest", json=body).json()["job_id"]
    done = wait_for_status(live_stack.hr, job_id, {"completed", "failed"})
    name = next(k for k, v in live_stack.hr.get("/train/models/available").json()["available_models"].items()
                if v["job_id"] == job_id)  # fmt: skip
    model_file = next(p for p in Path(done["model_path"]).iterdir() if p.name != "manifest.json")
    original = model_file.read_bytes()
    try:
        model_file.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # one bit flipped
        assert name not in live_stack.hr.get("/train/models/available").json()["available_models"]
    finally:
        model_file.write_bytes(original)
    assert name in live_stack.hr.get("/train/models/available").json()["available_models"]


def test_prefect_result_store_holds_no_pickle(live_stack: Clients, sandbox: Path) -> None:
    import pandas as pd

    from trainyard.settings import get_settings

    frame = pd.read_csv(sandbox / "data" / "future_skills_dataset.csv").drop(columns=["trend_score"])
    frame.to_csv(sandbox / "data" / "no_trend_results.csv", index=False)
    job_id = live_stack.hr.post("/train/random-forest", json={"dataset": "no_trend_results.csv"}).json()["job_id"]
    assert wait_for_status(live_stack.hr, job_id, {"completed", "failed"})["status"] == "failed"
    records = [p for p in (get_settings().stage_dir / "results").iterdir() if p.is_file()]
    assert records
    for record in records:  # task records (JSON, with their serializer named) and flow results (plain JSON)
        document = json.loads(record.read_bytes())  # a pickle, raw or base64, is not JSON
        if "metadata" in document:
            assert document["metadata"]["serializer"]["type"] == "json", (record.name, document["metadata"])
