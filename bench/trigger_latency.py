"""Trigger latency: POST /train/{type} → Running → Completed, against Prefect's own ways to run a flow.

    .venv/bin/python bench/trigger_latency.py --runs 20
    .venv/bin/python bench/trigger_latency.py --runs 20 --only-ours   # ours and its breakdown only
    .venv/bin/python bench/trigger_latency.py --runs 1    # smoke (CI)

Ours: POST /train/random-forest (HR table, 5 trees) on the stack `trainyard up` runs. Raw: a no-op
flow triggered with the Prefect client from a deployment (1) on a process pool whose worker has
Prefect's default settings (10 s poll), (2) on a process pool whose worker polls every 1 s, and
(3) served by ``flow.serve`` in a long-lived process polling every 1 s. All polled every 50 ms, one
run at a time, the variants interleaved.

For ours it also prints where the time goes, per run, from Prefect's own timestamps (the flow run's
creation and its state changes), the warm server's "started warm" log line and this client's clock
(one machine, one clock): the POST until the run is created, until the API answers, the worker's
claim (Pending), the fork, and the run's own start (Running).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import isolated_stack, percentile, table

OURS = "trainyard POST /train/random-forest"
RAW_POOLS = {"raw-default": 10, "raw-poll-1s": 1}  # work pool → its worker's PREFECT_WORKER_QUERY_SECONDS
SERVED = "raw-served"
LABELS = {
    "raw-default": "raw Prefect no-op, process worker (default 10 s poll)",
    "raw-poll-1s": "raw Prefect no-op, process worker polling every 1 s",
    SERVED: "raw Prefect no-op, flow.serve polling every 1 s",
}
BODY = {"dataset": "future_skills_dataset.csv", "hyperparameters": {"n_estimators": 5}, "use_cv": False,
        "retrain": True}  # fmt: skip


STEPS = ["POST → run created", "run created → API answered", "run created → Pending (worker claimed it)",
         "Pending → Submitting (worker read the deployment, labelled the run)",
         "Submitting → forked by the warm server", "forked → Running (the run's engine started)",
         "Running → seen by the client (50 ms poll)"]  # fmt: skip
STARTED_WARM = re.compile(r"^(\S+ \S+) INFO runtime.warm: flow run (\S+) started warm")


def timed(trigger: Callable[[], str], state_of: Callable[[str], str],
          marks: dict[str, float] | None = None) -> tuple[float, float]:  # fmt: skip
    """Seconds from trigger to Running and to a terminal state; ``marks`` gets the wall clock's
    POST start, its answer and the moment Running was seen."""
    started = time.perf_counter()
    wall = time.time()
    run_id = trigger()
    if marks is not None:
        marks.update(post=wall, answered=time.time(), id=run_id)  # type: ignore[arg-type]
    running = None
    while True:
        state = state_of(run_id)
        if running is None and state in {"RUNNING", "COMPLETED"}:
            running = time.perf_counter() - started
            if marks is not None:
                marks["seen"] = time.time()
        if state in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            if state != "COMPLETED":
                raise RuntimeError(f"run {run_id} ended {state}")
            return running or 0.0, time.perf_counter() - started
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--only-ours", action="store_true", help="skip Prefect's own setups")
    parser.add_argument("--pause", type=float, default=0.0,
                        help="seconds to wait after each run ends (the last run's exit settles first)")  # fmt: skip
    args = parser.parse_args()
    breakdowns: list[list[float]] = []
    with isolated_stack() as (stack, client):
        from prefect import get_client
        from prefect.client.schemas.actions import WorkPoolCreate
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from runtime.processes import spawn

        prefect_bin = str(Path(sys.executable).parent / "prefect")
        with temporary_settings(updates={PREFECT_API_URL: stack.prefect_api_url}):
            from bench.noop_flow import noop

            deployments = {}
            for pool, poll in ({} if args.only_ours else RAW_POOLS).items():
                with get_client(sync_client=True) as prefect:
                    prefect.create_work_pool(WorkPoolCreate(name=pool, type="process"))
                deployments[pool] = noop.from_source(str(Path(__file__).parent), "noop_flow.py:noop").deploy(
                    name=pool, work_pool_name=pool, print_next_steps=False
                )
                env = {**stack.env(), "PREFECT_WORKER_QUERY_SECONDS": str(poll)}
                worker = spawn([prefect_bin, "worker", "start", "--pool", pool], env, stack.logs / f"worker-{pool}.log")
                stack.processes.append((f"worker-{pool}", worker))
            with get_client(sync_client=True) as prefect:
                if not args.only_ours:
                    deployments[SERVED] = _start_served(stack, prefect, spawn)

                def ours_trigger() -> str:
                    return client.post("/train/random-forest", json=BODY).json()["job_id"]

                def ours_state(job_id: str) -> str:
                    return client.get(f"/train/status/{job_id}").json()["prefect_state"].upper()

                def raw_trigger(deployment_id: UUID) -> Callable[[], str]:
                    return lambda: str(prefect.create_flow_run_from_deployment(deployment_id).id)

                def raw_state(run_id: str) -> str:
                    state = prefect.read_flow_run(UUID(run_id)).state
                    return state.type.value if state else "PENDING"

                variants = {OURS: (ours_trigger, ours_state)}
                variants.update({LABELS[name]: (raw_trigger(d), raw_state) for name, d in deployments.items()})
                results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
                for _ in range(args.runs):  # interleaved, so a slow minute hurts every variant alike
                    for name, (trigger, state_of) in variants.items():
                        marks: dict[str, float] = {}
                        results[name].append(timed(trigger, state_of, marks if name == OURS else None))
                        if name == OURS:
                            breakdowns.append(_breakdown(prefect, stack, marks))
                        time.sleep(args.pause)
    rows = []
    for name, values in results.items():
        running, done = [v[0] for v in values], [v[1] for v in values]
        rows.append([name, percentile(running, 50), percentile(running, 95), percentile(done, 50),
                     percentile(done, 95)])  # fmt: skip
    ours = rows[0]
    for raw in rows[1:]:
        rows.append([f"ratio ours / {raw[0].removeprefix('raw Prefect no-op, ')}",
                     *(o / r for o, r in zip(ours[1:], raw[1:], strict=True))])  # fmt: skip
    print(f"trigger latency over {args.runs} runs each (seconds)\n")
    print(table(["", "→ Running p50", "→ Running p95", "→ Completed p50", "→ Completed p95"], rows))
    print(f"\nours, where the time from the POST to Running goes ({args.runs} runs, seconds)\n")
    columns = list(zip(*breakdowns, strict=True))
    total = [run[0] + sum(run[2:6]) for run in breakdowns]  # the API's answer runs beside the claim
    steps = [*zip(STEPS, columns, strict=True), ("POST → Running (Prefect's timestamp)", total)]
    print(table(["step", "p50", "p95", "max"],
                [[step, percentile(list(c), 50), percentile(list(c), 95), max(c)] for step, c in steps]))  # fmt: skip


def _breakdown(prefect: object, stack: object, marks: dict[str, float]) -> list[float]:
    """The steps of ``STEPS`` for one of our runs, in seconds."""
    run_id = UUID(str(marks["id"]))
    run = prefect.read_flow_run(run_id)  # type: ignore[attr-defined]
    states: dict[str, float] = {}  # each state's name → when it was first entered
    for state in sorted(prefect.read_flow_run_states(run_id), key=lambda s: s.timestamp):  # type: ignore[attr-defined]
        states.setdefault(state.name, state.timestamp.timestamp())
    created = run.created.timestamp()
    forked = _forked_at(stack, str(run_id))
    pending, submitting, running = states["Pending"], states["Submitting"], states["Running"]
    return [created - marks["post"], marks["answered"] - created, pending - created, submitting - pending,
            forked - submitting, running - forked, marks["seen"] - running]  # fmt: skip


def _forked_at(stack: object, run_id: str) -> float:
    """When the warm server logged that it forked ``run_id`` (its log's local time, ms precision)."""
    for log in sorted(stack.logs.glob("warm-*.log")):  # type: ignore[attr-defined]
        for line in log.read_text().splitlines():
            if (match := STARTED_WARM.match(line)) and match.group(2) == run_id:
                return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    raise RuntimeError(f"no warm server logged flow run {run_id}")


def _start_served(stack: object, prefect: object, spawn: Callable[..., object]) -> UUID:
    """flow.serve: Prefect's runner in a long-lived process, no work pool, polling every second."""
    served_env = {**stack.env(), "PREFECT_RUNNER_POLL_FREQUENCY": "1"}  # type: ignore[attr-defined]
    served = spawn([sys.executable, str(Path(__file__).parent / "noop_flow.py"), "--serve", SERVED],
                   served_env, stack.logs / "served.log")  # type: ignore[attr-defined]  # fmt: skip
    stack.processes.append(("served", served))  # type: ignore[attr-defined]
    deadline = time.monotonic() + 120
    while (served_id := _deployment(prefect, SERVED)) is None:
        if served.poll() is not None or time.monotonic() > deadline:  # type: ignore[attr-defined]
            log = (stack.logs / "served.log").read_text()[-3000:]  # type: ignore[attr-defined]
            raise RuntimeError(f"flow.serve did not start:\n{log}")
        time.sleep(0.5)
    return served_id


def _deployment(prefect: object, name: str) -> UUID | None:
    from prefect.exceptions import ObjectNotFound

    try:
        return prefect.read_deployment_by_name(f"bench-noop/{name}").id  # type: ignore[attr-defined]
    except ObjectNotFound:
        return None


if __name__ == "__main__":
    main()
