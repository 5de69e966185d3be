"""A request's rows (pydantic, ``trainyard.datasets.rows``) and a table (pandera,
``trainyard.datasets.schema``) are checked by two validators built from one spec: they must give the
same verdict on the same rows, valid or not."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.fits import unseen_regression_table, unseen_table
from trainyard.datasets import get_spec
from trainyard.datasets.infer import infer_spec
from trainyard.datasets.rows import check_records
from trainyard.datasets.schema import schema_for
from trainyard.datasets.spec import DatasetSpec, dump, parse
from trainyard.errors import SchemaValidationError
from trainyard.settings import PROJECT_ROOT


def _specs() -> list[tuple[DatasetSpec, pd.DataFrame]]:
    shifts = unseen_table()
    output = unseen_regression_table()
    return [
        (get_spec("churn"), pd.read_csv(PROJECT_ROOT / "data" / "churn.csv").head(20)),
        (get_spec("future_skills"), pd.read_csv(PROJECT_ROOT / "data" / "future_skills_dataset.csv").head(20)),
        (parse(dump(infer_spec(shifts, "shifts", "s.csv", "needs_review"))), shifts.head(20)),
        (parse(dump(infer_spec(output, "output", "o.csv", "units_per_hour"))), output.head(20)),
    ]


def _mutations(spec: DatasetSpec, row: dict) -> list[tuple[str, dict]]:
    numeric = spec.numeric[0]
    found = [("as is", row), ("without the target", {k: v for k, v in row.items() if k != spec.target}),
             ("a missing column", {k: v for k, v in row.items() if k != spec.feature_columns[0]}),
             ("an extra column", {**row, "surprise": 1}),
             (f"{numeric.name} below its minimum", {**row, numeric.name: (numeric.min or 0) - 1000}),
             (f"{numeric.name} as text", {**row, numeric.name: "lots"}),
             (f"{numeric.name} as numeric text", {**row, numeric.name: str(numeric.max or 1)}),
             (f"{numeric.name} null", {**row, numeric.name: None})]  # fmt: skip
    whole = next((c for c in spec.numeric if c.integer), None)
    if whole is not None:
        found.append((f"{whole.name} not whole", {**row, whole.name: (whole.min or 0) + 0.5}))
    if spec.flags:
        flag = spec.flags[0]
        found += [(f"{flag} = 2", {**row, flag: 2}), (f"{flag} null", {**row, flag: None}),
                  (f"{flag} = 0.5", {**row, flag: 0.5})]  # fmt: skip
    if spec.categorical:
        name = spec.categorical[0]
        found += [(f"{name} empty", {**row, name: ""}), (f"{name} a number", {**row, name: 7}),
                  (f"{name} null", {**row, name: None})]  # fmt: skip
    if not spec.is_regression:
        found.append(("an unknown class", {**row, spec.target: "no-such-class"}))
    if spec.id_columns:
        found.append((f"{spec.id_columns[0]} null", {**row, spec.id_columns[0]: None}))
    return found


def _pandera_accepts(spec: DatasetSpec, rows: list[dict]) -> bool:
    try:
        schema_for(spec, with_target=False).validate(pd.DataFrame.from_records(rows), lazy=True)
    except Exception:  # pandera's SchemaErrors, or a coercion it cannot do
        return False
    return True


def _pydantic_accepts(spec: DatasetSpec, rows: list[dict]) -> bool:
    try:
        check_records(spec, rows)
    except SchemaValidationError:
        return False
    return True


@pytest.mark.parametrize("case", range(4))
def test_both_validators_give_the_same_verdict(case: int) -> None:
    spec, frame = _specs()[case]
    rows = json.loads(frame.to_json(orient="records"))
    disagreements = []
    for what, mutated in _mutations(spec, rows[1]):
        batch = [rows[0], mutated]
        table, request = _pandera_accepts(spec, batch), _pydantic_accepts(spec, batch)
        if table != request:
            disagreements.append(f"{spec.kind}, {what}: table {'accepts' if table else 'refuses'}, request "
                                 f"{'accepts' if request else 'refuses'}")  # fmt: skip
    duplicate = [rows[0], rows[0]]
    if spec.id_columns and _pandera_accepts(spec, duplicate) != _pydantic_accepts(spec, duplicate):
        disagreements.append(f"{spec.kind}: a duplicate id")
    assert not disagreements, "\n".join(disagreements)


def test_a_fraction_in_a_whole_number_column_is_refused_not_truncated() -> None:
    import pandera.pandas as pa

    from trainyard.datasets.schema import describe_failures

    frame = pd.read_csv(PROJECT_ROOT / "data" / "churn.csv").head(50)
    frame["months"] = frame["months"].astype(float)
    frame.loc[4, "months"] = 12.5  # pandas' own int cast would make it 12, silently
    with pytest.raises(pa.errors.SchemaErrors) as refused:
        schema_for(get_spec("churn")).validate(frame, lazy=True)
    lines = describe_failures(refused.value.failure_cases)
    assert any("'months'" in line and "4 ('12.5 (not a whole number)')" in line for line in lines), lines
