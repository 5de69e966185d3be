"""Prefect unreachable: the gateway says so in one exception type and the API answers 503."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi.testclient import TestClient

from api.deps import PrincipalCache
from api.gateway import PrefectGateway, PrefectUnavailable
from api.main import create_app
from trainyard.registry.auth import create_user, issue_token


class _DownClient:
    """A Prefect client whose server does not answer."""

    def read_flow_run(self, flow_run_id: uuid.UUID) -> None:
        raise httpx.ConnectError("[Errno 111] Connection refused")


def test_unreachable_prefect_is_prefect_unavailable() -> None:
    gateway = PrefectGateway(_DownClient())  # type: ignore[arg-type]
    with pytest.raises(PrefectUnavailable, match="unreachable"):
        gateway.get(str(uuid.uuid4()))


def test_api_answers_503_with_retry_after_while_prefect_is_down() -> None:
    app = create_app()
    app.state.gateway = PrefectGateway(_DownClient())  # type: ignore[arg-type]
    app.state.principals = PrincipalCache(ttl=0)
    token = issue_token(create_user(f"outage-{uuid.uuid4().hex[:8]}", "pw", "manager").id)
    response = TestClient(app).get(f"/train/status/{uuid.uuid4()}", headers={"Authorization": f"Token {token}"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "Prefect server unreachable" in response.json()["detail"]
