"""train-<family>: one flow per registered model family (``trainyard.families``), each the same short
list of steps (``flows.pipeline.run_pipeline``) with the family's own parameters, so the Prefect UI's
form and the API's body are the family's. Deployments name them ``flows.train:train_<family>``."""

from typing import Any

from prefect import flow

from flows.pipeline import run_pipeline
from tasks.records import FLOW_OPTIONS
from trainyard.families import ModelFamily, families
from trainyard.params import PARAMS_BY_TYPE, ModelType
from trainyard.refs import TrainingOutcome


def _flow_for(family: ModelFamily) -> Any:
    params_type = PARAMS_BY_TYPE[ModelType(family.name)]

    def train(params: Any = params_type()) -> TrainingOutcome:
        return run_pipeline(family, params)

    # Real annotations (not strings): Prefect builds the run's parameter schema and validation from them.
    train.__annotations__ = {"params": params_type, "return": TrainingOutcome}
    train.__name__ = train.__qualname__ = f"train_{family.attribute}"
    train.__doc__ = f"Train, evaluate and register a {family.name} model. {family.summary}"
    return flow(name=family.flow_name, description=family.summary, **FLOW_OPTIONS)(train)


FLOWS = {ModelType(name): _flow_for(family) for name, family in families().items()}
# The module attributes the deployments' entrypoints name: train_<family attribute>, one per family.
globals().update({f"train_{family.attribute}": FLOWS[ModelType(name)] for name, family in families().items()})

