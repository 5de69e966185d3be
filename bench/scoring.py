"""Scoring: batch (the ``score`` flow) against a plain script, online (POST /predict) against a bare
FastAPI route, and an alias moved under load.

    .venv/bin/python bench/scoring.py --rows 1000000 --clients 16 --seconds 20
    .venv/bin/python bench/scoring.py --rows 5000 --clients 2 --seconds 2     # smoke (CI)

Batch, same work on the same XGBoost model and the same churn table (--rows, Parquet): **ours** is the
``score`` flow called in a fresh process against the stack's Prefect server (resolve, load with sha256
checks, read, validate every row against the spec, predict in chunks, write Parquet with the version and
the input's sha256, record); **plain** reads the table, calls ``predict_proba`` once and writes the same
columns as Parquet. Each in its own process: wall time and peak RSS (ru_maxrss). **ours via the API**
(informational) is POST /score to Completed, through a worker.

Online: --clients threads post one row each, back to back, for --seconds, to POST /predict/xgboost
(token auth, alias lookup, spec validation) and to a bare FastAPI route calling the same loaded model's
``predict_proba`` (bench/bare_predict_app.py), one uvicorn process each. Then the same load while the
champion alias moves to another version: failed requests, and seconds from the move until the answers
come from the new version.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.common import isolated_stack, percentile, table

ROOT = Path(__file__).resolve().parent.parent
TRAIN = {"dataset": "churn", "retrain": True, "hyperparameters": {"n_estimators": 100}}


def child_ours(table_path: str, api_url: str) -> dict[str, float]:
    os.environ["PREFECT_API_URL"] = api_url
    from flows.score import score
    from trainyard.params import ScoreParams

    started = time.perf_counter()
    outcome = score(ScoreParams(model="xgboost@champion", dataset=table_path, alias_dataset="churn"))
    return {"seconds": time.perf_counter() - started, "rows": outcome.rows}


def child_plain(table_path: str, location: str, sha256: str) -> dict[str, float]:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trainyard.model_store import load_model

    started = time.perf_counter()
    pipeline = load_model(location, manifest_sha256=sha256)
    frame = pd.read_parquet(table_path)
    proba = pipeline.predict_proba(frame.drop(columns=["churn"]))
    columns = {"customer": frame["customer"].to_numpy(), "prediction": pipeline.classes_[np.argmax(proba, axis=1)],
               "proba_0": proba[:, 0], "proba_1": proba[:, 1]}  # fmt: skip
    with tempfile.TemporaryDirectory() as out:
        pq.write_table(pa.table(columns), Path(out) / "predictions.parquet")
    return {"seconds": time.perf_counter() - started, "rows": len(frame)}


def _in_child(*args: str) -> dict[str, float]:
    """Run this script's ``--child`` mode in a fresh process: its result plus its peak RSS in MiB."""
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=1800, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _load(url: str, path: str, headers: dict[str, str], body: dict, clients: int, seconds: float,
          on_tick: object = None) -> tuple[list[float], int, list[tuple[float, str]]]:  # fmt: skip
    """(latencies, failed requests, (time, answering version) per answer) of ``clients`` threads posting."""
    latencies: list[float] = []
    answers: list[tuple[float, str]] = []
    failed = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    response = http.post(path, json=body)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok, response = False, None
                elapsed = time.perf_counter() - started
                with lock:
                    if ok:
                        latencies.append(elapsed)
                        answers.append((time.monotonic(), response.json().get("model_version", "")))  # type: ignore[union-attr]
                    else:
                        failed[0] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    if callable(on_tick):
        on_tick()
    for thread in threads:
        thread.join()
    return latencies, failed[0], answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        mode, *rest = args.child
        result = child_ours(*rest) if mode == "ours" else child_plain(*rest)
        result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory(prefix="trainyard-scoring-") as data:
        os.environ["TRAINYARD_DATA_ROOTS"] = json.dumps([str(ROOT / "data"), data])
        from trainyard import datagen

        table_path = str(Path(data) / "churn_bench.parquet")
        datagen.churn(rows=args.rows, seed=7).to_parquet(table_path)
        with isolated_stack() as (stack, client):
            from runtime.processes import free_port, spawn, stop, wait_http
            from tests.integration.helpers import wait_for_status

            first = client.post("/train/xgboost", json=TRAIN).json()["job_id"]
            assert wait_for_status(client, first, {"completed", "failed"}, timeout=600)["status"] == "completed"
            models = client.get("/train/models/available").json()["available_models"]
            model = next(m for m in models.values() if m["job_id"] == first)

            # Batch, interleaved: plain, ours, plain, ours.
            runs: dict[str, list[dict[str, float]]] = {"plain": [], "ours": []}
            for _ in range(2):
                runs["plain"].append(_in_child("plain", table_path, model["path"], model["sha256"]))
                runs["ours"].append(_in_child("ours", table_path, stack.prefect_api_url))  # type: ignore[attr-defined]
            started = time.perf_counter()
            job = client.post("/score", json={"model": "xgboost@champion", "dataset": table_path,
                                              "alias_dataset": "churn"}).json()  # fmt: skip
            assert wait_for_status(client, job["job_id"], {"completed", "failed"}, timeout=900)["status"] == "completed"
            via_api = time.perf_counter() - started
            best = {name: min(r["seconds"] for r in results) for name, results in runs.items()}
            peak = {name: max(r["peak_mib"] for r in results) for name, results in runs.items()}
            print(f"\nBatch scoring, XGBoost, {args.rows} churn rows (best of 2 each; peak RSS of the process)\n")
            print(table(["what", "seconds", "rows/s", "peak RSS MiB", "ratio ours / plain"], [
                ["plain script: predict_proba + Parquet", best["plain"], args.rows / best["plain"], peak["plain"], 1.0],
                ["ours: the score flow in a process", best["ours"], args.rows / best["ours"], peak["ours"],
                 best["ours"] / best["plain"]],
                ["ours via the API: POST /score to Completed", via_api, args.rows / via_api, "-",
                 via_api / best["plain"]],
                ["memory ratio ours / plain", "-", "-", peak["ours"] / peak["plain"], "-"],
            ]))  # fmt: skip

            # Online: ours and the bare route, one after the other, the same load.
            row = {"rows": [_one_row()]}
            port = free_port()
            env = {**os.environ, "BARE_MODEL_LOCATION": model["path"], "BARE_MODEL_SHA256": model["sha256"],
                   "PYTHONPATH": str(ROOT)}  # fmt: skip
            bare = spawn([str(Path(sys.executable).parent / "uvicorn"), "bench.bare_predict_app:app", "--port",
                          str(port), "--timeout-keep-alive", "30"], env, Path(data) / "bare.log", cwd=ROOT)  # fmt: skip
            try:
                wait_http(f"http://127.0.0.1:{port}/health", 120, process=bare)
                headers = dict(client.headers)
                ours_path = "/predict/xgboost?dataset=churn"
                _load(stack.api_url, ours_path, headers, row, 2, 1.0)  # warm: the model loads once
                ours_lat, ours_failed, _ = _load(stack.api_url, ours_path, headers, row, args.clients, args.seconds)
                bare_lat, bare_failed, _ = _load(f"http://127.0.0.1:{port}", "/predict", {}, row, args.clients,
                                                 args.seconds)  # fmt: skip
            finally:
                stop(bare)
            rows = []
            for name, lat, failed in (("bare FastAPI route, same model", bare_lat, bare_failed),
                                      ("ours: POST /predict/xgboost", ours_lat, ours_failed)):  # fmt: skip
                rows.append([name, len(lat) / args.seconds, percentile(lat, 50) * 1000, percentile(lat, 99) * 1000,
                             failed])  # fmt: skip
            rows.append(["ratio ours / bare (p50, p99)", "-", percentile(ours_lat, 50) / percentile(bare_lat, 50),
                         percentile(ours_lat, 99) / percentile(bare_lat, 99), "-"])  # fmt: skip
            print(f"\nOnline, one row per request, {args.clients} clients for {args.seconds:g} s\n")
            print(table(["what", "requests/s", "p50 ms", "p99 ms", "errors"], rows))

            # The champion alias moves under the same load.
            second = client.post("/train/xgboost", json={**TRAIN, "hyperparameters": {"n_estimators": 50}}).json()
            trained = wait_for_status(client, second["job_id"], {"completed", "failed"}, timeout=600)
            assert trained["status"] == "completed", trained
            models = client.get("/train/models/available").json()["available_models"]
            newer = next(m for m in models.values() if m["job_id"] == second["job_id"])["version"]
            moved_at: list[float] = []

            def move() -> None:
                time.sleep(args.seconds / 3)
                moved_at.append(time.monotonic())
                client.post(f"/train/models/xgboost/{newer}/aliases", json={"alias": "champion"}).raise_for_status()

            _, failed, answers = _load(stack.api_url, ours_path, headers, row, args.clients, args.seconds, move)
            last_old = max((at for at, version in answers if version != newer), default=moved_at[0])
            switched = max(0.0, last_old - moved_at[0])
            print(f"\nAlias moved under load ({args.clients} clients, {len(answers)} answers)\n")
            print(table(["what", "value"], [["failed requests", str(failed)],
                                            ["seconds from the move to the last answer by the old version", switched],
                                            ["answers by the new version", str(sum(v == newer for _, v in answers))]]))


def _one_row() -> dict:
    from trainyard import datagen

    return json.loads(datagen.churn(rows=20, seed=3).drop(columns=["churn"]).iloc[[0]].to_json(orient="records"))[0]


if __name__ == "__main__":
    main()
