"""Report step: the run's page in the Prefect UI gets its summary (with the champion comparison and
the promotion decision), its per-class table and its plots."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from tasks.evaluate import Evaluation
from tasks.fit import FittedModel
from tasks.promote import ChampionReport
from trainyard import plots
from trainyard.params import ModelType
from trainyard.refs import SplitRef, TrainingOutcome

if TYPE_CHECKING:
    import numpy as np

SUMMARY_METRICS = (("accuracy", "accuracy"), ("precision", "precision (weighted)"), ("recall", "recall (weighted)"),
                   ("f1_score", "F1 (weighted)"), ("f1_macro", "F1 (macro)"), ("roc_auc", "ROC-AUC"))  # fmt: skip
REGRESSION_SUMMARY = (("rmse", "RMSE"), ("mae", "MAE"), ("r2", "R²"))
IMPORTANCE_ROWS = 1000  # permutation importances (models without their own) use this many held-out rows


@task(name="publish-plots", cache_policy=NO_CACHE, persist_result=False)
def publish_plots(model_type: ModelType, version: str, evaluation: Evaluation, model: FittedModel,
                  split: SplitRef) -> None:  # fmt: skip
    """Render and publish the plots artifact. Needs only the evaluation: the flow runs it beside persist."""
    pictures = plots_markdown(model_type, version, evaluation, model, split)
    described = "Predicted vs actual, residuals" if evaluation.is_regression else "Confusion matrix, curves"
    create_markdown_artifact(pictures, key=f"{model_type}-plots", description=f"{described}, importances")


@task(name="publish-summary", cache_policy=NO_CACHE, persist_result=False)
def publish_summary(model_type: ModelType, outcome: TrainingOutcome, champion: ChampionReport) -> None:
    """Publish the summary (with the champion comparison and decision) and the per-class table."""
    rows = [{"class": label, **values} for label, values in outcome.metrics.per_class.items()]
    if rows:  # a regressor has no classes
        create_table_artifact(rows, key=f"{model_type}-per-class-metrics", description="Per-class hold-out metrics")
    create_markdown_artifact(summary_markdown(model_type, outcome, champion), key=f"{model_type}-summary",
                             description="Training summary")  # fmt: skip
    get_run_logger().info("published the summary and per-class metrics of %s", outcome.model_version)


def summary_markdown(model_type: ModelType, outcome: TrainingOutcome, champion: ChampionReport) -> str:
    """The metrics table, side by side with the champion's on the same held-out rows, and the decision."""
    metrics = outcome.metrics
    compared = champion.compared_with
    decision = champion.decision
    verdict = "**Champion**" if decision.promoted else "**Not promoted**"
    lines = [f"# {model_type} {outcome.model_version}", "", f"{verdict}: {decision.reason}.", ""]
    shown = REGRESSION_SUMMARY if metrics.is_regression else SUMMARY_METRICS
    if compared is None:
        lines += ["| metric | this run |", "|---|---|"]
        lines += [f"| {label} | {_fmt(getattr(metrics, name))} |" for name, label in shown]
    else:
        version, theirs = compared
        lines += [f"| metric | this run | champion {version} (same held-out rows) | Δ |", "|---|---|---|---|"]
        for name, label in shown:
            ours, before = getattr(metrics, name), getattr(theirs, name)
            lines.append(f"| {label} | {_fmt(ours)} | {_fmt(before)} | {_delta(ours, before)} |")
    lines += ["", f"Promotion metric: `{champion.metric}`.", "", f"Model: `{outcome.model_path}`"]
    if metrics.cv:
        lines += ["", "| CV metric | mean | std |", "|---|---|---|"]
        lines += [f"| {name} | {v['mean']:.4f} | {v['std']:.4f} |" for name, v in metrics.cv.items()]
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _delta(ours: float | None, theirs: float | None) -> str:
    return "n/a" if ours is None or theirs is None else f"{ours - theirs:+.4f}"


def plots_markdown(model_type: ModelType, version: str, evaluation: Evaluation, model: FittedModel,
                   split: SplitRef) -> str:  # fmt: skip
    """The run's pictures inline (data-URI PNGs: the Prefect UI renders them, and no other server or
    token is involved in showing them). The evaluation's pictures are drawn in a forked child, on a
    core this process's GIL does not hold, while the importances (a model's predictions for a net)
    are computed here."""

    def draw_evaluation() -> bytes:
        if evaluation.is_regression:
            return images_markdown(regression_images(evaluation, split.target)).encode()
        return images_markdown(classifier_images(evaluation)).encode()

    drawn = plots.drawing_apart(draw_evaluation, get_run_logger().warning)
    try:
        names, values, title = feature_importances(model, split, evaluation.is_regression)
        importances = images_markdown([("Feature importances", plots.importances_png(names, values, title))])
    finally:
        pictures = drawn().decode()  # also when the importances failed: the child is waited for
    return "\n".join([f"# {model_type} {version}: plots", "", pictures, importances])


def images_markdown(images: list[tuple[str, bytes]]) -> str:
    """A section per picture, each an inline data-URI PNG."""
    lines = []
    for alt, png in images:
        lines += [f"## {alt}", "", f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})", ""]
    return "\n".join(lines)


def regression_images(evaluation: Evaluation, target: str) -> list[tuple[str, bytes]]:
    return [("Predicted vs actual", plots.predicted_vs_actual_png(evaluation.y_true, evaluation.y_pred, target)),
            ("Residuals", plots.residuals_png(evaluation.y_true, evaluation.y_pred, target))]  # fmt: skip


def classifier_images(evaluation: Evaluation) -> list[tuple[str, bytes]]:
    metrics = evaluation.metrics
    images = [("Confusion matrix", plots.confusion_matrix_png(metrics.confusion_matrix["labels"],
                                                              metrics.confusion_matrix["matrix"]))]  # fmt: skip
    assert evaluation.classes is not None and evaluation.proba is not None
    if len(evaluation.classes) == 2:
        positive = evaluation.classes[1]
        scores = evaluation.proba[:, 1]
        images.append(("ROC curve", plots.roc_png(evaluation.y_true, scores, positive)))
        images.append(("Precision-recall curve", plots.precision_recall_png(evaluation.y_true, scores, positive)))
    else:
        images.append(("Per-class metrics", plots.per_class_png(metrics.per_class)))
    return images


def feature_importances(model: FittedModel, split: SplitRef,
                        regression: bool = False) -> tuple[list[str], list[float], str]:  # fmt: skip
    """(names, importances, plot title) over the encoded features: the trees' own impurity/gain
    importances; for a model without its own (a net, a linear model), permutation importance on held-out rows."""
    from tasks.split import read_side

    preprocess, estimator = model.pipeline.steps[0][1], model.pipeline.steps[-1][1]
    from trainyard.estimators import LabelEncodedClassifier

    inner: Any = estimator.estimator_ if isinstance(estimator, LabelEncodedClassifier) else estimator
    native: np.ndarray | None = getattr(inner, "feature_importances_", None)
    if native is not None:
        return [str(n) for n in preprocess.get_feature_names_out()], [float(v) for v in native], (
            f"Feature importances ({type(inner).__name__}, top {plots.TOP_FEATURES})")  # fmt: skip
    from sklearn.inspection import permutation_importance

    # Permuted after preprocessing (once), so each of the 200-odd predictions is the bare model's: 0.3 s
    # instead of 1.3 s through the whole pipeline, and named like the trees' encoded features.
    test = read_side(split, "test").head(IMPORTANCE_ROWS)
    encoded = preprocess.transform(test[split.features])
    scoring = "r2" if regression else "accuracy"
    result = permutation_importance(estimator, encoded, test[split.target], n_repeats=3,
                                    random_state=split.random_state, scoring=scoring)  # fmt: skip
    return [str(n) for n in preprocess.get_feature_names_out()], [float(v) for v in result.importances_mean], (
        f"Permutation importances ({'R²' if regression else 'accuracy'} drop, {len(test)} held-out rows)")  # fmt: skip
