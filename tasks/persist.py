"""Persist step: write the model atomically (no pickle) and register it with its lineage."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import StateType

from tasks.fit import FittedModel
from trainyard import cancellation
from trainyard.datasets import get_spec
from trainyard.errors import RegistryError
from trainyard.lineage import code_version, library_versions, training_signature
from trainyard.params import ModelType, TrainingParams
from trainyard.refs import Metrics, RunRecord, SplitRef, TrainingOutcome
from trainyard.states import RunStatus, default_state_name


@task(name="persist-model", cache_policy=NO_CACHE, persist_result=False)
def persist_model(
    record: RunRecord,
    model_type: ModelType,
    model: FittedModel,
    metrics: Metrics,
    split: SplitRef,
    params: TrainingParams,
) -> TrainingOutcome:
    """Save the model directory, then record it and the run's results in one registry transaction."""
    from trainyard.artifact_store import get_store
    from trainyard.model_store import delete_model, save_model
    from trainyard.registry.models import ModelVersionRecord
    from trainyard.registry.runs import complete_run

    # A sub-job cancelled while its fit finished (its parent's process is still being stopped) must
    # not register a model: the cancel stands.
    cancellation.check()
    if cancellation.cancelled_in_prefect(record.flow_run_id):
        raise cancellation.TrainingStopped(f"flow run {record.flow_run_id} was cancelled; nothing registered")
    destination = get_store().location("models", str(model_type), record.model_version)
    dataset = split.dataset
    lineage = {
        "dataset": {"path": dataset.path, "sha256": dataset.sha256, "rows": dataset.rows, "name": dataset.kind,
                    "spec_sha256": dataset.spec_sha256, "interface": get_spec(dataset.kind).interface()},
        "training_run_id": record.training_run_id,
        "flow_run_id": record.flow_run_id,
        "model_version": record.model_version,
        "features": split.features,
        "target": split.target,
        "hyperparameters": model.hyperparameters,
        "random_state": split.random_state,
        "device": model.device,
        "library_versions": library_versions(),
        "code_version": code_version(),
        "created_at": datetime.now(UTC).isoformat(),
    }
    saved = save_model(model.pipeline, model_type, destination, {**lineage, "metrics": metrics.model_dump()})
    path, sha256 = saved.location, saved.sha256
    version = ModelVersionRecord(model_type=str(model_type), version=record.model_version, path=path,
                                 sha256=sha256, size_bytes=saved.size_bytes)  # fmt: skip
    try:
        complete_run(
            record.flow_run_id,
            version,
            status=RunStatus.COMPLETED,
            prefect_state=default_state_name(StateType.COMPLETED),
            completed_at=datetime.now(UTC),
            dataset_path=dataset.path,
            dataset_sha256=dataset.sha256,
            total_samples=split.train_rows + split.test_rows,
            train_samples=split.train_rows,
            test_samples=split.test_rows,
            test_split=split.test_split,
            random_state=split.random_state,
            hyperparameters=model.hyperparameters,
            features_used=split.features,
            accuracy=metrics.accuracy,
            precision=metrics.precision,
            recall=metrics.recall,
            f1_score=metrics.f1_score,
            metrics=metrics.headline(),
            per_class_metrics=metrics.per_class,
            cv_metrics=metrics.cv,
            training_duration_seconds=round(model.fit_seconds, 4),
            model_path=path,
            model_sha256=sha256,
            device=model.device,
            library_versions=library_versions(),
            code_version=code_version(),
            signature=training_signature(str(model_type), dataset.sha256, dataset.spec_sha256, params),
            error_message=None,
            error_kind=None,
        )
    except RegistryError:
        delete_model(path)  # never leave an unregistered model behind
        raise
    get_run_logger().info("saved %s %s to %s (sha256 %s)", model_type, record.model_version, path, sha256[:12])
    return TrainingOutcome(
        training_run_id=record.training_run_id,
        flow_run_id=record.flow_run_id,
        model_type=str(model_type),
        model_version=record.model_version,
        model_path=path,
        model_sha256=sha256,
        device=model.device,
        training_duration_seconds=model.fit_seconds,
        metrics=metrics,
    )
