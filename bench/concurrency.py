"""Concurrency: N training jobs triggered at once; all must end, none lost or duplicated.

    .venv/bin/python bench/concurrency.py --jobs 50
    .venv/bin/python bench/concurrency.py --jobs 50 --prefect-db-url postgresql+asyncpg://user:pw@localhost/prefect
    .venv/bin/python bench/concurrency.py --jobs 3                # smoke (CI)

Jobs are RandomForest (5 trees) on the HR table, POSTed from N threads at the same moment to the
stack `trainyard up` runs (cpu pool limit 2). Reports makespan (first POST → last terminal state),
HTTP errors, and whether Prefect and the registry each hold exactly one run per job.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import isolated_stack, table

BODY = {"dataset": "future_skills_dataset.csv", "hyperparameters": {"n_estimators": 5}, "use_cv": False,
        "retrain": True}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--prefect-db-url", default=None, help="PREFECT_SERVER_DATABASE_CONNECTION_URL")
    args = parser.parse_args()
    extra = {"PREFECT_SERVER_DATABASE_CONNECTION_URL": args.prefect_db_url} if args.prefect_db_url else {}
    with isolated_stack(extra) as (_stack, client):
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            responses = list(pool.map(lambda i: client.post("/train/random-forest", json=BODY,
                                                            headers={"Idempotency-Key": f"bench-{i}"}),
                                      range(args.jobs)))  # fmt: skip
        http_errors = sum(r.status_code != 200 for r in responses)
        job_ids = [r.json()["job_id"] for r in responses if r.status_code == 200]
        pending, final, resets = set(job_ids), {}, 0
        while pending and time.monotonic() - started < args.timeout:
            for job_id in list(pending):
                try:
                    status = client.get(f"/train/status/{job_id}").json()["status"]
                except httpx.TransportError:  # a pooled keep-alive connection closed by the server
                    resets += 1
                    continue
                if status in {"completed", "failed", "cancelled"}:
                    final[job_id] = status
                    pending.discard(job_id)
            time.sleep(1)
        makespan = time.monotonic() - started
        listed = client.get("/train/jobs", params={"limit": 100}).json()["total_count"]
        runs = client.get("/api/training/runs/", params={"page_size": 100}).json()["count"]
    completed = sum(s == "completed" for s in final.values())
    database = "PostgreSQL" if args.prefect_db_url else "SQLite"
    rows = [[database, args.jobs, len(set(job_ids)), completed, len(pending), http_errors, resets, listed, runs,
             makespan]]  # fmt: skip
    print(f"{args.jobs} jobs triggered at once\n")
    print(table(["Prefect DB", "jobs", "distinct job ids", "completed", "never ended", "HTTP errors",
                 "poll resets", "jobs in Prefect", "registry rows", "makespan s"], rows))  # fmt: skip
    if len(set(job_ids)) != args.jobs or pending or listed != args.jobs or runs != args.jobs:
        sys.exit("lost or duplicated jobs")


if __name__ == "__main__":
    main()
