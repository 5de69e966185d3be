"""Fit step for the torch MLP (behind the scikit-learn API), on CUDA when the worker has it."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.fitting import FittedModel, fit_pipeline
from trainyard.datasets import SPECS
from trainyard.devices import torch_device
from trainyard.params import NeuralNetHyperparameters
from trainyard.refs import SplitRef


@task(name="fit-neural-net", cache_policy=NO_CACHE, persist_result=False)
def fit_neural_net(split: SplitRef, hyperparameters: NeuralNetHyperparameters, random_state: int,
                   device: str = "auto") -> FittedModel:  # fmt: skip
    """Train a feed-forward net on imputed, scaled features."""
    from trainyard.estimators import LabelEncodedClassifier, TorchMLPClassifier
    from trainyard.preprocessing import build_preprocessor

    chosen = torch_device(device)
    params = hyperparameters.model_dump()
    net = TorchMLPClassifier(
        **{**params, "hidden_layer_sizes": tuple(params["hidden_layer_sizes"])},
        device=chosen,
        random_state=random_state,
    )
    preprocessor = build_preprocessor(SPECS[split.dataset.kind], impute=True, scale=True)
    return fit_pipeline(split, preprocessor, LabelEncodedClassifier(net), chosen, params)
