"""Load step: resolve the dataset inside the allowed roots, hash it, stage it (Arrow IPC)."""

from __future__ import annotations

from prefect import get_run_logger, task

from tasks.cache_keys import load_key
from tasks.retry import retry_unless_deterministic
from tasks.stage import stage_path, write_stage
from trainyard.dataset_files import file_sha256, hash_in_background, read_table
from trainyard.datasets import dataset_specs, detect_spec
from trainyard.datasets.registry import resolve_request
from trainyard.errors import DatasetError
from trainyard.refs import DatasetRef


@task(
    name="load-dataset",
    cache_key_fn=load_key,
    persist_result=True,
    result_serializer="json",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_unless_deterministic,
)
def load_dataset(dataset: str) -> DatasetRef:
    """Read a registered dataset, or a CSV/Parquet file from an allowed root, and record its sha256."""
    logger = get_run_logger()
    path, spec = resolve_request(dataset)
    frame = read_table(path)
    sha256 = file_sha256(path)  # computed for the step's cache key already (``start_hashing``): not again
    spec = spec or detect_spec(list(frame.columns))
    if spec is None:
        targets = ", ".join(f"{s.target!r} ({name})" for name, s in dataset_specs().items())
        raise DatasetError(f"dataset {dataset!r} has none of the registered datasets' target columns ({targets}): "
                           "register it with `trainyard datasets add`")  # fmt: skip
    staged = write_stage(frame, stage_path(sha256, "raw"))
    logger.info("loaded %s: %d rows x %d columns, dataset %s, sha256 %s", path, *frame.shape, spec.kind, sha256[:12])
    return DatasetRef(path=str(path), sha256=sha256, rows=len(frame), columns=list(frame.columns), kind=spec.kind,
                      spec_sha256=spec.sha256, staged=staged)  # fmt: skip


def start_hashing(dataset: str) -> None:
    """Begin hashing the requested dataset's file while the run starts: the load step's cache key needs
    its sha256 before the step can begin (~25 ms per 100k rows, sequential before this). A request that
    does not resolve is left to the load step, which reports it."""
    try:
        path, _ = resolve_request(dataset)
    except DatasetError:
        return
    hash_in_background(path)
