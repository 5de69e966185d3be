"""The login throttle and the audit trail on a real SQLite registry (the session's sandbox), with the clock
passed in: limits per pair and per address, the doubling delay, the real user's own address, the bound."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from trainyard.durations import parse_duration
from trainyard.registry import audit, logins, throttle, users
from trainyard.registry.audit import Action, Outcome
from trainyard.registry.auth import TokenExpired, create_user, issue_token, principal_for_token, token_digest
from trainyard.registry.db import session_scope
from trainyard.settings import get_settings

T0 = datetime.now(UTC)  # the clock's time: pruning around it must not touch other tests' real entries


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {"LOGIN_FAILURES_PER_USER": "5", "LOGIN_FAILURES_PER_ADDRESS": "20",
                        "LOGIN_FAILURES_PER_USER_TOTAL": "12", "LOGIN_WINDOW_SECONDS": "300",
                        "LOGIN_DELAY_SECONDS": "2", "LOGIN_MAX_DELAY_SECONDS": "900"}.items():  # fmt: skip
        monkeypatch.setenv(f"TRAINYARD_{name}", value)
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def _name() -> str:
    return f"victim-{uuid.uuid4().hex[:8]}"


def _address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def _fail(user: str, address: str, times: int, at: datetime) -> float:
    started = 0.0
    for _ in range(times):
        started = throttle.record_failure(user, address, now=at)
    return started


def test_five_failures_refuse_the_pair_with_a_delay_that_doubles(limits: None) -> None:
    user, address = _name(), _address()
    assert _fail(user, address, 4, T0) == 0 and throttle.retry_after(user, address, now=T0) == 0
    assert _fail(user, address, 1, T0) == 2.0
    assert throttle.retry_after(user, address, now=T0) == 2.0
    assert throttle.retry_after(user, address, now=T0 + timedelta(seconds=2.5)) == 0  # one guess may go on
    assert _fail(user, address, 1, T0 + timedelta(seconds=3)) == 4.0
    assert _fail(user, address, 1, T0 + timedelta(seconds=8)) == 8.0
    assert _fail(user, address, 20, T0 + timedelta(seconds=20)) == 900.0  # capped


def test_the_count_outlives_a_block_longer_than_the_window(limits: None) -> None:
    user, address = _name(), _address()
    assert _fail(user, address, 14, T0) == 900.0  # 2 * 2**9 capped
    after_block = T0 + timedelta(seconds=901)
    assert throttle.retry_after(user, address, now=after_block) == 0
    assert _fail(user, address, 1, after_block) == 900.0  # not back to 1 failure of 5


def test_the_real_user_from_another_address_is_not_refused(limits: None) -> None:
    user, attacker, real = _name(), _address(), _address()
    _fail(user, attacker, 5, T0)
    assert throttle.retry_after(user, attacker, now=T0) > 0
    assert throttle.retry_after(user, real, now=T0) == 0


def test_past_the_user_total_only_the_addresses_that_failed_for_it_are_refused(limits: None) -> None:
    user, real = _name(), _address()
    spread = [_address() for _ in range(4)]
    for address in spread:
        _fail(user, address, 3, T0)  # 12 in all, each address under its own 5
    assert all(throttle.retry_after(user, address, now=T0) > 0 for address in spread)
    assert throttle.retry_after(user, real, now=T0) == 0


def test_an_address_trying_many_user_names_is_refused_for_all_of_them(limits: None) -> None:
    address = _address()
    for _ in range(20):
        throttle.record_failure(_name(), address, now=T0)
    assert throttle.retry_after(_name(), address, now=T0) == 2.0


def test_failures_older_than_the_window_are_forgotten(limits: None) -> None:
    user, address = _name(), _address()
    _fail(user, address, 4, T0)
    assert _fail(user, address, 1, T0 + timedelta(seconds=301)) == 0


def test_the_table_is_bounded(limits: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINYARD_LOGIN_THROTTLE_MAX_ENTRIES", "300")
    get_settings.cache_clear()
    for index in range(400):  # a made-up user name from a new address each time: 3 rows each
        throttle.record_failure(_name(), _address(), now=T0 + timedelta(milliseconds=index))
    assert throttle.entries() <= 300


def test_a_success_clears_the_pair_and_is_audited(limits: None) -> None:
    user, address = _name(), _address()
    create_user(user, "right-pw", "manager")
    for _ in range(4):
        assert logins.attempt(user, "wrong-pw", address).token is None
    result = logins.attempt(user, "right-pw", address)
    assert result.token is not None
    for _ in range(4):  # counting starts again from zero
        assert logins.attempt(user, "wrong-pw", address).retry_after == 0
    outcomes = [e.outcome for e in audit.read(user=user, action=Action.LOGIN)[1]]
    assert outcomes == ["failed"] * 4 + ["ok"] + ["failed"] * 4
    assert logins.attempt(user, "wrong-pw", address).token is None  # the 5th since the success
    refused = logins.attempt(user, "right-pw", address)
    assert refused.token is None and refused.retry_after > 0  # throttled: the right password is not even checked
    _, entries = audit.read(user=user, action=Action.LOGIN, limit=2)
    assert [e.outcome for e in entries] == [Outcome.THROTTLED, Outcome.FAILED]
    assert entries[0].address == address and entries[0].detail["retry_after_s"] == 2.0


def test_no_secret_reaches_the_audit_trail(limits: None) -> None:
    user = _name()
    users.add_user(user, "pw-never-in-audit", "hr_staff", actor="cli:test")
    token = users.create_token(user, parse_duration("1d"), actor="cli:test")
    logins.attempt(user, "pw-wrong-never-in-audit", _address())
    users.set_role(user, "manager", actor="cli:test")
    users.revoke_tokens(username=user, actor="cli:test")
    with session_scope() as session:
        dump = " ".join(str(row) for row in session.execute(text("SELECT * FROM audit_events")))
    assert user in dump and "pw-never-in-audit" not in dump and "pw-wrong" not in dump and token not in dump
    actions = [e.action for e in audit.read(limit=1000)[1] if e.target == user or e.detail.get("user") == user]
    assert {Action.USER_ADDED, Action.TOKEN_CREATED, Action.ROLE_CHANGED, Action.TOKEN_REVOKED} <= set(actions)


def test_the_audit_trail_refuses_update_and_delete() -> None:
    audit.record(Action.LOGIN, actor="someone", outcome=Outcome.FAILED)
    for statement in ("UPDATE audit_events SET actor = 'nobody'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), session_scope() as session:
            session.execute(text(statement))


def test_an_expired_token_is_told_apart_from_an_unknown_one() -> None:
    user = _name()
    users.add_user(user, "pw", "manager", actor="cli:test")
    token = users.create_token(user, timedelta(seconds=0.2), actor="cli:test")
    assert principal_for_token(token) is not None
    listed = users.list_tokens(user)
    assert listed[0].expires_at is not None and not listed[0].expired
    time.sleep(0.3)
    with pytest.raises(TokenExpired):
        principal_for_token(token)
    assert principal_for_token(token + "0") is None
    assert users.list_tokens(user)[0].expired


def test_durations() -> None:
    assert parse_duration("90d") == timedelta(days=90) and parse_duration("12h") == timedelta(hours=12)
    for bad in ("90", "d", "0s", "-1d", "1y"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_the_token_lifetime_setting_reads_people_and_iso_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    for value, expected in (("90d", timedelta(days=90)), ("P1D", timedelta(days=1)), ("3600", timedelta(hours=1))):
        monkeypatch.setenv("TRAINYARD_TOKEN_LIFETIME", value)
        get_settings.cache_clear()
        assert get_settings().token_lifetime == expected
    monkeypatch.delenv("TRAINYARD_TOKEN_LIFETIME")
    get_settings.cache_clear()
    assert get_settings().token_lifetime is None


def test_the_session_guard_finds_a_token_written_in_a_log(tmp_path: Path) -> None:
    from tests.conftest import tokens_in_logs

    token = issue_token(create_user(_name(), "pw", "manager").id)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "api.log").write_text(f"INFO GET /train/jobs Authorization: Token {token}\n")
    (tmp_path / "logs" / "clean.log").write_text(f"digest {token_digest(token)} and another {'a' * 40}\n")
    assert tokens_in_logs(tmp_path, {token_digest(token)}) == [
        f"{tmp_path / 'logs' / 'api.log'}: token sha256 {token_digest(token)[:12]}…"]
