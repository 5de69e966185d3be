"""Model references and the rows a model scores (pure: no registry, no Prefect)."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline

from trainyard.datasets import get_spec
from trainyard.errors import SchemaValidationError
from trainyard.preprocessing import build_preprocessor
from trainyard.scoring import ModelRef, ResolvedModel, Scorer, check_rows, prediction_table
from trainyard.settings import PROJECT_ROOT

CHURN = PROJECT_ROOT / "data" / "churn.csv"


@pytest.mark.parametrize(("text", "ref"), [
    ("xgboost@champion", ModelRef("xgboost", alias="champion")),
    ("xgboost", ModelRef("xgboost", alias="champion")),
    ("random-forest@staging", ModelRef("random-forest", alias="staging")),
    ("xgboost:v20261203_091500-ab12cd34", ModelRef("xgboost", version="v20261203_091500-ab12cd34")),
])  # fmt: skip
def test_references_parse_and_print_back(text: str, ref: ModelRef) -> None:
    assert ModelRef.parse(text) == ref
    assert ModelRef.parse(str(ref)) == ref


@pytest.mark.parametrize("text", ["", "xgboost@", "xgboost@@x", "XGBoost", "x:../../etc", "xgboost@Champion!"])
def test_malformed_references_are_refused_naming_the_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"family@alias|alias"):
        ModelRef.parse(text)


def _scorer() -> Scorer:
    spec = get_spec("churn")
    frame = pd.read_csv(CHURN).head(200)
    pipeline = Pipeline([("preprocess", build_preprocessor(spec, impute=True, scale=False)),
                         ("model", DummyClassifier(strategy="prior"))]).fit(frame, frame["churn"])  # fmt: skip
    return Scorer(ResolvedModel("random-forest", "v1", "/nowhere", "0" * 64), pipeline, spec, [0, 1])


def test_rows_without_the_target_score_and_carry_the_version() -> None:
    scorer = _scorer()
    rows = pd.read_csv(CHURN).drop(columns=["churn"]).head(5)
    table = prediction_table(scorer, check_rows(scorer, rows))
    assert table.column_names == ["customer", "prediction", "proba_0", "proba_1", "model_version"]
    assert table.num_rows == 5 and set(table.column("model_version").to_pylist()) == {"v1"}


def test_a_row_out_of_the_spec_is_refused_naming_row_and_column() -> None:
    scorer = _scorer()
    rows = pd.read_csv(CHURN).drop(columns=["churn"]).head(5)
    rows.loc[3, "months"] = -1
    with pytest.raises(SchemaValidationError, match=r"column 'months'.* at rows 3 \(-1"):
        check_rows(scorer, rows)
