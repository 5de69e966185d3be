"""Progress overhead: the same fit with live progress publishing on and off, side by side in one run.

    .venv/bin/python bench/progress_overhead.py --rows 1000000 --repeats 3
    .venv/bin/python bench/progress_overhead.py --rows 5000 --repeats 1   # smoke (CI)

"On" is what a flow run does: a ``trainyard.progress`` reporter for a real flow run on a real
Prefect server, every epoch / boosting round / batch of trees reported, the daemon thread PATCHing
the progress artifact once a second. "Off" is the same estimator with no reporter. Each family's
fits alternate on/off (on first, then off first) so drift hits both alike; the table shows the
medians, their ratio, and how many updates reached Prefect.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, table

FAMILIES = ("random-forest", "xgboost", "neural-net")


def build(family: str, features: int) -> object:
    """The family's estimator as its fit task builds it, with fewer rounds/epochs so 1M rows fit in minutes."""
    from sklearn.ensemble import RandomForestClassifier
    from xgboost import XGBClassifier

    from trainyard.estimators import LabelEncodedClassifier
    from trainyard.families.neural_net import TorchMLPClassifier
    from trainyard.families.xgboost import round_callback

    if family == "xgboost":
        return LabelEncodedClassifier(XGBClassifier(n_estimators=60, max_depth=6, tree_method="hist", n_jobs=-1,
                                                    callbacks=[round_callback(60)]))  # fmt: skip
    if family == "neural-net":
        return LabelEncodedClassifier(TorchMLPClassifier(epochs=3, batch_size=1024, num_threads=1, random_state=0))
    return RandomForestClassifier(n_estimators=16, max_depth=14, n_jobs=-1, random_state=0)


def fit_once(family: str, X: object, y: object, progress_on: bool, flow_run_id: str) -> tuple[float, int]:
    """Seconds to fit, and the number of progress updates Prefect received (0 when off)."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from trainyard import progress
    from trainyard.families.random_forest import fit_in_batches

    estimator = build(family, X.shape[1])  # type: ignore[attr-defined]
    published = 0

    def fit() -> None:
        if family == "random-forest":
            fit_in_batches(Pipeline([("preprocess", FunctionTransformer()), ("model", estimator)]), X, y)
        else:
            estimator.fit(X, y)  # type: ignore[attr-defined]

    started = time.perf_counter()
    if progress_on:
        with progress.reporting(flow_run_id, f"bench-{family}-progress") as report:
            original = report.flush

            def counted() -> None:
                nonlocal published
                before = report._published
                original()
                published += report._published != before

            report.flush = counted  # type: ignore[method-assign]
            with report.stage("fit", 0.0, 1.0):
                fit()
    else:
        fit()
    return time.perf_counter() - started, published


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    args = parser.parse_args()

    import os

    with tempfile.TemporaryDirectory(prefix="trainyard-bench-") as workdir:
        os.environ["TRAINYARD_ARTIFACTS_DIR"] = str(Path(workdir) / "artifacts")
        from runtime.processes import free_port

        # In the environment before Prefect is imported, as a flow run's process has it (Prefect reads
        # its settings once; the reporter's thread has no temporary_settings context).
        prefect_port = free_port()
        os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{prefect_port}/api"
        from prefect import flow, get_client

        from runtime.stack import Stack
        from trainyard import datagen
        from trainyard.datasets import get_spec
        from trainyard.preprocessing import build_preprocessor
        from trainyard.settings import get_settings

        CHURN = get_spec("churn")

        get_settings.cache_clear()
        stack = Stack(prefect_port=prefect_port, api_port=free_port())
        try:
            stack.start_server()
            with get_client(sync_client=True) as c:
                run = c.create_flow_run(flow(name="progress-bench")(lambda: None))
                frame = datagen.churn(rows=args.rows, seed=7)
                features = frame.drop(columns=[CHURN.target, *CHURN.id_columns])
                X = build_preprocessor(CHURN, impute=True, scale=True).fit_transform(features)
                y = frame[CHURN.target].to_numpy()
                rows = []
                for family in args.families:
                    on: list[float] = []
                    off: list[float] = []
                    updates = 0
                    fit_once(family, X[:2000], y[:2000], False, str(run.id))  # warm-up: first-use costs, untimed
                    for repeat in range(args.repeats):
                        for progress_on in (True, False) if repeat % 2 == 0 else (False, True):
                            seconds, published = fit_once(family, X, y, progress_on, str(run.id))
                            (on if progress_on else off).append(seconds)
                            updates += published
                    rows.append([family, args.rows, median(off), median(on), median(on) / median(off),
                                 round(updates / args.repeats)])  # fmt: skip
        finally:
            stack.stop()
    print(table(["family", "rows", "progress off s", "progress on s", "ratio on / off", "updates sent per fit"], rows))


if __name__ == "__main__":
    main()
