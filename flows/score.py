"""score: batch predictions of a registered model over a table, written to the artifact store.

resolve the reference → load the model (sha256 verified, its spec still compatible) → read the rows and
check them against the model's own spec (target optional) → predict in chunks (progress, cancel between
chunks) → write Parquet (or CSV) with the model version and the input's sha256, and record it."""

from __future__ import annotations

from prefect import flow
from prefect.runtime import flow_run

from tasks.records import RESULT_OPTIONS
from tasks.score import load_model_for_scoring, predict_and_write, read_rows, resolve_model
from trainyard import progress
from trainyard.cancellation import cancelled_when_stopped, exiting_promptly_when_cancelled
from trainyard.params import ScoreParams
from trainyard.refs import ScoringOutcome


def _record(params: ScoreParams, **values: object) -> None:
    from trainyard.registry.scoring import record_scoring

    record_scoring(str(flow_run.get_id()), model_ref=params.model, requested_by=params.requested_by, **values)


@flow(name="score", description="Score a table with a registered model (family@alias or family:version).",
      **RESULT_OPTIONS)  # fmt: skip
def score(params: ScoreParams) -> ScoringOutcome:
    """Predict every row of ``params.dataset`` with ``params.model`` and write the predictions."""
    from datetime import UTC, datetime

    run_id = str(flow_run.get_id())
    with (
        exiting_promptly_when_cancelled(run_id),
        cancelled_when_stopped(),
        progress.reporting(run_id, "score-progress") as report,
    ):
        with report.stage("resolve", 0.0, 0.05):
            model = resolve_model(params)
            _record(params, model_type=model.model_type, model_version=model.version)
            scorer = load_model_for_scoring(model)
        with report.stage("read", 0.05, 0.15):
            path, sha256, frame = read_rows(params.dataset, scorer)
            _record(params, dataset_path=path, input_sha256=sha256, rows=len(frame))
        with report.stage("predict", 0.15, 1.0):
            outcome = predict_and_write(scorer, frame, path, sha256, params, run_id)
        _record(params, output_location=outcome.output_location, output_sha256=outcome.output_sha256,
                completed_at=datetime.now(UTC))  # fmt: skip
        report.finish()
        return outcome
