"""A failed run's HTTP code comes from its error's type, recorded with the run; never from its message."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import inspect

from api.routers.training import failed_response
from trainyard.errors import (
    DatasetError,
    ErrorKind,
    SchemaValidationError,
    TrainingError,
    UnsupportedTaskError,
    kind_of,
)
from trainyard.registry.db import get_engine


@pytest.mark.parametrize(("error", "kind"), [
    (SchemaValidationError("column 'x' failed"), ErrorKind.DATA),
    (DatasetError("no such file"), ErrorKind.DATA),
    (UnsupportedTaskError("does not train regression"), ErrorKind.DATA),
    (TrainingError("fitting failed: ValueError: SchemaValidationError in a message"), ErrorKind.TRAINING),
    (MemoryError(), ErrorKind.TRAINING),
])  # fmt: skip
def test_the_kind_of_an_error_is_its_type(error: BaseException, kind: ErrorKind) -> None:
    assert kind_of(error) is kind


@pytest.mark.parametrize(("kind", "code"), [(ErrorKind.DATA, 400), (ErrorKind.TRAINING, 500), (None, 500)])
def test_a_failed_run_answers_by_its_recorded_kind_whatever_its_message_says(kind: ErrorKind | None,
                                                                             code: int) -> None:  # fmt: skip
    # A training failure whose message quotes a data error's class name stayed a 400 when the code was
    # chosen by matching names in the message.
    run = SimpleNamespace(id=7, error_kind=kind, error_message="TrainingError: a SchemaValidationError upstream")
    job = SimpleNamespace(message=None, state_name="Failed")
    response = failed_response(run, job)  # type: ignore[arg-type]
    assert response.status_code == code and json.loads(response.body)["training_run_id"] == 7


def test_a_registry_made_by_an_older_version_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # the training_runs table as it was before error_kind
        db.execute("CREATE TABLE training_runs (id INTEGER PRIMARY KEY, flow_run_id VARCHAR(64), error_message TEXT)")
        db.execute("INSERT INTO training_runs (flow_run_id, error_message) VALUES ('r1', 'kept')")
    engine = get_engine(f"sqlite:///{path}")
    assert "error_kind" in {column["name"] for column in inspect(engine).get_columns("training_runs")}
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT flow_run_id, error_message, error_kind FROM training_runs").fetchall() == [
            ("r1", "kept", None)]
