"""Cancel latency: DELETE /train/job/{id} mid-fit → the run's process gone, and → state Cancelled.

    .venv/bin/python bench/cancel_latency.py --repeats 5
    .venv/bin/python bench/cancel_latency.py --repeats 1 --families random-forest   # smoke (CI)

Each job fits on the churn table for far longer than a cancel may take; the DELETE is sent once the
fit task reports Running (for `all`: once all three fits do). "Gone" is the flow-run process Prefect
recorded (polled every 20 ms). Prefect's own floor for a run busy in native code is its worker's 30 s
grace kill; trainyard stops fits cooperatively (per epoch, boosting round, batch of trees).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import isolated_stack, median, percentile, table

SLOW = {
    "random-forest": {"n_estimators": 1000},
    "xgboost": {"n_estimators": 10_000, "max_depth": 10},
    "neural-net": {"epochs": 1000, "batch_size": 16},
}


def _fits_running(client: object, job_id: str, families: list[str], timeout: float = 180) -> None:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterParentFlowRunId

    ids = [UUID(job_id)]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = client.read_flow_runs(  # type: ignore[attr-defined]
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=ids))
        )
        tasks = client.read_task_runs(  # type: ignore[attr-defined]
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[*ids, *(r.id for r in runs)]))
        )
        running = {t.name.rsplit("-", 1)[0] for t in tasks if t.state and t.state.name == "Running"}
        if {f"fit-{family}" for family in families} <= running:
            return
        time.sleep(0.2)
    raise RuntimeError(f"fits of {families} never ran together in job {job_id}")


def one_cancel(api: object, prefect: object, family: str) -> tuple[float, float]:
    """(seconds to process gone, seconds to Cancelled) for one job of ``family`` (or ``all``)."""
    from trainyard.pids import pid_alive

    families = list(SLOW) if family == "all" else [family]
    hyper = {f.replace("-", "_"): SLOW[f] for f in families} if family == "all" else SLOW[family]
    body = {"dataset": "churn.csv", "retrain": True, "use_cv": False, "hyperparameters": hyper}
    job_id = api.post(f"/train/{family}", json=body).json()["job_id"]  # type: ignore[attr-defined]
    _fits_running(prefect, job_id, families)
    pid = int(str(prefect.read_flow_run(UUID(job_id)).infrastructure_pid).rsplit(":", 1)[-1])  # type: ignore[attr-defined]
    started = time.perf_counter()
    api.delete(f"/train/job/{job_id}").raise_for_status()  # type: ignore[attr-defined]
    gone = cancelled = None
    while gone is None or cancelled is None:
        if gone is None and not pid_alive(pid):
            gone = time.perf_counter() - started
        if cancelled is None and prefect.read_flow_run(UUID(job_id)).state.type.value == "CANCELLED":  # type: ignore[attr-defined]
            cancelled = time.perf_counter() - started
        if time.perf_counter() - started > 120:
            raise RuntimeError(f"job {job_id} not cancelled within 120 s (gone={gone})")
        time.sleep(0.02)
    return gone, cancelled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--families", nargs="+", default=[*SLOW, "all"], choices=[*SLOW, "all"])
    args = parser.parse_args()
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    rows = []
    with isolated_stack() as (stack, api), temporary_settings(updates={PREFECT_API_URL: stack.prefect_api_url}), \
            get_client(sync_client=True) as prefect:  # fmt: skip
        for family in args.families:
            samples = [one_cancel(api, prefect, family) for _ in range(args.repeats)]
            gone, cancelled = [s[0] for s in samples], [s[1] for s in samples]
            rows.append([family, len(samples), median(gone), percentile(gone, 95), max(gone), median(cancelled),
                         percentile(cancelled, 95)])  # fmt: skip
    print(table(["job", "n", "process gone p50 s", "gone p95 s", "gone max s", "Cancelled p50 s",
                 "Cancelled p95 s"], rows))  # fmt: skip


if __name__ == "__main__":
    main()
