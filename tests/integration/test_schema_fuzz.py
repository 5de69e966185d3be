"""schemathesis against the live API's OpenAPI document: no 5xx, every answer as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runtime.processes import free_port
from tests.integration.conftest import Clients
from tests.integration.helpers import paused_pools

pytestmark = pytest.mark.integration
ST = Path(sys.executable).parent / "st"
# Checks left out, and why:
# - positive_data_acceptance: the contracts refuse some schema-valid input on purpose (wrong
#   credentials → 400, a dataset that is not there → 422);
# - unsupported_method / allow_header_conformance: ``POST /train/jobs`` is ``POST /train/{model_type}``
#   with model_type "jobs", which the contract answers 400 (unsupported type), not 405;
# Response time: `--checks all` would fail answers slower than 10 s. Speed is measured in bench/, not
# asserted here (a trigger may spend seconds retrying SQLite's 503s, by design): the limit is the timeout.
EXCLUDED = "positive_data_acceptance,unsupported_method,allow_header_conformance"
# CI runs a fixed seed at 6 examples per operation. To fuzz longer against a running stack:
#   .venv/bin/st run http://127.0.0.1:8000/openapi.json -H "Authorization: Token $TOKEN" --checks all \
#       --exclude-checks positive_data_acceptance,unsupported_method,allow_header_conformance -n 200
# (with the work pools paused: `prefect work-pool pause cpu` / `gpu`, or it trains what it triggers).


def test_openapi_fuzz_finds_no_server_errors_or_schema_violations(live_stack: Clients, tmp_path: Path) -> None:
    token = live_stack.admin.headers["Authorization"]
    # A second API on the same Prefect server and registry, with no synchronous wait: the
    # training runs it triggers only wait in the (paused) pools and are cancelled afterwards.
    name = "api-fuzz"
    env = {"TRAINYARD_SYNC_WAIT_SECONDS": "0", "TRAINYARD_RECONCILE_INTERVAL_SECONDS": "0"}
    url = live_stack.stack.start_api(name=name, port=free_port(), env=env)
    try:
        with paused_pools():
            result = subprocess.run(
                [str(ST), "run", f"{url}/openapi.json", "--header", f"Authorization: {token}",
                 "--checks", "all", "--exclude-checks", EXCLUDED, "--max-examples", "6", "--seed", "20261123",
                 "--workers", "1", "--request-timeout", "60", "--max-response-time", "60", "--no-color"],
                capture_output=True, text=True, timeout=600, cwd=tmp_path,  # its .schemathesis cache stays out
            )  # fmt: skip
    finally:
        live_stack.stack.stop_child(name)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert "passed" in result.stdout and "generated" in result.stdout, result.stdout[-2000:]
