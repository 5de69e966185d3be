"""The artifact store's cost: each flow's job ratio vs the plain script, with artifacts in a local
directory and in an S3-compatible bucket (moto's server on 127.0.0.1, standing in for S3 or MinIO).

    .venv/bin/python bench/object_store.py --rows 100000 --repeats 3
    .venv/bin/python bench/object_store.py --rows 2000 --repeats 1 --families random-forest   # smoke (CI)

Same method as bench/pipeline_overhead.py (fresh processes, job time after the warm server's
imports, against a real Prefect server). The bucket run puts its models, staged tables and Prefect's
task results in the bucket (a fresh prefix and result-storage block per run: a cold cache, as the
local runs get a fresh directory).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, table
from bench.pipeline_overhead import FAMILIES, measure
from tests.services import running_s3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from runtime import prefect_server
    from runtime.processes import free_port, spawn, stop, wait_http
    from runtime.result_storage import result_storage_env, save_result_storage_block
    from trainyard import datagen
    from trainyard.artifact_store import ArtifactStore

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-store-") as data, running_s3(Path(data) / "moto.log") as s3:
        port = free_port()
        server = spawn(prefect_server.command(port), {"PREFECT_HOME": str(Path(data) / "prefect-home"),
                        "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}, Path(data) / "server.log")  # fmt: skip
        api_url = f"http://127.0.0.1:{port}/api"
        bucket = s3.bucket("trainyard-bench")
        options = {"endpoint_url": s3.url}

        def in_bucket() -> dict[str, str]:
            """A fresh prefix and its own result-storage block: a cold cache for this run."""
            name = f"bench-{uuid.uuid4().hex[:8]}"
            store = ArtifactStore(f"{bucket}/{name}", options)
            with temporary_settings(updates={PREFECT_API_URL: api_url}):
                save_result_storage_block(store, options, block_name=name)
            return {**s3.env, **result_storage_env(store, name), "TRAINYARD_ARTIFACTS_URL": store.root,
                    "TRAINYARD_ARTIFACTS_OPTIONS": json.dumps(options)}  # fmt: skip

        try:
            wait_http(f"{api_url}/health", 180, server)
            dataset = datagen.write_table(datagen.churn(rows=args.rows, seed=7), Path(data) / f"churn_{args.rows}.csv")
            measure("ours", "random-forest", dataset, api_url)  # warm-up: the server's first-request costs
            for family in args.families:
                plain = [measure("plain", family, dataset, api_url)[0] for _ in range(args.repeats)]
                local = [measure("ours", family, dataset, api_url)[0] for _ in range(args.repeats)]
                remote = [measure("ours", family, dataset, api_url, in_bucket())[0] for _ in range(args.repeats)]
                p, lo, re = median(plain), median(local), median(remote)
                rows.append([family, args.rows, p, lo, re, lo / p, re / p, re / lo])
                print(f"{family}: plain {p:.2f}s local {lo:.2f}s bucket {re:.2f}s", file=sys.stderr, flush=True)
        finally:
            stop(server)
    print(f"artifact store, job seconds, median of {args.repeats} fresh processes each\n")
    print(table(["flow", "rows", "plain s", "ours, local dir s", "ours, S3 bucket s", "ratio local / plain",
                 "ratio bucket / plain", "ratio bucket / local"], rows))  # fmt: skip


if __name__ == "__main__":
    main()
