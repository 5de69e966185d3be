"""Pipeline overhead: each trainyard flow vs a plain script doing the same work with the same libraries.

    .venv/bin/python bench/pipeline_overhead.py --rows 100000 --repeats 3
    .venv/bin/python bench/pipeline_overhead.py --rows 2000 --repeats 1   # smoke (CI)

Each measurement is a fresh process with a cold Prefect cache. Two times per process:
- job: from the moment the libraries are imported to the end of the work. This is what a run costs in
  the service, whose warm server forks each run with these modules already imported and warmed up
  (``runtime.warm.server.preload_for``, ``runtime.warm.warmup``); the plain script is timed
  after its own imports too.
- process: the whole process, interpreter start and imports included (a cold ``python script.py``).
Memory: peak RSS (the child's ru_maxrss) and the job's own share of it (peak minus the RSS once the
imports are done: the warm server's preloaded libraries are shared by every run, not paid per job).
The Prefect server gets one warm-up flow run first, as a long-running server would have.
Ours = the flow called in-process against a real Prefect server (staging, validation, registry,
artifacts included). Same work = the same steps by hand, with trainyard's own functions and no
orchestration: read, validate every row with the same pandera schema, stratified split, the family's fit
loop, the same metrics, the same plots, the model saved in the same format (the baseline of what
orchestration costs). Plain = pandas + stratified split + the same preprocessing and estimator +
metrics + joblib.dump (what the service's extra work costs, informational).

With several --rows, each family's job time is fitted as a + b·rows (least squares) for ours and the
same-work baseline: the fixed overhead a_ours - a_same (seconds) and the slope ratio b_ours / b_same.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, table

FAMILIES = ("random-forest", "xgboost", "neural-net")


def rss_mib() -> float:
    """Resident memory of this process now (Linux /proc), in MiB."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def plain(family: str, dataset: Path, workdir: Path) -> float:
    """What a home-made training script does, with the parameters trainyard uses by default; the
    seconds it took after its imports."""
    import joblib
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline

    from trainyard.datasets import get_spec

    CHURN = get_spec("churn")
    from trainyard.estimators import LabelEncodedClassifier
    from trainyard.families.neural_net import NeuralNetHyperparameters, TorchMLPClassifier
    from trainyard.families.random_forest import RandomForestHyperparameters
    from trainyard.families.xgboost import XGBoostHyperparameters
    from trainyard.preprocessing import build_preprocessor

    # Every library is imported before the clock starts, as the warm server has them for ours. torch
    # was not (TorchMLPClassifier imports it in fit): the plain neural net paid its ~1.5 s import in
    # its job time and looked 27 % slower than ours at 100k rows.
    if family == "xgboost":
        import xgboost  # noqa: F401
    if family == "neural-net":
        import torch  # noqa: F401
    print(json.dumps({"rss_at_start_mib": rss_mib()}))
    started = time.perf_counter()
    frame = pd.read_csv(dataset)
    train, test = train_test_split(frame, test_size=0.2, random_state=42, stratify=frame[CHURN.target])
    features = CHURN.feature_columns
    if family == "random-forest":
        model = RandomForestClassifier(**RandomForestHyperparameters().model_dump(), random_state=42)
        pre = build_preprocessor(CHURN, impute=True, scale=False)
    elif family == "xgboost":
        from xgboost import XGBClassifier

        model = LabelEncodedClassifier(XGBClassifier(**XGBoostHyperparameters().model_dump(), random_state=42))
        pre = build_preprocessor(CHURN, impute=False, scale=False)
    else:
        hyper = NeuralNetHyperparameters().model_dump()
        hyper["hidden_layer_sizes"] = tuple(hyper["hidden_layer_sizes"])
        model = LabelEncodedClassifier(TorchMLPClassifier(**hyper, random_state=42))
        pre = build_preprocessor(CHURN, impute=True, scale=True)
    pipeline = Pipeline([("preprocess", pre), ("model", model)]).fit(train[features], train[CHURN.target])
    proba = pipeline.predict_proba(test[features])
    predicted = pipeline.classes_[np.argmax(proba, axis=1)]
    metrics = {"accuracy": accuracy_score(test[CHURN.target], predicted),
               "f1": f1_score(test[CHURN.target], predicted, average="weighted"),
               "roc_auc": roc_auc_score(test[CHURN.target], proba[:, 1])}  # fmt: skip
    joblib.dump(pipeline, workdir / "model.joblib")
    (workdir / "metrics.json").write_text(json.dumps(metrics))
    return time.perf_counter() - started


def same_work(family: str, dataset: Path, workdir: Path) -> float:
    """Ours' steps by hand, no Prefect, no registry: the seconds after the same imports as ``plain``."""
    import numpy as np
    from sklearn.inspection import permutation_importance
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline

    from runtime.warm.server import preload, preload_for
    from runtime.warm.warmup import warm_up
    from tasks.evaluate import Evaluation, compute_metrics
    from tasks.report import classifier_images
    from trainyard import plots
    from trainyard.dataset_files import read_table
    from trainyard.datasets import detect_spec
    from trainyard.datasets.schema import schema_for
    from trainyard.estimators import LabelEncodedClassifier
    from trainyard.families import get_family
    from trainyard.model_store import save_model
    from trainyard.preprocessing import build_preprocessor

    chosen = get_family(family)
    # The same imports and first-call costs as ours before the clock: only orchestration is left to compare.
    preload(preload_for(chosen.pool))
    warm_up()
    print(json.dumps({"rss_at_start_mib": rss_mib()}))
    started = time.perf_counter()
    frame = read_table(dataset)
    spec = detect_spec(list(frame.columns))
    assert spec is not None
    frame = schema_for(spec).validate(frame, lazy=True, inplace=True)
    train, test = train_test_split(np.arange(len(frame)), test_size=0.2, random_state=42, stratify=frame[spec.target])
    X, y = frame[spec.feature_columns], frame[spec.target]
    hyper = chosen.hyperparameters().model_dump()
    estimator = chosen.builder(spec.task)(hyper, 42, chosen.choose_device("auto"))
    pipeline = Pipeline([("preprocess", build_preprocessor(spec, impute=chosen.impute, scale=chosen.scale)),
                         ("model", estimator)])  # fmt: skip
    chosen.fit(pipeline, X.iloc[train], y.iloc[train])
    proba = pipeline.predict_proba(X.iloc[test])
    classes = pipeline.classes_
    y_true = y.iloc[test].to_numpy()
    predicted = classes[np.argmax(proba, axis=1)]
    evaluation = Evaluation(compute_metrics(y_true, predicted, proba, classes), y_true, predicted, proba, classes)
    images = classifier_images(evaluation)
    inner = pipeline[-1].estimator_ if isinstance(pipeline[-1], LabelEncodedClassifier) else pipeline[-1]
    names = [str(n) for n in pipeline[0].get_feature_names_out()]
    if (native := getattr(inner, "feature_importances_", None)) is None:
        encoded = pipeline[0].transform(X.iloc[test[:1000]])
        native = permutation_importance(pipeline[-1], encoded, y.iloc[test[:1000]], n_repeats=3, random_state=42,
                                        scoring="accuracy").importances_mean  # fmt: skip
    images.append(("importances", plots.importances_png(names, list(native), "importances")))
    save_model(pipeline, chosen.name, workdir / "model", {"metrics": evaluation.metrics.model_dump()})
    return time.perf_counter() - started


def ours(family: str, dataset: Path, workdir: Path) -> float:
    """The family's flow, in-process, after the imports the warm server does for every run."""
    from runtime.warm.server import preload, preload_for
    from runtime.warm.warmup import warm_up
    from trainyard.families import get_family

    modules = preload_for(get_family(family).pool)  # the family's pool
    if os.environ.get("TRAINYARD_ARTIFACTS_URL"):
        modules = (*modules, "s3fs")  # as `trainyard up` preloads it for an object store
    preload(modules)
    if os.environ.get("TRAINYARD_BENCH_UNPATCHED") != "1":  # as the warm server does (measure both ways)
        from runtime import prefect_patches

        prefect_patches.install()
    warm_up()  # the first-call costs the warm server pays before it forks any run
    from flows.train_all import FLOWS
    from trainyard.params import PARAMS_BY_TYPE, ModelType

    print(json.dumps({"rss_at_start_mib": rss_mib()}))
    started = time.perf_counter()
    kind = ModelType(family)
    FLOWS[kind](PARAMS_BY_TYPE[kind](dataset=str(dataset), use_cv=False))
    return time.perf_counter() - started


def measure(variant: str, family: str, dataset: Path, api_url: str,
            extra_env: dict[str, str] | None = None) -> tuple[float, float, float, float]:  # fmt: skip
    """(job seconds, process wall seconds, peak RSS MiB, job's own MiB) of one fresh child process."""
    with tempfile.TemporaryDirectory(prefix="bench-run-") as workdir:
        roots = json.dumps([str(dataset.parent)])
        env = {**os.environ, "TRAINYARD_ARTIFACTS_DIR": workdir, "TRAINYARD_DATA_ROOTS": roots,
               "PREFECT_API_URL": api_url, "PREFECT_LOCAL_STORAGE_PATH": f"{workdir}/stage/results",
               **(extra_env or {})}  # fmt: skip
        script = Path(__file__).resolve()
        started = time.perf_counter()
        child = subprocess.run([sys.executable, str(script), "--child", variant, "--family", family,
                                "--dataset", str(dataset), "--workdir", workdir],
                               env=env, capture_output=True, text=True)  # fmt: skip
        wall = time.perf_counter() - started
        if child.returncode != 0:
            raise RuntimeError(f"{variant} {family} failed:\n{child.stderr[-3000:]}")
        report: dict[str, float] = {}
        for line in child.stdout.splitlines():
            if line.startswith("{"):
                report.update(json.loads(line))
        peak = report["max_rss_mib"]
        return report["job_s"], wall, peak, peak - report["rss_at_start_mib"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=list(VARIANTS))
    parser.add_argument("--family", choices=FAMILIES)
    parser.add_argument("--dataset", type=Path)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    if args.child:
        job = VARIANTS[args.child](args.family, args.dataset, args.workdir)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"job_s": job, "max_rss_mib": rss}))
        return

    from runtime import prefect_server
    from runtime.processes import free_port, spawn, stop, wait_http
    from trainyard import datagen

    rows = []
    jobs: dict[tuple[str, str], list[tuple[int, float]]] = {}  # (family, variant) -> (rows, job s) per size
    with tempfile.TemporaryDirectory(prefix="bench-data-") as data:
        port = free_port()
        home = Path(data) / "prefect-home"
        server = spawn(prefect_server.command(port), {"PREFECT_HOME": str(home),
                       "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}, Path(data) / "server.log")  # fmt: skip
        api_url = f"http://127.0.0.1:{port}/api"
        try:
            wait_http(f"{api_url}/health", 180, server)
            hr_table = Path(__file__).resolve().parent.parent / "data" / "future_skills_dataset.csv"
            measure("ours", "random-forest", hr_table, api_url)  # warm-up: the server's first-request costs
            for size in args.rows:
                dataset = datagen.write_table(datagen.churn(rows=size, seed=7), Path(data) / f"churn_{size}.csv")
                for family in args.families:
                    # Interleaved (plain, same, ours, plain, ...): a slow minute of the machine falls on
                    # every variant alike, not on one variant's block of repeats.
                    results: dict[str, list[tuple[float, float, float, float]]] = {v: [] for v in VARIANTS}
                    for _ in range(args.repeats):
                        for variant in VARIANTS:
                            results[variant].append(measure(variant, family, dataset, api_url))
                    for variant, measured in results.items():
                        jobs.setdefault((family, variant), []).append((size, median([r[0] for r in measured])))
                    p_job, o_job = (median([r[0] for r in results[v]]) for v in ("plain", "ours"))
                    s_job = median([r[0] for r in results["same"]])
                    p_wall, o_wall = (median([r[1] for r in results[v]]) for v in ("plain", "ours"))
                    p_rss, o_rss = (median([r[2] for r in results[v]]) for v in ("plain", "ours"))
                    p_own, o_own = (median([r[3] for r in results[v]]) for v in ("plain", "ours"))
                    rows.append([family, size, s_job, o_job, o_job / s_job, p_job, o_job / p_job, p_wall, o_wall,
                                 o_wall / p_wall, p_rss, o_rss, o_rss / p_rss, p_own, o_own,
                                 o_own / p_own])  # fmt: skip
                    print(f"{family} {size}: job plain {p_job:.1f}s ours {o_job:.1f}s", file=sys.stderr, flush=True)
        finally:
            stop(server)
    print(f"pipeline overhead, median of {args.repeats} fresh processes each\n")
    print(table(["flow", "rows", "same-work job s", "ours job s", "job ratio vs same work", "plain job s",
                 "job ratio vs plain", "plain process s", "ours process s", "process ratio", "plain peak MiB",
                 "ours peak MiB", "peak ratio", "plain job MiB", "ours job MiB", "job MiB ratio"], rows))  # fmt: skip
    if len(args.rows) > 1:
        print("\nfixed cost + slope: job s = a + b * rows (least squares over the sizes above)\n")
        print(table(["flow", "a ours s", "a same-work s", "fixed overhead s", "b ours µs/row", "b same-work µs/row",
                     "slope ratio"], [_fit(family, jobs) for family in args.families]))  # fmt: skip


def _fit(family: str, jobs: dict[tuple[str, str], list[tuple[int, float]]]) -> list[object]:
    import numpy as np

    (b_o, a_o), (b_s, a_s) = (np.polyfit(*zip(*jobs[family, v], strict=True), 1) for v in ("ours", "same"))
    return [family, float(a_o), float(a_s), float(a_o - a_s), float(b_o * 1e6), float(b_s * 1e6), float(b_o / b_s)]


VARIANTS = {"plain": plain, "same": same_work, "ours": ours}


if __name__ == "__main__":
    main()
