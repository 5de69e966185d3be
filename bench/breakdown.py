"""Where a job's seconds go: each step of one flow run, from Prefect's own task-run timestamps.

    .venv/bin/python bench/breakdown.py --family xgboost --rows 100000
    .venv/bin/python bench/breakdown.py --family random-forest --rows 2000   # smoke (CI)

A fresh process imports, warms up and patches what the family's warm server does, then runs the
flow once against its own Prefect server (after one warm-up run there, as a long-running server has
had), with a cold task cache: the first run of a forked child in the service. Printed: the run's wall
time as the caller sees it, then each task run's start (seconds after the flow run started),
duration and state, the flow's own start and end, and the process's resident memory at each step's
end. Steps that run beside others (the plots) overlap the ones after them.

The run is forked from the process that imported and warmed up, as the warm server forks each run, so
the memory it pays is its own pages: at its end, its RSS, PSS (each page shared with the warm server
counted as its share) and USS (its private pages, what the run adds to the machine), from
/proc/self/smaps_rollup. Last, the CPU seconds the run used and those the Prefect server used meanwhile:
on a machine whose cores a fit fills, the server's share is time the fit waits.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import table

FAMILIES = ("random-forest", "xgboost", "neural-net")


def _rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(family: str, dataset: Path) -> None:
    """One flow run as a warm server's child would run it; prints one JSON line of timings."""
    from runtime import prefect_patches
    from runtime.warm.server import preload, preload_for
    from runtime.warm.warmup import warm_up
    from trainyard.families import get_family

    preload(preload_for(get_family(family).pool))
    prefect_patches.install()
    warm_up()
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.train_all import FLOWS
    from trainyard.params import PARAMS_BY_TYPE, ModelType

    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()  # the run, as the warm server forks it; this process stays up, as the server does
    if pid != 0:
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
    from prefect.context import refresh_global_settings_context

    refresh_global_settings_context()  # as the warm server's child does (runtime.warm.server.become_run)
    memory: list[tuple[datetime, float]] = []

    def sample() -> None:
        while True:
            memory.append((datetime.now(UTC), _rss_mib()))
            time.sleep(0.02)

    threading.Thread(target=sample, daemon=True).start()
    kind = ModelType(family)
    started = time.perf_counter()
    state = FLOWS[kind](PARAMS_BY_TYPE[kind](dataset=str(dataset), use_cv=False), return_state=True)
    wall = time.perf_counter() - started
    if not state.is_completed():
        raise RuntimeError(f"the {family} run ended {state.name}: {state.message}")
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))

    def rss_at(moment: datetime) -> float:
        before = [rss for at, rss in memory if at <= moment]
        return before[-1] if before else memory[0][1]

    steps = []
    for task in sorted(tasks, key=lambda t: t.start_time or t.expected_start_time):
        begin = task.start_time or task.expected_start_time
        end = task.end_time or begin
        steps.append([task.name.rsplit("-", 1)[0], (begin - run.start_time).total_seconds(),
                      (end - begin).total_seconds(), task.state_name, rss_at(end)])  # fmt: skip
    used = os.times()
    print(json.dumps({"wall": wall, "flow": (run.end_time - run.start_time).total_seconds(), "steps": steps,
                      "memory": _smaps_rollup(), "cpu": used.user + used.system}), flush=True)  # fmt: skip
    os._exit(0)


def _smaps_rollup() -> dict[str, float]:
    """This process's RSS, PSS and USS in MiB (Linux ``/proc/self/smaps_rollup``)."""
    fields: dict[str, float] = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        fields[name] = int(rest.split()[0]) / 1024  # kB
    return {"rss": fields["Rss"], "pss": fields["Pss"],
            "uss": fields.get("Private_Clean", 0.0) + fields.get("Private_Dirty", 0.0)}


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its descendants."""
    import psutil

    root = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in (root, *root.children(recursive=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=FAMILIES, default="xgboost")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.family, args.dataset)
        return

    from runtime import prefect_server
    from runtime.processes import free_port, spawn, stop, wait_http
    from trainyard import datagen

    with tempfile.TemporaryDirectory(prefix="bench-breakdown-") as work:
        port = free_port()
        server = spawn(prefect_server.command(port), {"PREFECT_HOME": f"{work}/prefect-home",
                        "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}, Path(work) / "server.log")  # fmt: skip
        try:
            api_url = f"http://127.0.0.1:{port}/api"
            wait_http(f"{api_url}/health", 180, server)
            dataset = datagen.write_table(datagen.churn(rows=args.rows, seed=7), Path(work) / "churn.csv")
            report = {}
            for attempt in ("warm-up", "measured"):  # the first run pays the server's first-request costs
                artifacts = Path(work) / attempt
                env = {**os.environ, "PREFECT_API_URL": api_url, "TRAINYARD_ARTIFACTS_DIR": str(artifacts),
                       "TRAINYARD_DATA_ROOTS": json.dumps([work]),
                       "PREFECT_LOCAL_STORAGE_PATH": str(artifacts / "stage" / "results")}  # fmt: skip
                server_cpu = _tree_cpu(server.pid)
                done = subprocess.run([sys.executable, __file__, "--child", "--family", args.family, "--dataset",
                                       str(dataset)], env=env, capture_output=True, text=True)  # fmt: skip
                if done.returncode != 0:
                    raise RuntimeError(f"{attempt} run failed:\n{done.stderr[-3000:]}")
                report = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
                report["server_cpu"] = _tree_cpu(server.pid) - server_cpu
        finally:
            stop(server)
    rows = [["(caller) flow call, wall", 0.0, report["wall"], "", ""],
            ["(flow run) start → end", 0.0, report["flow"], "", ""]]  # fmt: skip
    rows += [[name, begin, seconds, state, rss] for name, begin, seconds, state, rss in report["steps"]]
    print(f"{args.family} at {args.rows} rows: one flow run, first in a fresh process\n")
    print(table(["step", "starts at s", "takes s", "state", "RSS at its end MiB"], rows))
    memory = report["memory"]
    print("\nThe forked run's memory at its end (the warm-up process stays up, as the warm server does)\n")
    print(table(["RSS MiB", "PSS MiB", "USS MiB"], [[memory["rss"], memory["pss"], memory["uss"]]]))
    print("\nCPU seconds used while the run's process was up (this machine has "
          f"{os.cpu_count()} cores): the CPU the Prefect server spends on a run competes with its fit\n")
    print(table(["the run (from its fork)", "the Prefect server (whole process tree)"],
                [[report["cpu"], report["server_cpu"]]]))  # fmt: skip


if __name__ == "__main__":
    main()
