"""Guessing passwords against the API as it runs for users: uvicorn with two worker processes, the default
throttle, the real registry. Client addresses come in X-Forwarded-For, which uvicorn takes from a trusted
proxy (loopback by default) as a reverse proxy sends it: a header, no traffic to those addresses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import psutil
import pytest
from prefect import get_client
from sqlalchemy import func, select

from runtime.processes import free_port
from tests.integration.conftest import Clients
from tests.integration.helpers import paused_pools, wait_for_status
from trainyard.registry import users
from trainyard.registry.db import session_scope
from trainyard.registry.models import AuditEvent, TrainingRun

pytestmark = pytest.mark.integration
TRAINYARD = Path(sys.executable).parent / "trainyard"
LOGIN = "/api-token-auth/"
ATTACKER, REAL_USER, OTHER = "203.0.113.9", "198.51.100.20", "192.0.2.44"  # documentation ranges


@pytest.fixture(scope="module")
def two_workers(live_stack: Clients) -> Iterator[str]:
    """A second API, as `trainyard up` starts it with TRAINYARD_API_WORKERS=2, on the session's registry."""
    name = "api-two-workers"
    url = live_stack.stack.start_api(name=name, port=free_port(), workers=2)
    try:
        yield url
    finally:
        live_stack.stack.stop_child(name)


def _login(url: str, username: str, password: str, address: str) -> httpx.Response:
    # A new connection each time, so the kernel hands the requests to either worker process.
    return httpx.post(f"{url}{LOGIN}", json={"username": username, "password": password},
                      headers={"X-Forwarded-For": address, "Connection": "close"}, timeout=30)  # fmt: skip


def _user(role: str = "hr_staff") -> tuple[str, str]:
    name, password = f"login-{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    users.add_user(name, password, role, actor="cli:tests")
    return name, password


def test_the_api_runs_two_worker_processes(live_stack: Clients, two_workers: str) -> None:
    process = next(p for name, p in live_stack.stack.processes if name == "api-two-workers")
    children = psutil.Process(process.pid).children()
    workers = [child for child in children if "spawn_main" in " ".join(child.cmdline())]
    assert len(workers) == 2, [child.cmdline() for child in children]


def test_guessing_is_throttled_across_both_workers_and_the_real_user_still_logs_in(
    live_stack: Clients, two_workers: str
) -> None:
    victim, password = _user()
    # Alternating between two API processes (the two-worker one and the session's): one budget, not two.
    apis = [two_workers, live_stack.stack.api_url]
    answers = [_login(apis[i % 2], victim, "wrong-guess", ATTACKER) for i in range(12)]
    codes = [a.status_code for a in answers]
    assert codes == [400] * 5 + [429] * 7, codes
    first = answers[5]
    wait = int(first.headers["Retry-After"])
    assert wait == 2 and first.json()["retry_after"] == 2 and "Too many failed logins" in first.json()["detail"]

    # The real user, from their own address, meanwhile: 200 at once.
    started = time.perf_counter()
    real = _login(two_workers, victim, password, REAL_USER)
    assert real.status_code == 200 and time.perf_counter() - started < 1.0, real.text
    # While refused, even the right password from the attacker's address is not checked.
    assert _login(two_workers, victim, password, ATTACKER).status_code == 429

    # After Retry-After, one guess; the next refusal's wait has doubled.
    time.sleep(wait + 0.2)
    assert _login(two_workers, victim, "wrong-again", ATTACKER).status_code == 400
    again = _login(live_stack.stack.api_url, victim, "wrong-again", ATTACKER)
    assert again.status_code == 429 and int(again.headers["Retry-After"]) == 4, again.headers
    time.sleep(4.2)
    # The right password once the wait is over: a success clears the count for that address.
    assert _login(two_workers, victim, password, ATTACKER).status_code == 200
    assert [_login(two_workers, victim, "wrong", ATTACKER).status_code for _ in range(4)] == [400] * 4

    trail = live_stack.admin.get("/audit", params={"user": victim, "action": "login", "limit": 100}).json()
    seen = [(e["outcome"], e["address"]) for e in reversed(trail["entries"])]
    assert seen[:7] == [("failed", ATTACKER)] * 5 + [("throttled", ATTACKER), ("ok", REAL_USER)], seen
    assert ("ok", ATTACKER) in seen and trail["total"] == len(seen)
    assert trail["entries"][0]["detail"] == {} and "retry_after_s" in trail["entries"][-6]["detail"]


def test_made_up_user_names_from_one_address_are_refused_after_its_limit(two_workers: str) -> None:
    codes = [_login(two_workers, f"nobody-{i}-{uuid.uuid4().hex[:6]}", "guess", OTHER).status_code for i in range(24)]
    assert codes == [400] * 20 + [429] * 4, codes


def test_an_expired_token_gets_401_token_expired_and_reaches_nothing(live_stack: Clients, two_workers: str) -> None:
    name, _ = _user()
    short = users.create_token(name, timedelta(seconds=2), actor="cli:tests")
    api = httpx.Client(base_url=two_workers, timeout=30)
    assert api.get("/train/jobs", headers={"Authorization": f"Token {short}"}).status_code == 200
    time.sleep(2.5)
    with get_client(sync_client=True) as client:
        flow_runs = client.count_flow_runs()
    with session_scope() as session:
        runs = session.scalar(select(func.count()).select_from(TrainingRun))
        audited = session.scalar(select(func.count()).select_from(AuditEvent))
    for token, detail in ((short, "token expired"), (short[:-1] + "0" if short[-1] != "0" else short[:-1] + "1",
                                                      "Invalid token.")):  # fmt: skip
        answer = api.post("/train/random-forest", json={"retrain": True}, headers={"Authorization": f"Token {token}"})
        assert answer.status_code == 401 and answer.json()["detail"] == detail, answer.text
        assert answer.headers["WWW-Authenticate"] == "Token"
    with get_client(sync_client=True) as client:
        assert client.count_flow_runs() == flow_runs  # nothing reached Prefect
    with session_scope() as session:  # nor the registry's write paths
        assert session.scalar(select(func.count()).select_from(TrainingRun)) == runs
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == audited
    listed = _cli("tokens", "list", name)
    assert "(expired)" in listed and "expires_at" in listed, listed
    api.close()


def test_the_login_lifetime_setting_makes_tokens_expire(live_stack: Clients) -> None:
    name, password = _user("manager")
    url = live_stack.stack.start_api(name="api-lifetime", port=free_port(), env={"TRAINYARD_TOKEN_LIFETIME": "2s"})
    try:
        token = _login(url, name, password, REAL_USER).json()["token"]
        headers = {"Authorization": f"Token {token}"}
        assert httpx.get(f"{url}/train/jobs", headers=headers, timeout=30).status_code == 200
        time.sleep(2.5)
        expired = httpx.get(f"{url}/train/jobs", headers=headers, timeout=30)
        assert expired.status_code == 401 and expired.json()["detail"] == "token expired"
    finally:
        live_stack.stack.stop_child("api-lifetime")


def test_runs_started_and_cancelled_through_the_api_are_audited(live_stack: Clients) -> None:
    with paused_pools(("cpu",)):
        job_id = live_stack.hr.post("/train/random-forest", json={"retrain": True}).json()["job_id"]
        assert live_stack.hr.delete(f"/train/job/{job_id}").status_code == 200
    wait_for_status(live_stack.hr, job_id, {"cancelled"})
    entries = live_stack.admin.get("/audit", params={"user": "test-hr_staff", "limit": 50}).json()["entries"]
    mine = [(e["action"], e["detail"].get("job_type")) for e in entries if e["target"] == job_id]
    assert mine == [("run.cancelled", "random-forest"), ("run.started", "random-forest")], mine


def test_only_admins_read_the_audit_and_the_cli_reads_it_too(live_stack: Clients) -> None:
    name, _ = _user()
    users.set_role(name, "manager", actor="cli:tests")
    assert live_stack.hr.get("/audit").status_code == 403 and live_stack.manager.get("/audit").status_code == 403
    assert live_stack.anonymous.get("/audit").status_code == 401
    page = live_stack.admin.get("/audit", params={"limit": 2, "offset": 1})
    assert page.status_code == 200 and len(page.json()["entries"]) == 2 and page.json()["total"] > 3
    assert live_stack.admin.get("/audit", params={"action": "no-such"}).status_code == 422
    for since in ("0.5", "yesterday"):  # not a Unix time, not free text: ISO 8601 only
        refused = live_stack.admin.get("/audit", params={"since": since})
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", "since"], refused.text
    assert live_stack.admin.get("/audit", params={"since": "2026-01-01T00:00:00"}).status_code == 200
    out = _cli("audit", "--since", "1h", "--action", "user.role_changed")
    line = next(row for row in out.splitlines() if name in row)
    assert "cli:tests" in line and "from=hr_staff" in line and "to=manager" in line, out


def _cli(*args: str) -> str:
    result = subprocess.run([str(TRAINYARD), *args], capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
