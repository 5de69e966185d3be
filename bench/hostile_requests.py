"""Time to refuse hostile request bodies: the API with its 1 MiB limit vs the same API without one.

    .venv/bin/python bench/hostile_requests.py --repeats 3
    .venv/bin/python bench/hostile_requests.py --repeats 1 --scale 0.05   # smoke (CI)

Both APIs run side by side on one stack; "unlimited" sets TRAINYARD_MAX_REQUEST_BYTES to 1 GiB, which
is how every request was read before the limit (error bodies are bounded in both).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import isolated_stack, median, table


def bodies(scale: float) -> dict[str, bytes]:
    keys = int(700_000 * scale)
    return {
        f"{keys} unknown hyperparameters": json.dumps(
            {"model_type": "xgboost", "hyperparameters": {f"unknown_{i}": i for i in range(keys)}}
        ).encode(),
        f"one {int(10 * scale)} MB string": json.dumps(
            {"model_type": "xgboost", "dataset": "x" * int(10_000_000 * scale)}
        ).encode(),
        "60k unknown keys, under 1 MiB": json.dumps(
            {"model_type": "xgboost", "hyperparameters": {f"u{i}": i for i in range(60_000)}}
        ).encode(),
    }


def timed(client: httpx.Client, body: bytes) -> tuple[float, int, int]:
    started = time.perf_counter()
    response = client.post("/train", content=body, headers={"Content-Type": "application/json"})
    return time.perf_counter() - started, response.status_code, len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="size of the two large bodies (1 = 13 MB / 10 MB)")
    args = parser.parse_args()
    from runtime.processes import free_port

    rows = []
    with isolated_stack() as (stack, api):
        url = stack.start_api(name="api-unlimited", port=free_port(),  # type: ignore[attr-defined]
                              env={"TRAINYARD_MAX_REQUEST_BYTES": str(1024**3)})  # fmt: skip
        with httpx.Client(base_url=url, headers=api.headers, timeout=600) as unlimited:
            for name, body in bodies(args.scale).items():
                ours = [timed(api, body) for _ in range(args.repeats)]
                raw = [timed(unlimited, body) for _ in range(args.repeats)]
                t_ours, t_raw = median([o[0] for o in ours]), median([r[0] for r in raw])
                rows.append([name, f"{len(body) / 1e6:.1f} MB", ours[0][1], t_ours, ours[0][2], raw[0][1], t_raw,
                             raw[0][2], t_ours / t_raw])  # fmt: skip
    print(table(["body", "size", "ours status", "ours s", "ours answer bytes", "unlimited status", "unlimited s",
                 "unlimited answer bytes", "ratio ours / unlimited"], rows))  # fmt: skip


if __name__ == "__main__":
    main()
