"""The API reference page (``docs/api.md``), generated from the app's own OpenAPI document.

    .venv/bin/python -m api.reference > docs/api.md

Every operation gets its roles, parameters, body, documented answers and one worked example;
``tests/unit/test_api_reference.py`` fails when the page is stale or a route has no example.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from api.main import create_app
from trainyard.settings import Settings

_DEFAULT = {name: field.default for name, field in Settings.model_fields.items()}
HEADER = f"""# trainyard API reference

Generated from the API's OpenAPI document (`python -m api.reference > docs/api.md`); the live document
is served at `/openapi.json`, browsable at `/docs`. Every route except `/health`, `/docs`,
`/openapi.json` and `POST /api-token-auth/` needs `Authorization: Token <key>` (the keyword is matched
case-insensitively, as Django REST framework does; `Bearer` is refused). A missing or unknown token
is **401** with `WWW-Authenticate: Token`; a token past its expiry is **401** `token expired`; a known
token without the role is **403**. Roles: `admin` (everything, and `GET /audit`), `hr_staff` (train,
cancel, read), `manager` (read). Request bodies over 1 MiB are **413**; `503` with `Retry-After: 5`
means the Prefect server did not answer (nothing was lost).

Failed logins are throttled (defaults; the operating guide names the settings): past \
{_DEFAULT["login_failures_per_user"]} failures for one user name from one address, \
{_DEFAULT["login_failures_per_address"]} from one address, or {_DEFAULT["login_failures_per_user_total"]} \
for one user name from every address (then only addresses that failed for it) within \
{_DEFAULT["login_window_seconds"]:.0f} s, `POST /api-token-auth/` answers **429** with `Retry-After` \
(from {_DEFAULT["login_delay_seconds"]:.0f} s, doubling with each further failure, at most \
{_DEFAULT["login_max_delay_seconds"]:.0f} s). A success clears its user name's and address's count.

Examples use `TOKEN` from `trainyard tokens create <user>` (or `POST /api-token-auth/`) and the API
on `localhost:8000`.
"""
AUTH = '-H "Authorization: Token $TOKEN"'
JSON = "-H 'Content-Type: application/json'"
# (roles, example request, example answer) per operation.
_SCHEDULE = {
    "id": "penguins.xgboost.c5049bc1",
    "dataset": "penguins",
    "kind": "train",
    "job": "xgboost",
    "model": None,
    "cron": "0 2 * * *",
    "timezone": "UTC",
    "promote": True,
    "active": True,
    "deployed": True,
    "deployment": "train-xgboost/xgboost",
    "deployment_paused": False,
    "next_run_at": "2026-12-08T02:00:00Z",
    "problem": None,
    "prefect_ui_url": "http://127.0.0.1:4200/deployments/deployment/2b7c…",
}
EXAMPLES: dict[tuple[str, str], tuple[str, str, Any]] = {
    ("POST", "/api-token-auth/"): (
        "anyone",
        f'curl -s -X POST localhost:8000/api-token-auth/ {JSON} -d \'{{"username": "ana", "password": "…"}}\'',
        {"token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"},
    ),
    ("GET", "/health"): ("anyone", "curl -s localhost:8000/health", {"status": "ok"}),
    ("GET", "/audit"): (
        "admin",
        f"curl -s 'localhost:8000/audit?user=ana&since=2026-12-08T00:00:00Z&limit=2' {AUTH}",
        {
            "total": 7,
            "limit": 2,
            "offset": 0,
            "entries": [
                {"id": 812, "at": "2026-12-08T09:14:03Z", "actor": "ana", "action": "run.started", "outcome": "ok",
                 "target": "0b6f2f3e-…", "address": None,
                 "detail": {"job_type": "xgboost", "dataset": "churn.csv", "idempotency_key": None}},
                {"id": 811, "at": "2026-12-08T09:13:58Z", "actor": "ana", "action": "login", "outcome": "ok",
                 "target": None, "address": "10.0.4.17", "detail": {}},
            ],
        },
    ),
    ("POST", "/train/{model_type}"): (
        "admin, hr_staff",
        f'curl -s -X POST "http://127.0.0.1:8000/train/xgboost" {AUTH}',
        {
            "job_id": "0b6f2f3e-…",
            "status": "started",
            "message": "Training initiated for xgboost",
            "model_type": "xgboost",
            "prefect_ui_url": "http://127.0.0.1:4200/runs/flow-run/0b6f2f3e-…",
        },
    ),
    ("POST", "/train"): (
        "admin, hr_staff",
        f"curl -s -X POST localhost:8000/train {AUTH} {JSON} "
        '-d \'{"model_type": "all", "use_cv": true, "retrain": true}\'',
        {
            "job_id": "5c1d…",
            "status": "started",
            "message": "Training initiated for all",
            "model_type": "all",
            "prefect_ui_url": "http://127.0.0.1:4200/runs/flow-run/5c1d…",
        },
    ),
    ("GET", "/train/status/{job_id}"): (
        "admin, hr_staff, manager",
        f"curl -s localhost:8000/train/status/0b6f2f3e-… {AUTH}",
        {
            "job_id": "0b6f2f3e-…",
            "status": "completed",
            "prefect_state": "Completed",
            "model_type": "xgboost",
            "started_at": "2026-11-24T08:00:01+00:00",
            "completed_at": "2026-11-24T08:00:03+00:00",
            "model_path": "artifacts/models/xgboost/v20261124_080001-0b6f2f3e",
            "metrics": {"accuracy": 0.91},
            "error": None,
            "logs": ["… fitted in 0.84s"],
            "sub_jobs": [],
            "message": None,
            "progress": {"fraction": 1.0, "step": "done"},
            "champion": {
                "is_champion": False,
                "promoted": False,
                "reason": "f1_macro 0.7040 does not beat champion v20261123_020000-77aa01c2's 0.7051 on this run's "
                "held-out rows by more than 0",
            },
        },
    ),
    ("GET", "/train/jobs"): (
        "admin, hr_staff, manager",
        f'curl -s "localhost:8000/train/jobs?limit=10&status=running" {AUTH}',
        {
            "jobs": [
                {
                    "job_id": "5c1d…",
                    "status": "running",
                    "prefect_state": "Running",
                    "model_type": "all",
                    "started_at": "2026-11-24T08:01:00+00:00",
                    "completed_at": None,
                }
            ],
            "total_count": 1,
            "filtered_count": 1,
        },
    ),
    ("DELETE", "/train/job/{job_id}"): (
        "admin, hr_staff",
        f"curl -s -X DELETE localhost:8000/train/job/5c1d… {AUTH}",
        {"message": "Job 5c1d… cancelled successfully", "job_id": "5c1d…", "status": "cancelling"},
    ),
    ("POST", "/score"): (
        "admin, hr_staff",
        f"curl -s -X POST localhost:8000/score {AUTH} {JSON} "
        '-d \'{"model": "xgboost@champion", "dataset": "churn"}\'',
        {
            "job_id": "7e21…",
            "status": "started",
            "message": "Scoring churn with xgboost@champion",
            "model_type": "score",
            "prefect_ui_url": "http://127.0.0.1:4200/runs/flow-run/7e21…",
            "cached": False,
        },
    ),
    ("POST", "/predict/{family}"): (
        "admin, hr_staff",
        f"curl -s -X POST 'localhost:8000/predict/xgboost?dataset=churn' {AUTH} {JSON} "
        '-d \'{"rows": [{"customer": "C-1", "revenue": 41.5, "months": 12, "children": 0, ...}]}\'',
        {
            "model_type": "xgboost",
            "model_version": "v20261124_080001-0b6f2f3e",
            "dataset": "churn",
            "task": "classification",
            "predictions": [0],
            "probabilities": [{"0": 0.83, "1": 0.17}],
        },
    ),
    ("GET", "/datasets"): (
        "admin, hr_staff, manager",
        f"curl -s localhost:8000/datasets {AUTH}",
        {
            "datasets": [
                {
                    "name": "attrition",
                    "file": "attrition.csv",
                    "task": "classification",
                    "target": "attrition_risk",
                    "classes": ["HIGH", "LOW"],
                    "primary_metric": "f1_macro",
                    "spec_sha256": "9a0e…",
                    "builtin": False,
                    "columns": {
                        "employee_id": {"type": "id", "min": None, "max": None, "nullable": False},
                        "department": {"type": "category", "min": None, "max": None, "nullable": False},
                        "tenure_years": {"type": "float", "min": 0.0, "max": 22.2, "nullable": False},
                    },
                }
            ],
            "count": 1,
        },
    ),
    ("GET", "/schedules"): (
        "admin, hr_staff, manager",
        f"curl -s 'localhost:8000/schedules?dataset=penguins' {AUTH}",
        {"schedules": [_SCHEDULE], "count": 1},
    ),
    ("POST", "/schedules"): (
        "admin, hr_staff",
        f"curl -s -X POST localhost:8000/schedules {AUTH} {JSON} "
        '-d \'{"dataset": "penguins", "families": ["xgboost"], "cron": "0 2 * * *", "promote": true}\'',
        {"schedules": [_SCHEDULE], "count": 1},
    ),
    ("PATCH", "/schedules/{schedule_id}"): (
        "admin, hr_staff",
        f"curl -s -X PATCH localhost:8000/schedules/penguins.xgboost.c5049bc1 {AUTH} {JSON} "
        "-d '{\"active\": false}'",
        {**_SCHEDULE, "active": False, "next_run_at": None},
    ),
    ("DELETE", "/schedules/{schedule_id}"): (
        "admin, hr_staff",
        f"curl -s -X DELETE localhost:8000/schedules/penguins.xgboost.c5049bc1 {AUTH}",
        _SCHEDULE,
    ),
    ("GET", "/train/models/available"): (
        "admin, hr_staff, manager",
        f"curl -s localhost:8000/train/models/available {AUTH}",
        {
            "available_models": {
                "xgboost/v20261124_080001-0b6f2f3e": {
                    "path": "artifacts/models/xgboost/v20261124_080001-0b6f2f3e",
                    "type": "xgboost",
                    "size": 48211,
                    "modified": "2026-11-24T08:00:03+00:00",
                    "version": "v20261124_080001-0b6f2f3e",
                    "job_id": "0b6f2f3e-…",
                    "sha256": "3f1c…",
                    "metrics": {"accuracy": 0.91},
                    "dataset": "data/churn.csv",
                    "aliases": ["champion"],
                }
            },
            "models_directory": "artifacts/models",
        },
    ),
    ("POST", "/train/models/{model_type}/{version}/aliases"): (
        "admin, hr_staff",
        f"curl -s -X POST localhost:8000/train/models/xgboost/v20261124_080001-0b6f2f3e/aliases {AUTH} {JSON} "
        '-d \'{"alias": "champion"}\'',
        {
            "model_type": "xgboost",
            "dataset": "data/churn.csv",
            "alias": "champion",
            "version": "v20261124_080001-0b6f2f3e",
            "previous_version": "v20261123_020000-77aa01c2",
            "set_by": "ana",
            "set_at": "2026-11-24T09:12:00+00:00",
        },
    ),
    ("DELETE", "/train/models/{model_type}/{version}/aliases/{alias}"): (
        "admin, hr_staff",
        f"curl -s -X DELETE localhost:8000/train/models/xgboost/v20261124_080001-0b6f2f3e/aliases/staging {AUTH}",
        {
            "model_type": "xgboost",
            "dataset": "data/churn.csv",
            "alias": "staging",
            "version": None,
            "previous_version": "v20261124_080001-0b6f2f3e",
            "set_by": "ana",
            "set_at": "2026-11-24T09:15:00+00:00",
        },
    ),
    ("GET", "/train/models/alias-events"): (
        "admin, hr_staff, manager",
        f"curl -s 'localhost:8000/train/models/alias-events?model_type=xgboost' {AUTH}",
        [
            {
                "model_type": "xgboost",
                "dataset": "data/churn.csv",
                "alias": "champion",
                "version": "v20261124_020000-1c9e33d0",
                "previous_version": "v20261123_020000-77aa01c2",
                "actor": "flow-run:1c9e33d0-…",
                "reason": "f1_macro 0.7120 beats champion v20261123_020000-77aa01c2's 0.7051 by more than 0",
                "at": "2026-11-24T02:00:41+00:00",
            }
        ],
    ),
    ("POST", "/api/training/train/"): (
        "admin, hr_staff",
        f"curl -s -X POST localhost:8000/api/training/train/ {AUTH} {JSON} "
        '-d \'{"hyperparameters": {"n_estimators": 100}, "model_version": "v1.0"}\'',
        {
            "training_run_id": 1,
            "status": "COMPLETED",
            "message": "Training completed successfully in 1.92s",
            "model_version": "v1.0",
            "metrics": {
                "accuracy": 0.9444,
                "precision": 0.9452,
                "recall": 0.9444,
                "f1_score": 0.9441,
                "training_duration_seconds": 0.31,
            },
        },
    ),
    ("GET", "/api/training/runs/"): (
        "admin, hr_staff, manager",
        f'curl -s "localhost:8000/api/training/runs/?status=COMPLETED&page_size=10" {AUTH}',
        {
            "count": 1,
            "next": None,
            "previous": None,
            "results": [
                {
                    "id": 1,
                    "run_date": "2026-11-24T08:00:00+00:00",
                    "model_version": "v1.0",
                    "model_type": "random-forest",
                    "status": "COMPLETED",
                    "accuracy": 0.9444,
                    "precision": 0.9452,
                    "recall": 0.9444,
                    "f1_score": 0.9441,
                    "training_duration_seconds": 0.31,
                    "trained_by_username": "ana",
                }
            ],
        },
    ),
    ("GET", "/api/training/runs/{run_id}/"): (
        "admin, hr_staff, manager",
        f"curl -s localhost:8000/api/training/runs/1/ {AUTH}",
        {
            "id": 1,
            "status": "COMPLETED",
            "model_version": "v1.0",
            "model_path": "artifacts/models/random-forest/v1.0",
            "dataset_path": "future_skills_dataset.csv",
            "error_message": None,
            "flow_run_id": "7a2e…",
            "device": "cpu",
            "…": "every field listed below",
        },
    ),
}


def render(spec: dict[str, Any]) -> str:
    """The reference page for ``spec`` (an OpenAPI document)."""
    lines = [HEADER]
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            lines += _operation(method.upper(), path, op, spec)
    return "\n".join(lines).rstrip() + "\n"


def _operation(method: str, path: str, op: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    roles, request, answer = EXAMPLES[(method, path)]
    lines = [f"## `{method} {path}`", "", (op.get("description") or op.get("summary", "")).strip(), "",
             f"Roles: {roles}.", ""]  # fmt: skip
    params = [p for p in op.get("parameters", []) if p["in"] in {"path", "query", "header"}]
    if params:
        lines += ["| parameter | in | type | required |", "|---|---|---|---|"]
        lines += [f"| `{p['name']}` | {p['in']} | {_type(p.get('schema', {}), spec)} | {p.get('required', False)} |"
                  for p in params]  # fmt: skip
        lines.append("")
    if body := op.get("requestBody"):
        schema = body["content"]["application/json"]["schema"]
        lines += [f"Body: {_type(schema, spec)}" + (" (optional)" if not body.get("required") else ""), ""]
        lines += _fields(_resolve(schema, spec), spec)
    answers = ", ".join(f"**{code}** {r.get('description', '')}".rstrip() for code, r in op["responses"].items())
    lines += [f"Answers: {answers}.", "", "```bash", request, "```", "", "```json",
              json.dumps(answer, indent=2, ensure_ascii=False), "```", ""]  # fmt: skip
    return lines


def _fields(schema: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    properties = schema.get("properties", {})
    if not properties:
        return []
    required = set(schema.get("required", []))
    rows = ["| field | type | required | default |", "|---|---|---|---|"]
    for name, prop in properties.items():
        default = json.dumps(prop["default"]) if "default" in prop else ""
        rows.append(f"| `{name}` | {_type(prop, spec)} | {name in required} | {default} |")
    return [*rows, ""]


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    return _resolve(options[0], spec) if len(options) == 1 else schema


def _type(schema: dict[str, Any], spec: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(_type(s, spec) for s in schema["anyOf"])
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if schema.get("type") == "array":
        return f"list of {_type(schema.get('items', {}), spec)}"
    return str(schema.get("type", "any"))


if __name__ == "__main__":
    sys.stdout.write(render(create_app().openapi()))
