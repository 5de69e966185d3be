"""Scoring with what was trained: the batch ``score`` flow through a real worker (started by the API, by
Prefect's scheduler, and by the CLI in-process), and online ``POST /predict/{family}`` from a model held
in the API process, following its alias; with the errors a caller gets for bad references and rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from prefect.client.schemas.objects import StateType

from tests.integration.conftest import Clients
from tests.integration.helpers import run_a_schedule_once, wait_for_status
from trainyard.dataset_files import file_sha256
from trainyard.datasets import get_spec
from trainyard.registry.scoring import get_scoring
from trainyard.settings import get_settings

pytestmark = pytest.mark.integration
TRAINYARD = Path(sys.executable).parent / "trainyard"


def _train(clients: Clients, **hyper: object) -> str:
    job = clients.hr.post("/train/xgboost", json={"dataset": "churn", "retrain": True,
                                                  "hyperparameters": {"n_estimators": 20, **hyper}}).json()  # fmt: skip
    done = wait_for_status(clients.hr, job["job_id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    models = clients.manager.get("/train/models/available").json()["available_models"]
    return next(m["version"] for m in models.values() if m["job_id"] == job["job_id"])


def _churn() -> pd.DataFrame:
    return pd.read_csv(get_settings().data_roots[0] / "churn.csv")


def _rows(count: int) -> list[dict]:
    """The first rows of churn.csv without the target, as JSON has them (a missing value is null)."""
    return json.loads(_churn().drop(columns=["churn"]).head(count).to_json(orient="records"))


def _champion(clients: Clients) -> str:
    models = clients.manager.get("/train/models/available").json()["available_models"]
    churn = str(get_settings().data_roots[0] / "churn.csv")
    return next(m["version"] for m in models.values()
                if m["type"] == "xgboost" and m["dataset"] == churn and "champion" in m["aliases"])  # fmt: skip


def test_score_flow_writes_predictions_of_the_champion_with_its_version_and_the_input_hash(live_stack: Clients) -> None:
    _train(live_stack)
    champion = _champion(live_stack)
    assert live_stack.manager.post("/score", json={"model": "xgboost@champion"}).status_code == 403
    started = live_stack.hr.post("/score", json={"model": "xgboost@champion", "dataset": "churn"})
    assert started.status_code == 202 and started.json()["model_type"] == "score", started.text
    done = wait_for_status(live_stack.manager, started.json()["job_id"], {"completed", "failed"})  # manager reads
    assert done["status"] == "completed", done
    scoring = done["scoring"]
    assert scoring["model_version"] == champion and scoring["rows"] == len(_churn())
    table = pq.read_table(scoring["output_location"])
    assert table.num_rows == len(_churn())
    assert {"customer", "prediction", "proba_0", "proba_1"} <= set(table.column_names)
    assert set(table.column("model_version").to_pylist()) == {champion}
    metadata = table.schema.metadata
    assert metadata[b"trainyard.input_sha256"].decode() == file_sha256(get_settings().data_roots[0] / "churn.csv")
    assert scoring["input_sha256"] == metadata[b"trainyard.input_sha256"].decode()
    listed = live_stack.manager.get("/train/jobs", params={"model_type": "score"}).json()["jobs"]
    assert started.json()["job_id"] in {job["job_id"] for job in listed}


def test_bad_references_are_404_and_bad_requests_name_their_field(live_stack: Clients) -> None:
    for model in ("nosuchfamily@champion", "xgboost:no-such-version", "xgboost@no-such-alias"):
        answer = live_stack.hr.post("/score", json={"model": model, "dataset": "churn"})
        assert answer.status_code == 404, (model, answer.text)
    malformed = live_stack.hr.post("/score", json={"model": "xgboost@@x", "dataset": "churn"})
    assert malformed.status_code == 422 and malformed.json()["detail"][0]["loc"][-1] == "model", malformed.text
    unknown = live_stack.hr.post("/score", json={"model": "xgboost@champion", "dataset": "churnz"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"][-1] == "dataset", unknown.text
    assert live_stack.hr.post("/predict/xgboost?version=nope", json={"rows": [{}]}).status_code == 404
    assert live_stack.hr.post("/predict/nosuchfamily", json={"rows": [{}]}).status_code == 404


def test_predict_answers_rows_and_names_the_row_and_column_at_fault(live_stack: Clients) -> None:
    if not live_stack.manager.get("/train/models/available").json()["available_models"]:
        _train(live_stack)
    champion = _champion(live_stack)
    rows = _rows(3)
    answer = live_stack.hr.post("/predict/xgboost", params={"dataset": "churn"}, json={"rows": rows})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_version"] == champion and body["task"] == "classification" and len(body["predictions"]) == 3
    assert all(abs(sum(p.values()) - 1) < 1e-5 and set(p) == {"0", "1"} for p in body["probabilities"])

    missing = [dict(rows[0]), {k: v for k, v in rows[1].items() if k != "months"}]
    refused = live_stack.hr.post("/predict/xgboost", params={"dataset": "churn"}, json={"rows": missing})
    assert refused.status_code == 422 and "months" in refused.json()["detail"][0]["msg"], refused.text
    out_of_range = [dict(rows[0]), {**rows[1], "months": -5}]
    refused = live_stack.hr.post("/predict/xgboost", params={"dataset": "churn"}, json={"rows": out_of_range})
    message = refused.json()["detail"][0]["msg"]
    assert refused.status_code == 422 and "row 1, column 'months'" in message and "(-5)" in message, refused.text
    too_many = live_stack.hr.post("/predict/xgboost", params={"dataset": "churn"}, json={"rows": rows * 400})
    assert too_many.status_code == 413, too_many.text
    assert live_stack.manager.post("/predict/xgboost", json={"rows": rows}).status_code == 403


def test_predictions_follow_the_alias_when_it_moves(live_stack: Clients) -> None:
    rows = _rows(2)
    before = live_stack.hr.post("/predict/xgboost", params={"dataset": "churn"}, json={"rows": rows}).json()
    newer = _train(live_stack, max_depth=2)
    assert newer != before["model_version"]
    moved = live_stack.hr.post(f"/train/models/xgboost/{newer}/aliases", json={"alias": "champion"})
    assert moved.status_code == 200, moved.text
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        answer = live_stack.hr.post("/predict/xgboost", params={"dataset": "churn"}, json={"rows": rows}).json()
        if answer["model_version"] == newer:
            break
        time.sleep(0.2)
    assert answer["model_version"] == newer, answer  # within the alias cache's second, no restart


def test_a_scheduled_scoring_run_and_the_cli_score_the_churn_table(live_stack: Clients, tmp_path: Path) -> None:
    nightly = next(s for s in get_spec("churn").schedules if s.kind == "score")  # declared in datasets/churn.yaml
    assert (nightly.cron, nightly.model) == ("30 4 * * *", "xgboost@champion")
    if not live_stack.manager.get("/train/models/available").json()["available_models"]:
        _train(live_stack)
    run = run_a_schedule_once("score/score", "scoring-under-test", parameters=nightly.parameters())
    assert run.state.type == StateType.COMPLETED, run.state
    record = get_scoring(str(run.id))
    assert record is not None and record.rows == len(_churn()) and Path(record.output_location).is_file()

    out = tmp_path / "churn.csv"
    scored = subprocess.run([str(TRAINYARD), "models", "predict", "xgboost@champion", "--file", "churn", "--out",
                             str(out)], env=os.environ, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    assert len(pd.read_csv(out)) == len(_churn()) and f"{len(_churn())} rows scored by xgboost" in scored.stdout
    refused = subprocess.run([str(TRAINYARD), "models", "predict", "xgboost:nope", "--file", "churn"],
                             env=os.environ, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert refused.returncode == 1 and "no registered xgboost model version 'nope'" in refused.stderr
