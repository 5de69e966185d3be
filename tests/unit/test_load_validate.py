from pathlib import Path

import pandas as pd
import pytest

from tasks.load import load_dataset
from tasks.split import read_side, split_dataset
from tasks.stage import read_stage
from tasks.validate import validate_dataset
from trainyard import datagen
from trainyard.errors import DatasetError, SchemaValidationError


def _write(sandbox: Path, name: str, frame: pd.DataFrame) -> str:
    frame.to_csv(sandbox / "data" / name, index=False)
    return name


def _validate(name: str):
    return validate_dataset.fn(load_dataset.fn(name))


def test_good_file_loads_validates_and_splits(sandbox: Path) -> None:
    validated = _validate("future_skills_dataset.csv")
    assert validated.rows == 357 and validated.dataset.kind == "future_skills"
    assert len(validated.dataset.sha256) == 64
    split = split_dataset.fn(validated, 0.2, 42)
    assert (split.train_rows, split.test_rows) == (285, 72)
    again = split_dataset.fn(validated, 0.2, 42)
    assert read_side(again, "test").index.equals(read_side(split, "test").index)
    # The rows, order and index train_test_split gives on the table itself.
    from sklearn.model_selection import train_test_split

    frame = read_stage(validated.staged)
    train, test = train_test_split(frame, test_size=0.2, random_state=42, stratify=frame[split.target])
    assert read_side(split, "train").equals(train[read_side(split, "train").columns])
    assert read_side(split, "test").index.equals(test.index)


def test_parquet_is_accepted(sandbox: Path) -> None:
    datagen.churn(rows=300, seed=5).to_parquet(sandbox / "data" / "small.parquet", index=False)
    assert _validate("small.parquet").dataset.kind == "churn"


def test_missing_column_is_named(sandbox: Path) -> None:
    name = _write(sandbox, "missing.csv", datagen.future_skills().drop(columns=["scarcity_index"]))
    with pytest.raises(SchemaValidationError, match="missing column 'scarcity_index'"):
        _validate(name)


def test_extra_column_is_named(sandbox: Path) -> None:
    name = _write(sandbox, "extra.csv", datagen.future_skills().assign(shoe_size=42))
    with pytest.raises(SchemaValidationError, match="unexpected column 'shoe_size'"):
        _validate(name)


def test_wrong_type_names_column_row_and_value(sandbox: Path) -> None:
    frame = datagen.future_skills().astype({"training_requests": object})
    frame.loc[7, "training_requests"] = "many"
    name = _write(sandbox, "wrongtype.csv", frame)
    with pytest.raises(SchemaValidationError) as info:
        _validate(name)
    message = str(info.value)
    assert "column 'training_requests'" in message and "7 ('many')" in message
    assert "greater_than" not in message  # the type error is reported once, not echoed per check


def test_out_of_range_names_rows(sandbox: Path) -> None:
    frame = datagen.future_skills()
    frame.loc[[3, 11], "trend_score"] = [1.7, -0.2]
    frame.loc[5, "future_need_level"] = "HUGE"
    name = _write(sandbox, "range.csv", frame)
    with pytest.raises(SchemaValidationError) as info:
        _validate(name)
    message = str(info.value)
    assert "column 'trend_score'" in message and "3 (1.7)" in message
    assert "column 'future_need_level'" in message and "5 ('HUGE')" in message
    assert "11 (-0.2)" in message and "3 problem(s)" in message


def test_a_flag_outside_0_and_1_names_its_column_and_rows(sandbox: Path) -> None:
    from trainyard.datasets import get_spec

    CHURN = get_spec("churn")

    flag = CHURN.flags[0]
    frame = datagen.churn(rows=200, seed=2)
    frame[flag] = frame[flag].astype(int)
    frame.loc[[6, 9], flag] = [2, -1]
    with pytest.raises(SchemaValidationError) as info:
        _validate(_write(sandbox, "flag.csv", frame))
    message = str(info.value)
    assert f"column {flag!r}" in message and "6 (2)" in message and "9 (-1)" in message, message


def test_nan_in_non_nullable_column(sandbox: Path) -> None:
    frame = datagen.churn(rows=200, seed=2)
    frame.loc[4, "eqpdays"] = None
    with pytest.raises(SchemaValidationError, match="column 'eqpdays'"):
        _validate(_write(sandbox, "nan.csv", frame))


def test_header_only_file_has_zero_rows(sandbox: Path) -> None:
    name = _write(sandbox, "zero.csv", datagen.future_skills().iloc[:0])
    with pytest.raises(SchemaValidationError, match="0 rows"):
        _validate(name)


def test_single_class_is_refused(sandbox: Path) -> None:
    frame = datagen.future_skills().assign(future_need_level="HIGH")
    with pytest.raises(SchemaValidationError, match="single class"):
        _validate(_write(sandbox, "oneclass.csv", frame))


def test_empty_file_is_refused(sandbox: Path) -> None:
    (sandbox / "data" / "blank.csv").write_text("")
    with pytest.raises(DatasetError, match="empty file"):
        load_dataset.fn("blank.csv")


def test_unknown_table_is_refused(sandbox: Path) -> None:
    name = _write(sandbox, "other.csv", pd.DataFrame({"a": [1, 2], "b": [3, 4]}))
    with pytest.raises(DatasetError, match="none of the registered datasets' target columns"):
        load_dataset.fn(name)


def test_traversal_is_refused_by_the_load_task(sandbox: Path) -> None:
    with pytest.raises(DatasetError, match="outside the allowed data roots"):
        load_dataset.fn("../../etc/passwd.csv")


def test_a_class_too_small_to_stratify(sandbox: Path) -> None:
    frame = datagen.future_skills()
    frame.loc[0, "future_need_level"] = "LOW"
    with pytest.raises(DatasetError, match="fewer than 2 rows"):
        split_dataset.fn(_validate(_write(sandbox, "tiny.csv", frame)), 0.2, 42)


def test_validated_table_reuses_the_loaded_copy_unless_coercion_changed_it(sandbox: Path) -> None:
    plain = _validate(_write(sandbox, "typed.csv", datagen.churn(rows=300, seed=5)))
    assert plain.staged == plain.dataset.staged  # nothing changed: no second copy is written
    frame = datagen.churn(rows=300, seed=5)
    column = next(c for c in frame.columns if frame[c].dtype.kind == "i" and c != "customer")  # not the id
    frame[column] = frame[column].astype(float)  # "1.0" in the CSV: the schema coerces it back to int
    coerced = _validate(_write(sandbox, "floats.csv", frame))
    assert coerced.staged != coerced.dataset.staged
    assert str(read_stage(coerced.staged)[column].dtype) == "int64"
    assert str(read_stage(coerced.dataset.staged)[column].dtype) == "float64"


def test_class_counts_name_each_class_as_text_the_way_a_cast_to_text_would() -> None:
    import numpy as np
    import pandas as pd

    from tasks.validate import class_counts

    for column in (pd.Series(np.array([1, 0, 1, 1])), pd.Series([True, False, True]), pd.Series(["a", "b", "a"]),
                   pd.Series([1.0, 2.5, 1.0]), pd.Series([1, "1", 2], dtype=object)):  # fmt: skip
        assert class_counts(column) == column.astype(str).value_counts().to_dict()
    assert class_counts(pd.Series([1, "1", 2], dtype=object)) == {"1": 2, "2": 1}  # alike when read: one class
