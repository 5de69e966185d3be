"""The baseline of bench/scoring.py's online rows: a bare FastAPI route calling the same loaded model's
``predict_proba`` on the posted rows (no auth, no validation, no alias lookup). Run by uvicorn with
BARE_MODEL_LOCATION and BARE_MODEL_SHA256 set."""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
from fastapi import FastAPI

from trainyard.model_store import load_model

app = FastAPI()
PIPELINE = load_model(os.environ["BARE_MODEL_LOCATION"], manifest_sha256=os.environ["BARE_MODEL_SHA256"])


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/predict")
def predict(body: dict[str, Any]) -> dict[str, Any]:
    proba = PIPELINE.predict_proba(pd.DataFrame.from_records(body["rows"]))
    return {"probabilities": proba.tolist()}
