"""Datasets: the registered tables' specs (what a run's ``"dataset": NAME`` refers to)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import READ, Reader
from api.responses import AUTHED, errors
from api.schemas import ColumnPublic, DatasetPublic, DatasetsPublic
from trainyard.datasets import dataset_specs
from trainyard.datasets.registry import BUILTIN
from trainyard.datasets.spec import to_file_model

router = APIRouter(tags=["datasets"])


@router.get("/datasets", response_model=DatasetsPublic, dependencies=[Depends(READ)], responses=errors(*AUTHED))
def list_datasets(_user: Reader) -> DatasetsPublic:
    """Every dataset a run may name, with its spec: file, target and classes, columns with types and ranges."""
    found = []
    for name, spec in dataset_specs().items():
        # The spec's own file form (trainyard.datasets.spec.to_file_model), column by column.
        columns = {name: ColumnPublic(**column.model_dump()) for name, column in to_file_model(spec).columns.items()}
        found.append(DatasetPublic(name=name, file=spec.default_file, task=spec.task, target=spec.target,  # type: ignore[arg-type]
                                   classes=None if spec.is_regression else list(spec.target_values),
                                   primary_metric=spec.primary_metric,
                                   spec_sha256=spec.sha256, builtin=name in BUILTIN, columns=columns))  # fmt: skip
    return DatasetsPublic(datasets=found, count=len(found))
