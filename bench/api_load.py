"""API load: concurrent clients on GET /train/status/{id} and GET /train/jobs, vs Prefect's own REST read.

    .venv/bin/python bench/api_load.py --clients 32 --seconds 30
    .venv/bin/python bench/api_load.py --clients 4 --seconds 2     # smoke (CI)

An httpx load generator (asyncio, one connection per client) against the stack `trainyard up` runs,
after one completed job; bounded by --seconds per endpoint, loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import isolated_stack, percentile, table


async def hammer(base_url: str, path: str, headers: dict[str, str], clients: int, seconds: float) -> list[object]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def one_client() -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                errors += 0 if ok else 1

    started = time.monotonic()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    elapsed = time.monotonic() - started
    ms = [v * 1000 for v in latencies]
    return [len(latencies) / elapsed, percentile(ms, 50), percentile(ms, 99), errors, len(latencies)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    with isolated_stack() as (stack, client):
        body = {"dataset": "future_skills_dataset.csv", "retrain": True, "hyperparameters": {"n_estimators": 5}}
        job_id = client.post("/train/random-forest", json=body).json()["job_id"]
        while client.get(f"/train/status/{job_id}").json()["status"] not in {"completed", "failed"}:
            time.sleep(0.5)
        auth = dict(client.headers)
        targets = [
            ("trainyard GET /train/status/{id}", stack.api_url, f"/train/status/{job_id}", auth),
            ("trainyard GET /train/jobs", stack.api_url, "/train/jobs", auth),
            ("raw Prefect GET /api/flow_runs/{id}", stack.prefect_api_url, f"/api/flow_runs/{job_id}", {}),
        ]
        rows = []
        for name, base, path, headers in targets:
            base_url = base.removesuffix("/api") if path.startswith("/api/") else base
            rows.append([name, *asyncio.run(hammer(base_url, path, headers, args.clients, args.seconds))])
    print(f"API load: {args.clients} concurrent clients, {args.seconds:g} s per endpoint\n")
    print(table(["endpoint", "req/s", "p50 ms", "p99 ms", "errors", "requests"], rows))


if __name__ == "__main__":
    main()
