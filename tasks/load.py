"""Load step: resolve the dataset inside the allowed roots, hash it, stage it (Arrow IPC)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from prefect import get_run_logger, task

from tasks.cache_keys import load_key
from tasks.retry import retry_unless_deterministic
from tasks.stage import stage_path, write_stage
from trainyard.dataset_files import file_sha256, read_table, resolve_dataset_path
from trainyard.datasets import SPECS, detect_kind
from trainyard.errors import DatasetError
from trainyard.refs import DatasetRef
from trainyard.settings import get_settings


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
    """Read a CSV/Parquet dataset from an allowed root and record its sha256."""
    logger = get_run_logger()
    settings = get_settings()
    path = resolve_dataset_path(dataset, settings.data_roots, settings.max_dataset_bytes)
    with ThreadPoolExecutor(max_workers=1) as hashing:
        # hashlib and pandas' parser both release the GIL: the hash costs nothing beside the parse.
        digest = hashing.submit(file_sha256, path)
        frame = read_table(path)
        sha256 = digest.result()
    kind = detect_kind(list(frame.columns))
    if kind is None:
        targets = ", ".join(repr(spec.target) for spec in SPECS.values())
        raise DatasetError(f"dataset {dataset!r} has none of the known target columns ({targets})")
    staged = write_stage(frame, stage_path(sha256, "raw"))
    logger.info("loaded %s: %d rows x %d columns, %s table, sha256 %s", path, *frame.shape, kind, sha256[:12])
    return DatasetRef(
        path=str(path), sha256=sha256, rows=len(frame), columns=list(frame.columns), kind=kind, staged=staged
    )
