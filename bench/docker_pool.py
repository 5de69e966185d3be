"""The Docker pool against the process pool: POST /train/random-forest → Running → Completed, and the
run image's build times.

    .venv/bin/python bench/docker_pool.py --runs 10
    .venv/bin/python bench/docker_pool.py --runs 1    # smoke (CI)

Both stacks run the multi-host setup: the Prefect server and the registry on PostgreSQL, artifacts
in an S3 bucket (moto's server on 127.0.0.1). The process pool forks each run from its warm server;
the Docker pool starts a container of the trainyard image per run (Prefect's Docker worker, which
polls every second as ours do). One run at a time, HR table, 5 trees. Needs root (dockerd, PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import percentile, table
from tests.services import running_postgres, running_s3

BODY = {"dataset": "future_skills_dataset.csv", "hyperparameters": {"n_estimators": 5}, "use_cv": False,
        "retrain": True}  # fmt: skip


def timed(client: object, url: str) -> tuple[float, float]:
    """Seconds from the POST to Running and to Completed, polling the API every 50 ms."""
    started = time.perf_counter()
    job_id = client.post(url, json=BODY).json()["job_id"]  # type: ignore[attr-defined]
    running = None
    while True:
        status = client.get(f"/train/status/{job_id}").json()["status"]  # type: ignore[attr-defined]
        if running is None and status in {"running", "completed"}:
            running = time.perf_counter() - started
        if status in {"completed", "failed", "cancelled"}:
            if status != "completed":
                raise RuntimeError(f"run {job_id} ended {status}")
            return running or 0.0, time.perf_counter() - started
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    import httpx

    from trainyard.image import build_image, ensure_dockerd
    from trainyard.processes import free_port
    from trainyard.registry.auth import ensure_admin
    from trainyard.settings import get_settings
    from trainyard.stack import Stack

    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-docker-") as work:
        work_dir = Path(work)
        with running_postgres(work_dir / "postgres.log") as pg, running_s3(work_dir / "moto.log") as s3:
            ensure_dockerd(work_dir / "dockerd.log")
            image_s = build_image(log_file=work_dir / "image.log")
            rebuild_s = build_image(log_file=work_dir / "image.log")
            bucket = s3.bucket("trainyard-bench-pools")
            for pools in ("process", "docker"):
                os.environ.update({
                    **s3.env, "TRAINYARD_ARTIFACTS_DIR": str(work_dir / pools),
                    "TRAINYARD_ARTIFACTS_URL": f"{bucket}/{pools}",
                    "TRAINYARD_ARTIFACTS_OPTIONS": json.dumps({"endpoint_url": s3.url}),
                    "TRAINYARD_REGISTRY_URL": pg.database(f"registry_{pools}"),
                })  # fmt: skip
                get_settings.cache_clear()
                prefect_db = pg.database(f"prefect_{pools}", "asyncpg")
                stack = Stack(prefect_port=free_port(), api_port=free_port(), pools=pools,  # type: ignore[arg-type]
                              extra_env={"PREFECT_SERVER_DATABASE_CONNECTION_URL": prefect_db,
                                         "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false"})  # fmt: skip
                try:
                    stack.start_warm_servers()
                    stack.start_server()
                    stack.create_pools()
                    stack.deploy()
                    stack.start_workers()
                    stack.start_api()
                    token, _ = ensure_admin()
                    headers = {"Authorization": f"Token {token}"}
                    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=300) as client:
                        timed(client, "/train/random-forest")  # warm-up: first requests, first image start
                        results[pools] = [timed(client, "/train/random-forest") for _ in range(args.runs)]
                finally:
                    stack.stop()
    rows = []
    for pools, values in results.items():
        running, done = [v[0] for v in values], [v[1] for v in values]
        rows.append([f"{pools} pool", percentile(running, 50), percentile(running, 95), percentile(done, 50),
                     percentile(done, 95)])  # fmt: skip
    rows.append(["ratio docker / process", *(d / p for d, p in zip(rows[1][1:], rows[0][1:], strict=True))])
    print(f"POST /train/random-forest over {args.runs} runs per pool (seconds)\n")
    print(table(["", "→ Running p50", "→ Running p95", "→ Completed p50", "→ Completed p95"], rows))
    print(f"\nrun image: build {image_s:.1f} s (0 for a layer already cached), rebuild with nothing changed "
          f"{rebuild_s:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
