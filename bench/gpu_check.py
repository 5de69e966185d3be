"""The CUDA paths, measured against the CPU on the same machine: XGBoost and the net at --rows churn
rows, a forked run that initialises CUDA after the fork (as the warm server forks runs), and
``device: "cuda"`` through the API on the ``gpu`` pool. Run by bench/gpu_check.sh; without a GPU
every CUDA row says so and the CPU rows are still measured.

    .venv/bin/python bench/gpu_check.py --rows 1000000
    .venv/bin/python bench/gpu_check.py --rows 5000 --no-stack     # smoke (CI, no GPU)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import table

NO_GPU = "no GPU"


def _features(rows: int) -> tuple[object, object]:
    from trainyard import datagen
    from trainyard.datasets import get_spec
    from trainyard.preprocessing import build_preprocessor

    spec = get_spec("churn")
    frame = datagen.churn(rows=rows, seed=1)
    X = build_preprocessor(spec, impute=True, scale=True).fit_transform(frame[spec.feature_columns])
    return X.astype("float32"), frame[spec.target].to_numpy()


def _timed(fit: object) -> float:
    started = time.perf_counter()
    fit()  # type: ignore[operator]
    return time.perf_counter() - started


def xgboost_rows(X: object, y: object, rows: int, cuda: bool) -> list[list[object]]:
    from xgboost import XGBClassifier

    def fit(device: str) -> float:
        return _timed(lambda: XGBClassifier(n_estimators=100, max_depth=8, tree_method="hist", device=device)
                      .fit(X, y))  # fmt: skip

    cpu = fit("cpu")
    gpu = fit("cuda") if cuda else None
    return [["XGBoost, 100 rounds", "cpu", cpu, rows / cpu, 1.0],
            ["XGBoost, 100 rounds", "cuda", *((gpu, rows / gpu, cpu / gpu) if gpu else (NO_GPU, "-", "-"))]]


def net_rows(X: object, y: object, rows: int, cuda: bool) -> list[list[object]]:
    from trainyard.families.neural_net import TorchMLPClassifier

    def fit(device: str) -> float:
        return _timed(lambda: TorchMLPClassifier(hidden_layer_sizes=(256, 128), epochs=2, batch_size=4096,
                                                 num_threads=os.cpu_count() or 1, device=device).fit(X, y))  # fmt: skip

    cpu = fit("cpu")
    gpu = fit("cuda") if cuda else None
    return [["net (256-128), 2 epochs", "cpu", cpu, 2 * rows / cpu, 1.0],
            ["net (256-128), 2 epochs", "cuda", *((gpu, 2 * rows / gpu, cpu / gpu) if gpu else (NO_GPU, "-", "-"))]]


def forked_cuda(cuda: bool) -> list[object]:
    """The warm server's order: torch and XGBoost imported (CUDA not initialised), then fork; the child
    initialises CUDA and runs a kernel. CUDA initialised *before* a fork would fail in the child."""
    import importlib.util

    import torch

    if importlib.util.find_spec("xgboost") is not None:
        importlib.import_module("xgboost")  # preloaded by the gpu pool's warm server

    if not cuda:
        return ["forked run initialises CUDA after the fork", "cuda", NO_GPU, "-", "-"]
    assert not torch.cuda.is_initialized(), "the parent must not initialise CUDA (the warm server does not)"
    read, write = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            value = float((torch.ones(1024, 1024, device="cuda") @ torch.ones(1024, 1024, device="cuda")).sum())
            os.write(write, b"ok" if value == 1024.0**3 else b"wrong")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 16).decode()
    os.waitpid(pid, 0)
    return ["forked run initialises CUDA after the fork", "cuda", time.perf_counter() - started, answer, "-"]


def through_the_api(cuda: bool) -> list[object]:
    """POST /train/neural-net {"device": "cuda"} on a real stack: the run trains on the gpu pool's worker."""
    if not cuda:
        return ['POST /train/neural-net {"device": "cuda"}', "cuda", NO_GPU, "-", "-"]
    from bench.common import isolated_stack
    from tests.integration.helpers import wait_for_status

    with isolated_stack() as (_, client):
        started = time.perf_counter()
        job = client.post("/train/neural-net", json={"dataset": "churn", "device": "cuda", "retrain": True}).json()
        done = wait_for_status(client, job["job_id"], {"completed", "failed"}, timeout=600)
        seconds = time.perf_counter() - started
        runs = client.get("/api/training/runs/", params={"page_size": 1}).json()["results"]
        device = client.get(f"/api/training/runs/{runs[0]['id']}/").json()["device"]
    return ['POST /train/neural-net {"device": "cuda"}', device, seconds, done["status"], "-"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-stack", action="store_true", help="skip the API row (no stack started)")
    args = parser.parse_args()
    import importlib.util

    import torch

    cuda = torch.cuda.is_available()
    name = torch.cuda.get_device_name(0) if cuda else NO_GPU
    has_xgboost = importlib.util.find_spec("xgboost") is not None  # absent on the device tool's machine
    print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), device: {name}, XGBoost installed: {has_xgboost}")
    X, y = _features(args.rows)
    rows: list[list[object]] = []
    if has_xgboost:
        import xgboost

        rows += xgboost_rows(X, y, args.rows, cuda and bool(xgboost.build_info().get("USE_CUDA")))
    else:
        rows.append(["XGBoost, 100 rounds", "cpu, cuda", "not installed", "-", "-"])
    rows += [*net_rows(X, y, args.rows, cuda), forked_cuda(cuda)]
    if not args.no_stack:
        rows.append(through_the_api(cuda))
    print(f"\nCUDA vs CPU, {args.rows} churn rows\n")
    print(table(["what", "device", "wall s", "samples/s (or outcome)", "speed-up vs cpu"], rows))


if __name__ == "__main__":
    main()
