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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import isolated_stack, percentile, table
from bench.trigger_latency import BODY, timed
from tests.services import running_postgres, running_s3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    from runtime.image import build_image, ensure_dockerd
    from trainyard.settings import get_settings

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
                    **s3.env, "TRAINYARD_ARTIFACTS_URL": f"{bucket}/{pools}",
                    "TRAINYARD_ARTIFACTS_OPTIONS": json.dumps({"endpoint_url": s3.url}),
                    "TRAINYARD_REGISTRY_URL": pg.database(f"registry_{pools}"),
                })  # fmt: skip
                get_settings.cache_clear()
                prefect_db = {"PREFECT_SERVER_DATABASE_CONNECTION_URL": pg.database(f"prefect_{pools}", "asyncpg")}
                with isolated_stack(prefect_db, pools=pools) as (_, client):

                    def trigger() -> str:
                        return client.post("/train/random-forest", json=BODY).json()["job_id"]

                    def state_of(job_id: str) -> str:
                        return client.get(f"/train/status/{job_id}").json()["prefect_state"].upper()

                    timed(trigger, state_of)  # warm-up: first requests, first container start
                    results[pools] = [timed(trigger, state_of) for _ in range(args.runs)]
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
