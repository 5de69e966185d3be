"""train-xgboost: gradient-boosted trees, on CUDA when the worker has a GPU."""

from __future__ import annotations

from prefect import flow

from flows.pipeline import run_pipeline
from tasks.fit_xgboost import fit_xgboost
from tasks.records import FLOW_OPTIONS
from trainyard.params import ModelType, XGBoostParams
from trainyard.refs import TrainingOutcome


@flow(name="train-xgboost", **FLOW_OPTIONS)
def train_xgboost(params: XGBoostParams = XGBoostParams()) -> TrainingOutcome:
    """Train, evaluate and register an XGBClassifier."""
    return run_pipeline(ModelType.XGBOOST, params, fit_xgboost)
