"""Batch scoring steps: resolve the model reference, read and check the rows against the model's own
dataset spec, then predict in chunks and write the predictions (Parquet or CSV) to the artifact store."""

from __future__ import annotations

import time
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.retry import retry_unless_deterministic
from trainyard import cancellation, progress
from trainyard.refs import ScoringOutcome
from trainyard.scoring import ModelRef, ResolvedModel, Scorer

if TYPE_CHECKING:
    import pandas as pd

    from trainyard.params import ScoreParams


@task(name="resolve-model", cache_policy=NO_CACHE, persist_result=False, retries=2, retry_delay_seconds=1,
      retry_condition_fn=retry_unless_deterministic)  # fmt: skip
def resolve_model(params: ScoreParams) -> ResolvedModel:
    """The registered version the reference names now (an alias moved later does not change this run)."""
    from trainyard.scoring import alias_scope, resolve

    ref = ModelRef.parse(params.model)
    model = resolve(ref, alias_scope(ref, params.dataset, params.alias_dataset))
    get_run_logger().info("%s is %s %s", ref, model.model_type, model.version)
    return model


@task(name="load-scorer", cache_policy=NO_CACHE, persist_result=False)
def load_model_for_scoring(model: ResolvedModel) -> Scorer:
    """The model, every file's sha256 verified, its dataset spec still compatible."""
    from trainyard.scoring import load_scorer

    return load_scorer(model)


@task(name="read-rows", cache_policy=NO_CACHE, persist_result=False)
def read_rows(dataset: str, scorer: Scorer) -> tuple[str, str, pd.DataFrame]:
    """(path, sha256, rows checked against the model's spec) of the table to score."""
    from trainyard.dataset_files import file_sha256, read_table
    from trainyard.datasets.registry import resolve_request
    from trainyard.scoring import check_rows

    path, _ = resolve_request(dataset)
    frame = check_rows(scorer, read_table(path))
    get_run_logger().info("%s: %d rows passed the %s schema", path.name, len(frame), scorer.spec.kind)
    return str(path), file_sha256(path), frame


@task(name="predict-and-write", cache_policy=NO_CACHE, persist_result=False)
def predict_and_write(scorer: Scorer, frame: pd.DataFrame, input_path: str, input_sha256: str,
                      params: ScoreParams, flow_run_id: str) -> ScoringOutcome:  # fmt: skip
    """Predict ``chunk_rows`` at a time (a cancel lands between chunks; progress counts rows), writing
    each chunk as it comes; the file is published to the artifact store whole, once complete."""
    from trainyard.artifact_store import get_store
    from trainyard.model_store import sha256_file
    from trainyard.scoring import prediction_table

    model = scorer.model
    store = get_store()
    location = store.location("predictions", model.model_type, model.version, f"{flow_run_id}.{params.output_format}")
    local = store.temp_path(location)
    metadata = {"trainyard.model_type": model.model_type, "trainyard.model_version": model.version,
                "trainyard.input_sha256": input_sha256, "trainyard.dataset": scorer.spec.kind}  # fmt: skip
    started, rows = time.perf_counter(), len(frame)
    writer: Any = None
    try:
        for start in range(0, rows, params.chunk_rows):
            chunk = prediction_table(scorer, frame.iloc[start : start + params.chunk_rows])
            if writer is None:
                writer = _writer(local, chunk.schema.with_metadata(metadata), params.output_format)
            writer.write_table(chunk.replace_schema_metadata(metadata) if params.output_format == "parquet" else chunk)
            cancellation.check()
            progress.advance(min(start + params.chunk_rows, rows), rows, "rows")
        assert writer is not None
        writer.close()
        digest = sha256_file(local)
        store.publish_file(local, location)
    finally:
        if writer is not None:  # a cancel or an error mid-way: close the file before removing it
            with suppress(Exception):
                writer.close()
        local.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    get_run_logger().info("scored %d rows with %s %s in %.2fs (%.0f rows/s): %s", rows, model.model_type,
                          model.version, seconds, rows / max(seconds, 1e-9), location)  # fmt: skip
    return ScoringOutcome(flow_run_id=flow_run_id, model_type=model.model_type, model_version=model.version,
                          dataset=scorer.spec.kind, input_path=input_path, input_sha256=input_sha256, rows=rows,
                          output_location=location, output_sha256=digest, seconds=round(seconds, 4))  # fmt: skip


def _writer(path: object, schema: object, output_format: str) -> object:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if output_format == "parquet":
        return pq.ParquetWriter(str(path), schema)  # type: ignore[arg-type]
    return pacsv.CSVWriter(str(path), schema)  # type: ignore[arg-type]
