"""Passwords and tokens never reach a log: not the stack's process logs, not Prefect's run logs."""

from __future__ import annotations

import pytest
from prefect import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterLevel

from tests.integration.conftest import Clients
from tests.integration.helpers import wait_for_status
from trainyard.registry.auth import create_user

pytestmark = pytest.mark.integration
PASSWORD = "pw-Secret-7f3a9c"
WRONG_PASSWORD = "pw-Wrong-51d0be"


def test_passwords_and_tokens_never_reach_a_log(live_stack: Clients) -> None:
    create_user("secret-keeper", PASSWORD, "hr_staff")
    login = "/api-token-auth/"
    assert live_stack.anonymous.post(login, json={"username": "secret-keeper", "password": WRONG_PASSWORD}).is_error
    key = live_stack.anonymous.post(login, json={"username": "secret-keeper", "password": PASSWORD}).json()["token"]
    payload = {"dataset": "future_skills_dataset.csv", "retrain": True, "use_cv": False}
    job = live_stack.anonymous.post("/train/random-forest", headers={"Authorization": f"Token {key}"}, json=payload)
    wait_for_status(live_stack.hr, job.json()["job_id"], {"completed", "failed"})
    assert live_stack.anonymous.get("/train/jobs", headers={"Authorization": f"Token {key}x"}).status_code == 401

    secrets = (PASSWORD, WRONG_PASSWORD, key)
    logs = sorted(live_stack.stack.logs.glob("*.log"))
    assert {"api.log", "prefect-server.log", "worker-cpu-0.log"} <= {p.name for p in logs}
    for path in logs:
        text = path.read_text(errors="replace")
        assert not [s for s in secrets if s in text], f"a secret is in {path}"
    messages: list[str] = []
    with get_client(sync_client=True) as client:
        while page := client.read_logs(LogFilter(level=LogFilterLevel(ge_=0)), limit=200, offset=len(messages)):
            messages += [entry.message for entry in page]
    assert messages and not [s for s in secrets if any(s in m for m in messages)]
