"""The step sequence every single-model flow runs: load → validate → split → fit → evaluate → persist."""

from __future__ import annotations

from typing import Any

from tasks.evaluate import evaluate_model
from tasks.load import load_dataset
from tasks.persist import persist_model
from tasks.records import start_run_record
from tasks.split import split_dataset
from tasks.validate import validate_dataset
from trainyard.cancellation import cancelled_when_stopped
from trainyard.params import ModelParams, ModelType
from trainyard.refs import TrainingOutcome


def run_pipeline(model_type: ModelType, p: ModelParams, fit: Any) -> TrainingOutcome:
    """Call the six steps in order; ``fit`` is the family's fit task."""
    with cancelled_when_stopped():  # a cancel that stops a fit ends this run Cancelled, nothing registered
        record = start_run_record(model_type, p)
        if record.finished is not None:  # a retry of a run whose model is registered: nothing to redo
            return record.finished
        dataset = load_dataset(p.dataset)
        validated = validate_dataset(dataset)
        split = split_dataset(validated, p.test_split, p.random_state)
        model = fit(split, p.hyperparameters, p.random_state, p.device)
        metrics = evaluate_model(model, split, p.use_cv, p.cv_folds, p.random_state)
        return persist_model(record, model_type, model, metrics, split, p)
