"""train-random-forest: a scikit-learn random forest on one dataset."""

from __future__ import annotations

from prefect import flow

from flows.pipeline import run_pipeline
from tasks.fit_random_forest import fit_random_forest
from tasks.records import FLOW_OPTIONS
from trainyard.params import ModelType, RandomForestParams
from trainyard.refs import TrainingOutcome


@flow(name="train-random-forest", **FLOW_OPTIONS)
def train_random_forest(params: RandomForestParams = RandomForestParams()) -> TrainingOutcome:
    """Train, evaluate and register a RandomForestClassifier."""
    return run_pipeline(ModelType.RANDOM_FOREST, params, fit_random_forest)
