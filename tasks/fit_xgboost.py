"""Fit step for XGBoost's XGBClassifier, on CUDA when the worker has it."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.fitting import FittedModel, fit_pipeline
from trainyard import cancellation
from trainyard.datasets import SPECS
from trainyard.devices import xgboost_device
from trainyard.params import XGBoostHyperparameters
from trainyard.refs import SplitRef


@task(name="fit-xgboost", cache_policy=NO_CACHE, persist_result=False)
def fit_xgboost(split: SplitRef, hyperparameters: XGBoostHyperparameters, random_state: int,
                device: str = "auto") -> FittedModel:  # fmt: skip
    """Train gradient-boosted trees; XGBoost handles the missing values itself."""
    from xgboost import XGBClassifier

    from trainyard.estimators import LabelEncodedClassifier
    from trainyard.preprocessing import build_preprocessor

    chosen = xgboost_device(device)
    params = hyperparameters.model_dump()
    rounds = cancellation.xgboost_callback(params["n_estimators"])  # stop checks and progress, every round
    estimator = LabelEncodedClassifier(XGBClassifier(**params, device=chosen, random_state=random_state,
                                                     callbacks=[rounds]))  # fmt: skip
    preprocessor = build_preprocessor(SPECS[split.dataset.kind], impute=False, scale=False)
    return fit_pipeline(split, preprocessor, estimator, chosen, params)
