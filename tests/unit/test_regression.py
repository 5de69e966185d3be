"""Regression tables: spec, inference, metrics, champion direction, and every regression family's
fit → save → load round trip (no pickle)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from tasks.evaluate import regression_metrics
from tests.fits import unseen_regression_table
from trainyard.datasets.infer import infer_spec
from trainyard.datasets.spec import SpecFileError, dump, parse
from trainyard.errors import UnsupportedTaskError
from trainyard.families import families, get_family
from trainyard.model_store import load_model, save_model
from trainyard.preprocessing import build_preprocessor
from trainyard.promotion import decide
from trainyard.registry import aliases

REGRESSORS = [name for name, family in families().items() if "regression" in family.tasks]


def _spec_text() -> str:
    frame = unseen_regression_table()
    return dump(infer_spec(frame, "output", "output.csv", "units_per_hour"))


def test_a_numeric_target_with_many_values_is_inferred_as_regression() -> None:
    text = _spec_text()
    spec = parse(text)
    assert "task: regression" in text and "classes" not in text and "primary_metric: rmse" in text
    assert spec.is_regression and spec.target_values == () and spec.primary_metric == "rmse"
    assert "batch_id" in spec.id_columns and "line" in spec.categorical and "maintenance" in spec.flags


def test_a_whole_number_target_with_few_values_stays_classification_and_can_be_overridden() -> None:
    frame = unseen_regression_table().assign(score=lambda f: f.crew % 3)
    frame = frame.drop(columns=["units_per_hour"])
    assert infer_spec(frame, "s", "s.csv", "score").task == "classification"
    assert infer_spec(frame, "s", "s.csv", "score", task="regression").task == "regression"


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace("task: regression\n", "task: regression\nclasses: [1, 2]\n"), "has no classes"),
    (lambda t: t.replace("primary_metric: rmse", "primary_metric: f1_macro"), "not a regression metric"),
    (lambda t: t.replace("task: regression", "task: clustering"), "key task"),
])  # fmt: skip
def test_an_inconsistent_regression_spec_is_refused_naming_why(edit, message: str) -> None:
    with pytest.raises(SpecFileError, match=message):
        parse(edit(_spec_text()))


def test_regression_metrics() -> None:
    metrics = regression_metrics(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 6.0]))
    assert (metrics.rmse, metrics.mae, metrics.r2) == (pytest.approx(1.0), pytest.approx(0.5), pytest.approx(0.2))
    assert metrics.is_regression and set(metrics.headline()) == {"rmse", "mae", "r2"}


def test_the_champion_gate_wants_an_error_lower(monkeypatch: pytest.MonkeyPatch) -> None:
    moves: list[str] = []
    monkeypatch.setattr(aliases, "holder", lambda model_type, dataset: "v1")
    monkeypatch.setattr(aliases, "compare_and_set", lambda *args: moves.append(args[3]) or True)
    common = {"compete": True, "metric": "rmse", "margin": 0.0, "actor": "t", "lower_is_better": True}
    worse = decide("xgboost", "d", "v2", 12.0, lambda v: 10.0, **common)
    assert not worse.promoted and "lower is better" in worse.reason and moves == []
    better = decide("xgboost", "d", "v3", 8.0, lambda v: 10.0, **common)
    assert better.promoted and moves == ["v3"]


def test_a_classifier_only_family_refuses_a_regression_table() -> None:
    only = [family for family in families().values() if "regression" not in family.tasks]
    assert only, "the logistic baseline trains classification only"
    with pytest.raises(UnsupportedTaskError, match="does not train regression"):
        only[0].builder("regression")


@pytest.mark.parametrize("name", REGRESSORS)
def test_each_regression_family_fits_saves_and_loads_the_same_predictions(tmp_path: Path, name: str) -> None:
    assert {"random-forest", "xgboost", "neural-net", "lightgbm"} <= set(REGRESSORS)
    family, spec = get_family(name), parse(_spec_text())
    frame = unseen_regression_table()
    X, y = frame[spec.feature_columns], frame[spec.target]
    hyper = family.hyperparameters().model_dump()  # the defaults: each fits 400 rows in about a second
    preprocess = build_preprocessor(spec, impute=family.impute, scale=family.scale)
    pipeline = Pipeline([("preprocess", preprocess), ("model", family.builder("regression")(hyper, 0, "cpu"))])
    family.fit(pipeline, X, y)
    predicted = pipeline.predict(X)
    assert predicted.dtype.kind == "f" and regression_metrics(y.to_numpy(), predicted).r2 > 0.3
    saved = save_model(pipeline, name, tmp_path / "v1", {})
    assert "classes" not in (Path(saved.location) / "manifest.json").read_text()
    np.testing.assert_allclose(load_model(saved.location).predict(X), predicted, rtol=1e-5)
    assert not list(Path(saved.location).glob("*.pkl"))


def test_a_model_whose_spec_changed_incompatibly_is_refused_and_a_widened_range_is_not(tmp_path: Path) -> None:
    from trainyard.datasets.registry import spec_path
    from trainyard.errors import SpecChangedError

    text = _spec_text().replace("name: output", "name: plant_spec_check")
    path = spec_path("plant_spec_check")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    spec, family = parse(text), get_family("random-forest")
    frame = unseen_regression_table()
    pipeline = Pipeline([("preprocess", build_preprocessor(spec, impute=True, scale=False)),
                         ("model", family.builder("regression")({"n_estimators": 5}, 0, "cpu"))])  # fmt: skip
    family.fit(pipeline, frame[spec.feature_columns], frame[spec.target])
    recorded = {"name": spec.kind, "spec_sha256": spec.sha256, "interface": spec.interface()}
    saved = save_model(pipeline, "random-forest", tmp_path / "v1", {"dataset": recorded})
    try:
        path.write_text(text.replace("crew: {type: int, min: 1, max: 12}", "crew: {type: int, min: 0, max: 40}"))
        assert load_model(saved.location) is not None  # a widened range: still the same model's inputs
        path.write_text(text.replace("crew: {type: int, min: 1, max: 12}", "crew: {type: category}"))
        with pytest.raises(SpecChangedError, match="feature 'crew' was number, is category"):
            load_model(saved.location)
        path.write_text(text.replace("target: units_per_hour", "target: units"))
        with pytest.raises(SpecChangedError, match="target was 'units_per_hour', is 'units'"):
            load_model(saved.location)
    finally:
        path.unlink()
