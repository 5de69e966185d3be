"""API load: concurrent clients on GET /train/status/{id} and GET /train/jobs, vs Prefect's own REST read.

    .venv/bin/python bench/api_load.py --clients 32 --seconds 30               # wrk if installed
    .venv/bin/python bench/api_load.py --clients 2 --seconds 1 --tool httpx    # smoke (CI)

Closed-loop clients (each sends its next request when the last one answers) against the stack
`trainyard up` runs, after one completed job; bounded by --seconds per endpoint, loopback only.
The load generator is wrk (Debian's `wrk`: C, one thread, so the 2 cores stay with the servers) or,
where wrk is missing, an httpx asyncio script (which itself takes a core at a few hundred req/s).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
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


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(base_url: str, path: str, headers: dict[str, str], clients: int, seconds: float) -> list[object]:
    """The same measurement with wrk: req/s, p50 and p99 in ms, errors (non-2xx and socket), requests."""
    args = ["wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "30s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, base_url + path], capture_output=True, text=True, check=True).stdout

    def latency(percent: str) -> float:
        number, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)$", out, re.M).groups()  # type: ignore[union-attr]
        return float(number) * UNITS[unit]

    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    return [rate, latency("50"), latency("99"), errors, requests]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=2,
                        help="seconds of the same load before each measurement, discarded")  # fmt: skip
    parser.add_argument("--tool", choices=["auto", "wrk", "httpx"], default="auto",
                        help="load generator; auto: wrk when on PATH, else httpx")  # fmt: skip
    args = parser.parse_args()
    tool = args.tool if args.tool != "auto" else ("wrk" if shutil.which("wrk") else "httpx")
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
            measure = wrk if tool == "wrk" else lambda *a: asyncio.run(hammer(*a))
            if args.warmup > 0:  # first requests pay one-time costs (cold cache, lazy imports, thread start)
                measure(base_url, path, headers, args.clients, args.warmup)
            rows.append([name, *measure(base_url, path, headers, args.clients, args.seconds)])
    print(f"API load ({tool}): {args.clients} concurrent clients, {args.seconds:g} s per endpoint "
          f"after {args.warmup:g} s of warm-up\n")  # fmt: skip
    print(table(["endpoint", "req/s", "p50 ms", "p99 ms", "errors", "requests"], rows))


if __name__ == "__main__":
    main()
