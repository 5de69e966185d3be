"""train-random-forest: a scikit-learn random forest on one dataset."""

from __future__ import annotations

from prefect import flow

from flows.pipeline import run_pipeline
from tasks.fit_random_forest import fit_random_forest
from tasks.records import STATE_HOOKS
from trainyard.params import ModelType, RandomForestParams
from trainyard.refs import TrainingOutcome


@flow(name="train-random-forest", result_serializer="json", **STATE_HOOKS)
def train_random_forest(params: RandomForestParams = RandomForestParams()) -> TrainingOutcome:
    """Train, evaluate and register a RandomForestClassifier."""
    return run_pipeline(ModelType.RANDOM_FOREST, params, fit_random_forest)
