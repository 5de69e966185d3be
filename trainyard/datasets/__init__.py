"""Datasets as declared things: one reviewable spec file per table (``spec``), found by name (``registry``),
inferred from a table by ``trainyard datasets add`` (``infer``)."""

from trainyard.datasets.registry import UnknownDataset, dataset_specs, detect_spec, get_spec
from trainyard.datasets.spec import DatasetSpec, NumericColumn, SpecFileError

__all__ = ["DatasetSpec", "NumericColumn", "SpecFileError", "UnknownDataset", "dataset_specs", "detect_spec",
           "get_spec"]  # fmt: skip
