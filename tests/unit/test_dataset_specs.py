"""Dataset specs: reviewable YAML files, inferred from a table, refused with the line and key named."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tasks.load import load_dataset
from tests.fits import unseen_table
from trainyard.datasets import SpecFileError, dataset_specs, get_spec
from trainyard.datasets.infer import infer_spec
from trainyard.datasets.schema import schema_for
from trainyard.datasets.spec import dump, parse
from trainyard.errors import DatasetError


def test_the_built_in_tables_are_two_spec_files() -> None:
    assert {"future_skills", "churn"} <= set(dataset_specs())
    churn, skills = get_spec("churn"), get_spec("future_skills")
    assert churn.id_columns == ("customer",) and len(churn.flags) == 38 and churn.target_values == (0, 1)
    assert skills.target_values == ("LOW", "MEDIUM", "HIGH") and len(skills.categorical) == 4
    assert churn.source is not None and churn.source.name == "churn.yaml" and len(churn.sha256) == 64


def test_a_spec_inferred_from_an_unseen_table_round_trips_and_accepts_the_table() -> None:
    frame = unseen_table()
    text = dump(infer_spec(frame, "shifts", "shifts.csv", "needs_review", margin=0.1))
    spec = parse(text)
    assert spec.id_columns == ("badge_uuid",) and spec.categorical == ("site",) and spec.flags == ("overtime",)
    numeric = {c.name: c for c in spec.numeric}
    assert numeric["incidents"].integer and numeric["incidents"].min == 0 and numeric["incidents"].max >= 8
    assert numeric["shift_hours"].min < frame.shift_hours.min() and numeric["shift_hours"].max > frame.shift_hours.max()
    assert numeric["sensor_drift"].nullable and not numeric["shift_hours"].nullable
    assert spec.target_values == ("no", "yes")
    schema_for(spec).validate(frame.copy(), lazy=True)
    assert parse(dump(infer_spec(frame, "shifts", "shifts.csv", "needs_review"))).sha256 == spec.sha256


@pytest.mark.parametrize(
    ("target", "change", "task", "message"),
    [
        ("no_such_column", None, None, "target column 'no_such_column' is not in the table; its columns: badge_uuid"),
        ("needs_review", lambda f: f.assign(needs_review="yes"), None, "has a single value ('yes')"),
        ("needs_review", None, "regression", "is not numeric (str): a regression target is a number"),
        ("sensor_drift", None, "classification", "too many classes (at most 1000)"),
    ],
)
def test_a_table_that_cannot_be_a_dataset_is_refused_saying_why(target: str, change, task, message: str) -> None:
    frame = unseen_table(rows=1200) if change is None else change(unseen_table())
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        infer_spec(frame, "shifts", "shifts.csv", target, task=task)


def test_a_spec_file_that_does_not_parse_names_its_line() -> None:
    with pytest.raises(SpecFileError, match=r"does not parse as YAML at line 3, column \d+"):
        parse("name: x\nfile: x.csv\n\tcolumns: {}\n", source="x.yaml")


def test_a_wrong_key_is_named_with_its_line() -> None:
    text = get_spec("future_skills").source.read_text().replace("trend_score: {type: float", "trend_score: {typ: float")
    with pytest.raises(SpecFileError) as info:
        parse(text, source="future_skills.yaml")
    line = next(i for i, row in enumerate(text.splitlines(), start=1) if row.strip().startswith("trend_score:"))
    assert f"line {line}, key columns.trend_score.typ: Extra inputs are not permitted" in str(info.value)


def test_an_edited_spec_changes_its_hash_and_its_schema() -> None:
    text = get_spec("future_skills").source.read_text()
    edited = parse(text.replace("avg_salary_k: {type: float, min: 0.0, max: 1000.0}",
                                "avg_salary_k: {type: float, min: 0.0, max: 50.0}"))  # fmt: skip
    assert edited.sha256 != get_spec("future_skills").sha256
    frame = pd.read_csv(get_spec("future_skills").source.parent.parent / "data" / "future_skills_dataset.csv")
    with pytest.raises(Exception, match="avg_salary_k"):
        schema_for(edited).validate(frame, lazy=True)


def test_a_registered_variant_of_a_built_in_table_never_takes_over_its_files(sandbox: Path) -> None:
    text = get_spec("future_skills").source.read_text().replace("name: future_skills", "name: skills_variant")
    variant = sandbox / "datasets" / "skills_variant.yaml"
    variant.write_text(text.replace("file: future_skills_dataset.csv", "file: future_skills_dataset_noisy.csv"))
    try:
        assert load_dataset.fn("future_skills_dataset.csv").kind == "future_skills"  # the built-in's own file
        assert load_dataset.fn("future_skills_dataset_noisy.csv").kind == "skills_variant"  # the variant's file
        assert load_dataset.fn("skills_variant").kind == "skills_variant"  # by name
    finally:
        variant.unlink()


@pytest.mark.parametrize("requested", ["a\x00", "Churn", "x" * 300, "0" * 1024, "churn\n", ""])
def test_odd_requests_are_refused_as_dataset_errors_never_reaching_the_filesystem_as_names(requested: str) -> None:
    from trainyard.datasets.registry import resolve_request

    with pytest.raises(DatasetError):
        resolve_request(requested)
