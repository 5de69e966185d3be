"""Cache keys built from the dataset's sha256 and the step's parameters, never from DataFrames."""

from __future__ import annotations

import hashlib
from typing import Any

from prefect.context import TaskRunContext

from trainyard.dataset_files import file_sha256
from trainyard.datasets.registry import resolve_request, specs_fingerprint
from trainyard.errors import DatasetError

STAGE_FORMAT = "3"  # bump when what a step stages changes shape (3: Arrow IPC; splits as row positions)


def _key(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, (STAGE_FORMAT, *parts))).encode()).hexdigest()


def load_key(_ctx: TaskRunContext, params: dict[str, Any]) -> str | None:
    try:
        path, _ = resolve_request(params["dataset"])
    except DatasetError:
        return None  # no caching: the task itself raises the clear error
    return _key("load", params["dataset"], path, file_sha256(path), specs_fingerprint())


def validate_key(_ctx: TaskRunContext, params: dict[str, Any]) -> str:
    dataset = params["dataset"]
    return _key("validate", dataset.kind, dataset.spec_sha256, dataset.path, dataset.sha256)


def split_key(_ctx: TaskRunContext, params: dict[str, Any]) -> str:
    dataset = params["validated"].dataset
    return _key("split", dataset.path, dataset.sha256, params["test_split"], params["random_state"])
