"""The run's report: real PNGs from matplotlib, and a summary that compares with the champion."""

import numpy as np

from tasks.promote import ChampionReport
from tasks.report import summary_markdown
from trainyard import plots
from trainyard.params import ModelType
from trainyard.promotion import Decision
from trainyard.refs import Metrics, TrainingOutcome

PNG = b"\x89PNG\r\n\x1a\n"


def _metrics(f1: float) -> Metrics:
    return Metrics(accuracy=0.9, precision=0.9, recall=0.9, f1_score=f1, precision_macro=0.9, recall_macro=0.9,
                   f1_macro=f1, roc_auc=None, per_class={}, confusion_matrix={"labels": [], "matrix": []})  # fmt: skip


def test_every_plot_is_a_png() -> None:
    rng = np.random.default_rng(0)
    y = rng.choice(["LOW", "HIGH"], 200)
    scores = rng.random(200)
    per_class = {c: {"precision": 0.5, "recall": 0.6, "f1_score": 0.55} for c in ("a", "b", "c")}
    images = [
        plots.confusion_matrix_png(["HIGH", "LOW"], [[40, 10], [5, 45]]),
        plots.roc_png(y, scores, "HIGH"),
        plots.precision_recall_png(y, scores, "HIGH"),
        plots.per_class_png(per_class),
        plots.importances_png([f"f{i}" for i in range(40)], list(rng.random(40)), "importances"),
    ]
    assert all(image.startswith(PNG) and 2_000 < len(image) < 200_000 for image in images)


def test_summary_shows_the_deltas_against_the_champion_and_why_it_was_not_promoted() -> None:
    outcome = TrainingOutcome(training_run_id=1, flow_run_id="f", model_type="xgboost", model_version="v2",
                              model_path="/m/v2", model_sha256="0" * 64, device="cpu", training_duration_seconds=1.0,
                              metrics=_metrics(0.80))  # fmt: skip
    reason = "f1_macro 0.8000 does not beat champion v1's 0.8500 on this run's held-out rows by more than 0"
    report = ChampionReport(Decision(False, "v1", reason), "f1_macro", {"v1": _metrics(0.85)})
    text = summary_markdown(ModelType.XGBOOST, outcome, report)
    assert f"**Not promoted**: {reason}." in text
    assert "| metric | this run | champion v1 (same held-out rows) | Δ |" in text
    assert "| F1 (macro) | 0.8000 | 0.8500 | -0.0500 |" in text
