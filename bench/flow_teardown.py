"""Flow teardown: time from a flow body's return to the flow call's return, Prefect's heartbeat thread
as shipped vs as the warm server patches it (``runtime/prefect_patches.py``), side by side.

    .venv/bin/python bench/flow_teardown.py --runs 10
    .venv/bin/python bench/flow_teardown.py --runs 2    # smoke (CI)

Runs alternate shipped/patched against one real Prefect server, in one process; the patch is
installed and removed between runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, percentile, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trainyard-bench-") as workdir:
        os.environ["TRAINYARD_ARTIFACTS_DIR"] = str(Path(workdir) / "artifacts")
        from runtime.processes import free_port

        port = free_port()
        os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"  # before Prefect reads its settings
        import prefect.flow_engine as engine
        from prefect import flow

        from runtime import prefect_patches
        from runtime.stack import Stack

        shipped = engine._send_heartbeats
        ended: list[float] = []

        @flow(name="teardown-bench")
        def body() -> None:
            ended.append(time.perf_counter())

        stack = Stack(prefect_port=port, api_port=free_port())
        try:
            stack.start_server()
            body()  # warm-up: first-run costs, untimed
            seconds: dict[str, list[float]] = {"shipped": [], "patched": []}
            for run in range(2 * args.runs):
                variant = ("shipped", "patched")[run % 2]
                if variant == "patched":
                    prefect_patches.install()
                body()
                seconds[variant].append(time.perf_counter() - ended[-1])
                engine._send_heartbeats = shipped
        finally:
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=10)  # the runs' logs reach the server before it stops
            stack.stop()
    rows = [[name, args.runs, median(values), percentile(values, 95)] for name, values in seconds.items()]
    rows.append(["ratio patched / shipped", "", rows[1][2] / rows[0][2], rows[1][3] / rows[0][3]])
    print(table(["heartbeat thread", "runs", "body end → flow returns p50 s", "p95 s"], rows))


if __name__ == "__main__":
    main()
