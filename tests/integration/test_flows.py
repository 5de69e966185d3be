"""Flows run in this process against a real Prefect server; models are written, reloaded, used."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort

from flows.train import FLOWS
from flows.train_all import train_all
from tests.integration.helpers import artifacts_of, task_states
from trainyard.dataset_files import file_sha256
from trainyard.devices import cuda_device_count
from trainyard.families import families, get_family
from trainyard.model_store import load_model
from trainyard.params import PARAMS_BY_TYPE, ModelType, TrainAllParams
from trainyard.registry.runs import get_model_version, get_run
from trainyard.settings import get_settings

pytestmark = pytest.mark.integration

DATASETS = {"future_skills_dataset_noisy.csv": "future_need_level", "churn.csv": "churn"}
RandomForestParams, XGBoostParams = PARAMS_BY_TYPE[ModelType.RANDOM_FOREST], PARAMS_BY_TYPE[ModelType.XGBOOST]
train_random_forest, train_xgboost = FLOWS[ModelType.RANDOM_FOREST], FLOWS[ModelType.XGBOOST]


@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("model_type", list(ModelType))
def test_each_flow_trains_each_dataset(prefect_api: str, model_type: ModelType, dataset: str) -> None:
    hyper = get_family(model_type).smoke_hyperparameters
    outcome = FLOWS[model_type](PARAMS_BY_TYPE[model_type](dataset=dataset, hyperparameters=hyper, use_cv=True,
                                                           cv_folds=2))  # fmt: skip

    with get_client(sync_client=True) as client:
        assert client.read_flow_run(outcome.flow_run_id).state.type == StateType.COMPLETED
    path = Path(outcome.model_path)
    assert path.parent.parent == get_settings().models_dir and (path / "manifest.json").is_file()
    model = load_model(path)
    frame = pd.read_csv(get_settings().data_roots[0] / dataset).head(50)
    predictions = model.predict(frame.drop(columns=[DATASETS[dataset]]))
    assert len(predictions) == 50 and set(predictions) <= set(frame[DATASETS[dataset]].unique())

    run = get_run(outcome.flow_run_id)
    assert run is not None and run.status == "COMPLETED" and run.model_path == str(path)
    assert run.dataset_sha256 == file_sha256(get_settings().data_roots[0] / dataset)
    assert run.total_samples == len(pd.read_csv(get_settings().data_roots[0] / dataset))
    assert run.library_versions["scikit-learn"] != "not installed" and run.code_version
    assert run.device == _device_offered(model_type)
    full = pd.read_csv(get_settings().data_roots[0] / dataset)
    assert set(run.per_class_metrics) == {str(v) for v in full[DATASETS[dataset]].unique()}
    assert run.cv_metrics is not None and 0 < run.cv_metrics["accuracy"]["mean"] <= 1
    version = get_model_version(str(model_type), outcome.model_version)
    assert version is not None and version.sha256 == outcome.model_sha256 and version.training_run_id == run.id
    # Published to this stack's server, from the reporter's thread as well as at the end.
    progress = artifacts_of(outcome.flow_run_id)[f"{model_type}-progress"]
    assert (float(progress.data), progress.description) == (100.0, "done")  # type: ignore[attr-defined]


def test_rerun_serves_load_validate_split_from_cache(prefect_api: str) -> None:
    params = RandomForestParams(dataset="future_skills_dataset.csv", hyperparameters={"n_estimators": 5})
    first = train_random_forest(params)
    second = train_random_forest(params)
    assert first.model_version != second.model_version  # every run is a new version
    states = task_states(second.flow_run_id)
    assert {states[step] for step in ("load-dataset", "validate-dataset", "split-dataset")} == {"Cached"}
    assert states["fit-random-forest"] == "Completed"


def test_staged_files_lost_behind_a_cache_record_are_rebuilt(prefect_api: str) -> None:
    """The staged copies are written behind the run: a crash before the writer finished (or a cleanup)
    leaves cache records pointing at nothing. The next run loads again instead of failing."""
    params = RandomForestParams(dataset="future_skills_dataset.csv", hyperparameters={"n_estimators": 5})
    train_random_forest(params)
    sha256 = file_sha256(get_settings().data_roots[0] / params.dataset)
    staged = list((get_settings().stage_dir / sha256).glob("*.arrow"))
    assert staged, "the first run staged nothing"
    for path in staged:
        path.unlink()

    again = train_random_forest(params)

    with get_client(sync_client=True) as client:
        assert client.read_flow_run(again.flow_run_id).state.type == StateType.COMPLETED
    assert all(path.exists() for path in staged), "the rebuilt steps staged their files again"
    third = train_random_forest(params)  # and the records written by the rebuild serve the next run
    states = task_states(third.flow_run_id)
    assert {states[step] for step in ("load-dataset", "validate-dataset", "split-dataset")} == {"Cached"}


def test_bad_dataset_fails_and_keeps_record_and_message(prefect_api: str, sandbox: Path) -> None:
    frame = pd.read_csv(sandbox / "data" / "future_skills_dataset.csv").drop(columns=["trend_score"])
    frame.to_csv(sandbox / "data" / "no_trend.csv", index=False)
    state = train_random_forest(RandomForestParams(dataset="no_trend.csv"), return_state=True)
    assert state.type == StateType.FAILED
    flow_run_id = str(state.state_details.flow_run_id)
    run = get_run(flow_run_id)
    assert run is not None and run.status == "FAILED"
    assert "missing column 'trend_score'" in (run.error_message or "")
    assert run.model_path is None and not list(get_settings().models_dir.glob(f"*/{run.model_version}"))


def test_train_all_runs_a_child_flow_per_family(prefect_api: str) -> None:
    params = TrainAllParams(
        dataset="future_skills_dataset_noisy.csv",
        model_version="all-v1",
        **{family.attribute: family.smoke_hyperparameters for family in families().values()},
    )
    state = train_all(params, return_state=True)
    assert state.type == StateType.COMPLETED
    outcomes = state.result()
    assert set(outcomes) == {str(t) for t in ModelType}
    parent_id = str(state.state_details.flow_run_id)
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id])),
            sort=FlowRunSort.START_TIME_ASC,
            limit=10,
        )
    assert len(children) == len(families()) and all(child.state.type == StateType.COMPLETED for child in children)
    for model_type, outcome in outcomes.items():
        run = get_run(outcome.flow_run_id)
        assert run is not None and run.parent_flow_run_id == parent_id and run.model_version == "all-v1"
        assert load_model(Path(outcome.model_path)).named_steps["model"] is not None, model_type
        assert task_states(outcome.flow_run_id)["load-dataset"] == "Cached"


def test_duplicate_model_version_fails_before_training(prefect_api: str) -> None:
    params = XGBoostParams(dataset="churn.csv", hyperparameters={"n_estimators": 5}, model_version="dup-1")
    train_xgboost(params)
    state = train_xgboost(params, return_state=True)
    assert state.type == StateType.FAILED
    run = get_run(str(state.state_details.flow_run_id))
    assert run is not None and "already exists" in (run.error_message or "")
    assert "fit-xgboost" not in task_states(run.flow_run_id)


def _device_offered(model_type: ModelType) -> str:
    """What ``auto`` must pick on this host: the CPU families' cpu, the others a GPU when there is one."""
    return get_family(model_type).choose_device("auto")


@pytest.mark.skipif(cuda_device_count() > 0, reason="this host has a GPU: cuda is a valid request here")
@pytest.mark.parametrize("model_type", [ModelType(f.name) for f in families().values() if f.pool == "gpu"])
def test_cuda_requested_without_a_gpu_is_a_clear_failure(prefect_api: str, model_type: ModelType) -> None:
    hyper = get_family(model_type).smoke_hyperparameters
    params = PARAMS_BY_TYPE[model_type](dataset="churn.csv", hyperparameters=hyper, device="cuda")
    state = FLOWS[model_type](params, return_state=True)
    assert state.type == StateType.FAILED
    run = get_run(str(state.state_details.flow_run_id))
    assert run is not None and "device 'cuda' requested but" in (run.error_message or ""), run.error_message
    assert run.model_path is None


def test_a_run_cancelled_as_its_fit_ends_registers_nothing(prefect_api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The UI's Cancel arrives as the fit finishes (a sub-job whose parent's process is still being
    stopped): persist asks Prefect before it writes the model, writes and registers nothing, and the run
    ends Cancelled."""
    import dataclasses
    from uuid import UUID

    from prefect.runtime import flow_run
    from prefect.states import Cancelling

    from trainyard.cancellation import TrainingStopped

    family, cancelled = get_family("xgboost"), []

    def fit_then_cancelled(pipeline: object, X: object, y: object) -> None:
        family.fit(pipeline, X, y)
        cancelled.append(UUID(flow_run.get_id()))
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(cancelled[0], Cancelling(), force=True)

    monkeypatch.setitem(families(), "xgboost", dataclasses.replace(family, fit=fit_then_cancelled))
    params = XGBoostParams(dataset="churn.csv", hyperparameters={"n_estimators": 5}, model_version="cancel-at-end-1")
    with pytest.raises(TrainingStopped, match="nothing registered"):
        train_xgboost(params)

    with get_client(sync_client=True) as client:
        assert client.read_flow_run(cancelled[0]).state.type == StateType.CANCELLED
    assert get_model_version("xgboost", "cancel-at-end-1") is None
    assert not list(get_settings().models_dir.glob("*/cancel-at-end-1")), "the cancelled run's model was left"
    assert task_states(str(cancelled[0]))["fit-xgboost"] == "Completed"
