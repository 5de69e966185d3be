"""The sweep's core without Prefect or Dask: a trial's cross-validated score on the training rows, its fold
reports and pruning; the Optuna study in a registry database, resumed by name, a dead trial retried once."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import optuna
import pandas as pd
import pytest

from trainyard.datasets import get_spec
from trainyard.families import get_family
from trainyard.sweeps import study as studies
from trainyard.sweeps.objective import Pruned, TrainingRows, cross_validated, direction


@pytest.fixture(scope="module")
def churn(sandbox: Path) -> TrainingRows:
    spec = get_spec("churn")
    frame = pd.read_csv(sandbox / "data" / "churn.csv").sample(600, random_state=0)
    features = [c for c in frame.columns if c not in (spec.target, *spec.id_columns)]
    return TrainingRows(frame[features], frame[spec.target], spec)


def test_a_trial_is_scored_by_cross_validation_with_a_report_after_each_fold(churn: TrainingRows) -> None:
    reports: list[tuple[int, float]] = []
    score = cross_validated(get_family("logistic-regression"), {"C": 0.5, "max_iter": 300}, churn, "accuracy",
                            folds=3, report=lambda fold, value: reports.append((fold, value)) or False)  # fmt: skip
    assert 0.3 < score <= 1.0 and [fold for fold, _ in reports] == [0, 1, 2]
    assert reports[-1][1] == pytest.approx(score)


def test_the_pruner_stops_a_trial_after_a_fold(churn: TrainingRows) -> None:
    folds_seen: list[int] = []

    def prune_after_first(fold: int, _value: float) -> bool:
        folds_seen.append(fold)
        return True

    with pytest.raises(Pruned, match="after fold 1 of 3"):
        cross_validated(get_family("logistic-regression"), {"max_iter": 300}, churn, "f1_macro", folds=3,
                        report=prune_after_first)  # fmt: skip
    assert folds_seen == [0]


def test_hyperparameters_outside_the_familys_bounds_are_refused_before_any_fit(churn: TrainingRows) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="C"):
        cross_validated(get_family("logistic-regression"), {"C": -1.0}, churn, "accuracy")


def test_errors_are_minimised_and_scores_maximised() -> None:
    assert direction("rmse") == direction("mae") == "minimize"
    assert direction("f1_macro") == direction("r2") == "maximize"


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.db'}"


def test_a_study_in_the_registry_database_is_resumed_by_name(tmp_path: Path) -> None:
    name = f"sweep-{uuid.uuid4()}"
    first = studies.open_study(name, "maximize", seed=1, url=_url(tmp_path))
    first.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=3)
    again = studies.open_study(name, "maximize", seed=1, url=_url(tmp_path))  # a Retry of the same sweep
    assert studies.finished(again) == 3 and again.best_value == first.best_value
    again.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    assert studies.finished(studies.open_study(name, "maximize", url=_url(tmp_path))) == 5


def test_a_trial_whose_worker_died_is_failed_and_retried_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(studies, "HEARTBEAT_SECONDS", 1)
    monkeypatch.setattr(studies, "GRACE_SECONDS", 1)
    study = studies.open_study(f"sweep-{uuid.uuid4()}", "maximize", url=_url(tmp_path))
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    study._storage.record_heartbeat(trial._trial_id)  # a worker starts the trial, then is killed
    time.sleep(2.2)
    optuna.storages.fail_stale_trials(study)
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert states == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.WAITING], states
    retry = study.ask()  # the retry: the same parameters, and a second death is not retried again
    assert retry.params == trial.params
    study._storage.record_heartbeat(retry._trial_id)
    time.sleep(2.2)
    optuna.storages.fail_stale_trials(study)
    assert [t.state for t in study.get_trials(deepcopy=False)] == [optuna.trial.TrialState.FAIL] * 2
