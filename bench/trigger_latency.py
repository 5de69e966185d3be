"""Trigger latency: POST /train/{type} → Running → Completed, against raw Prefect on a default worker.

    .venv/bin/python bench/trigger_latency.py --runs 20
    .venv/bin/python bench/trigger_latency.py --runs 1    # smoke (CI)

Ours: POST /train/random-forest (HR table, 5 trees) on the stack `trainyard up` runs (worker polls
every 1 s). Raw: a no-op flow deployed to its own process pool, served by a worker with Prefect's
default settings, triggered with the Prefect client. Both polled every 50 ms, one run at a time.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import isolated_stack, percentile, table

BODY = {"dataset": "future_skills_dataset.csv", "hyperparameters": {"n_estimators": 5}, "use_cv": False,
        "retrain": True}  # fmt: skip


def timed(trigger: Callable[[], str], state_of: Callable[[str], str]) -> tuple[float, float]:
    """Seconds from trigger to Running and to a terminal state."""
    started = time.perf_counter()
    run_id = trigger()
    running = None
    while True:
        state = state_of(run_id)
        if running is None and state in {"RUNNING", "COMPLETED"}:
            running = time.perf_counter() - started
        if state in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            if state != "COMPLETED":
                raise RuntimeError(f"run {run_id} ended {state}")
            return running or 0.0, time.perf_counter() - started
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with isolated_stack() as (stack, client):
        from prefect import get_client
        from prefect.client.schemas.actions import WorkPoolCreate
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from trainyard.processes import spawn

        with temporary_settings(updates={PREFECT_API_URL: stack.prefect_api_url}):
            with get_client(sync_client=True) as prefect:
                prefect.create_work_pool(WorkPoolCreate(name="raw", type="process"))
            from bench.noop_flow import noop

            deployment_id = noop.from_source(str(Path(__file__).parent), "noop_flow.py:noop").deploy(
                name="noop", work_pool_name="raw", print_next_steps=False
            )
            raw_env = {**stack.env(), "PREFECT_WORKER_QUERY_SECONDS": "10"}  # Prefect's default polling
            worker = spawn([str(Path(sys.executable).parent / "prefect"), "worker", "start", "--pool", "raw"],
                           raw_env, stack.logs / "worker-raw.log")  # fmt: skip
            stack.processes.append(("worker-raw", worker))

            def ours_trigger() -> str:
                return client.post("/train/random-forest", json=BODY).json()["job_id"]

            def ours_state(job_id: str) -> str:
                return client.get(f"/train/status/{job_id}").json()["prefect_state"].upper()

            with get_client(sync_client=True) as prefect:

                def raw_trigger() -> str:
                    return str(prefect.create_flow_run_from_deployment(deployment_id).id)

                def raw_state(run_id: str) -> str:
                    state = prefect.read_flow_run(UUID(run_id)).state
                    return state.type.value if state else "PENDING"

                results = {"trainyard POST /train/random-forest": [], "raw Prefect no-op, default worker": []}
                for _ in range(args.runs):
                    results["trainyard POST /train/random-forest"].append(timed(ours_trigger, ours_state))
                    results["raw Prefect no-op, default worker"].append(timed(raw_trigger, raw_state))
    rows = []
    for name, values in results.items():
        running, done = [v[0] for v in values], [v[1] for v in values]
        rows.append([name, percentile(running, 50), percentile(running, 95), percentile(done, 50),
                     percentile(done, 95)])  # fmt: skip
    ours, raw = rows
    rows.append(["ratio ours / raw", ours[1] / raw[1], ours[2] / raw[2], ours[3] / raw[3], ours[4] / raw[4]])
    print(f"trigger latency over {args.runs} runs each (seconds)\n")
    print(table(["", "→ Running p50", "→ Running p95", "→ Completed p50", "→ Completed p95"], rows))


if __name__ == "__main__":
    main()
