"""Registry writes on a real SQLite file (the session's sandbox artifacts dir)."""

import uuid

import pytest

from trainyard.errors import DuplicateVersionError, RegistryError
from trainyard.registry.auth import create_user, issue_token, login, principal_for_token
from trainyard.registry.db import session_scope
from trainyard.registry.models import ApiToken, ModelVersionRecord
from trainyard.registry.runs import (
    RunStart,
    complete_run,
    ensure_run,
    get_run,
    set_outcome,
    version_claimed,
    version_taken,
)
from trainyard.states import RunStatus


def _version(name: str) -> ModelVersionRecord:
    return ModelVersionRecord(model_type="xgboost", version=name, path="/x", sha256="0" * 64, size_bytes=1)


def test_ensure_run_is_idempotent_and_keeps_the_first_writer() -> None:
    flow_run_id = str(uuid.uuid4())
    first = ensure_run(RunStart(flow_run_id, "xgboost", trained_by_username="alice", notes="n"))
    second = ensure_run(RunStart(flow_run_id, "xgboost", model_version="v9"), started=True)
    assert first.id == second.id and second.trained_by_username == "alice" and second.model_version == "v9"
    assert second.started_at is not None


def test_duplicate_version_is_refused_and_named() -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    for run in (a, b):
        ensure_run(RunStart(run, "xgboost"))
    name = f"dup-{uuid.uuid4().hex[:6]}"
    complete_run(a, _version(name), status=RunStatus.COMPLETED)
    assert version_taken("xgboost", name)
    with pytest.raises(DuplicateVersionError, match=f"'{name}' already exists for xgboost"):
        complete_run(b, _version(name), status=RunStatus.COMPLETED)
    assert get_run(b).status == RunStatus.RUNNING  # the failed transaction changed nothing


def test_failed_outcome_keeps_the_message_and_unknown_runs_are_ignored() -> None:
    flow_run_id = str(uuid.uuid4())
    ensure_run(RunStart(flow_run_id, "random-forest"))
    set_outcome(flow_run_id, RunStatus.FAILED, "Failed", "SchemaValidationError: column 'x'")
    run = get_run(flow_run_id)
    assert run.status == RunStatus.FAILED and "column 'x'" in run.error_message and run.completed_at
    set_outcome(str(uuid.uuid4()), RunStatus.FAILED, "Failed", "no record")  # must not raise
    with pytest.raises(RegistryError):
        complete_run(str(uuid.uuid4()), None)


def test_tokens_are_stored_hashed_and_passwords_checked() -> None:
    user = create_user(f"u-{uuid.uuid4().hex[:6]}", "s3cret", "DRH")
    token = issue_token(user.id)
    with session_scope() as session:
        stored = [t.token_sha256 for t in session.query(ApiToken).filter_by(user_id=user.id)]
    assert token not in stored and len(stored[0]) == 64
    assert principal_for_token(token) == user and user.role == "hr_staff"
    assert principal_for_token(token + "x") is None
    assert login(user.username, "wrong") is None and login("nobody", "s3cret") is None
    assert principal_for_token(login(user.username, "s3cret")) == user


def test_registry_times_come_back_timezone_aware_utc() -> None:
    flow_run_id = str(uuid.uuid4())
    run = ensure_run(RunStart(flow_run_id=flow_run_id, model_type="xgboost", parameters={}))
    assert run.run_date.tzinfo is not None and run.run_date.utcoffset().total_seconds() == 0
    assert get_run(flow_run_id).run_date.tzinfo is not None


def test_a_version_is_claimed_by_a_live_or_completed_run_and_given_back_by_a_failed_one() -> None:
    name = f"claim-{uuid.uuid4().hex[:6]}"
    assert not version_claimed("random-forest", name)
    flow_run_id = str(uuid.uuid4())
    ensure_run(RunStart(flow_run_id, "random-forest", model_version=name))
    assert version_claimed("random-forest", name) and not version_taken("random-forest", name)
    assert not version_claimed("xgboost", name)  # versions are per model type
    set_outcome(flow_run_id, RunStatus.FAILED, "Failed", "boom")
    assert not version_claimed("random-forest", name)


def test_the_state_hook_accepts_prefects_keyword_call() -> None:
    """Prefect's runner calls ``hook(flow=..., flow_run=..., state=...)``; the engine calls it positionally."""
    from types import SimpleNamespace

    from tasks.records import record_final_state

    state = SimpleNamespace(type=SimpleNamespace(value="CRASHED"), name="Crashed", message="process exited")
    unknown = SimpleNamespace(id="00000000-0000-0000-0000-000000000000")  # no record: nothing to mark, no error
    record_final_state(flow=None, flow_run=unknown, state=state)
    record_final_state(None, unknown, state)
