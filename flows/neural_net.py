"""train-neural-net: a torch MLP behind the scikit-learn API, on CUDA when the worker has a GPU."""

from __future__ import annotations

from prefect import flow

from flows.pipeline import run_pipeline
from tasks.fit_neural_net import fit_neural_net
from tasks.records import FLOW_OPTIONS
from trainyard.params import ModelType, NeuralNetParams
from trainyard.refs import TrainingOutcome


@flow(name="train-neural-net", **FLOW_OPTIONS)
def train_neural_net(params: NeuralNetParams = NeuralNetParams()) -> TrainingOutcome:
    """Train, evaluate and register the torch MLP classifier."""
    return run_pipeline(ModelType.NEURAL_NET, params, fit_neural_net)
