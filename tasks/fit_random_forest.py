"""Fit step for scikit-learn's RandomForestClassifier."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.fitting import FittedModel, fit_pipeline
from trainyard.datasets import SPECS
from trainyard.params import RandomForestHyperparameters
from trainyard.refs import SplitRef


@task(name="fit-random-forest", cache_policy=NO_CACHE, persist_result=False)
def fit_random_forest(split: SplitRef, hyperparameters: RandomForestHyperparameters, random_state: int,
                      device: str = "auto") -> FittedModel:  # fmt: skip
    """Train a random forest (always on the CPU) on imputed features."""
    from sklearn.ensemble import RandomForestClassifier

    from trainyard.preprocessing import build_preprocessor

    params = hyperparameters.model_dump()
    estimator = RandomForestClassifier(**params, random_state=random_state)
    preprocessor = build_preprocessor(SPECS[split.dataset.kind], impute=True, scale=False)
    return fit_pipeline(split, preprocessor, estimator, "cpu", params)
