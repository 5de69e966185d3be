"""The step sequence every single-model flow runs: load → validate → split → fit → evaluate → persist,
then the champion decision and the run's report (summary, plots) on its Prefect page."""

from __future__ import annotations

from prefect import get_run_logger
from prefect.runtime import flow_run

from tasks import stage
from tasks.evaluate import evaluate_model
from tasks.fit import fit_task
from tasks.load import load_dataset, start_hashing
from tasks.persist import persist_model
from tasks.promote import decide_champion
from tasks.records import failures_recorded, start_run_record
from tasks.report import publish_plots, publish_summary
from tasks.split import split_dataset
from tasks.validate import validate_dataset
from trainyard import progress
from trainyard.cancellation import cancelled_when_stopped, exiting_promptly_when_cancelled
from trainyard.families import ModelFamily
from trainyard.params import ModelType, TrainingParams
from trainyard.refs import SplitRef, TrainingOutcome


def prepare_data(
    dataset: str, test_split: float, random_state: int, report: progress.Reporter, refresh: bool = False
) -> SplitRef:
    """Load, validate and split (each served from cache when an earlier run did it). A cached step
    whose staged file is gone (a crash before the writer finished it, a cleanup) is done again."""
    options = {"refresh_cache": True} if refresh else {}
    with report.stage("load", 0.0, 0.4):
        loaded = load_dataset.with_options(**options)(dataset)
    with report.stage("validate", 0.4, 0.8):
        validated = validate_dataset.with_options(**options)(loaded)
    with report.stage("split", 0.8, 1.0):
        split = split_dataset.with_options(**options)(validated, test_split, random_state)
    missing = [path for path in (split.table, split.train, split.test) if not stage.is_staged(path)]
    if missing and not refresh:
        get_run_logger().warning("cached steps point at staged files that are gone (%s): loading again",
                                 ", ".join(missing))  # fmt: skip
        return prepare_data(dataset, test_split, random_state, report, refresh=True)
    return split


def run_pipeline(family: ModelFamily, p: TrainingParams) -> TrainingOutcome:
    """Call the steps in order, reporting progress; the fit is the family's."""
    model_type, fit = ModelType(family.name), fit_task(family)
    # A cancel that stops a fit ends this run Cancelled, nothing registered.
    # Steps hand their tables over in memory; the staged files are written behind and waited for at the end.
    with (
        exiting_promptly_when_cancelled(flow_run.get_id()),
        cancelled_when_stopped(),
        progress.reporting(flow_run.get_id(), f"{model_type}-progress") as report,
        stage.handoff(),
        failures_recorded(),
    ):
        start_hashing(p.dataset)  # beside the run's record: the load step's cache key needs the hash
        record = start_run_record(model_type, p)
        if record.finished is not None:  # a retry of a run whose model is registered: nothing to redo
            report.finish("done (model already registered)")
            return record.finished
        with report.stage("", 0.0, 0.10):
            split = prepare_data(p.dataset, p.test_split, p.random_state, report)
        # With CV, evaluation fits the model cv_folds more times: it gets that share of the run.
        fit_end = 0.10 + 0.80 / (1 + p.cv_folds) if p.use_cv else 0.86
        # The staged files wait while the fit runs: it uses every core (tasks.stage).
        with report.stage("fit", 0.10, fit_end), stage.writes_paused():
            model = fit(family.name, split, p.hyperparameters, p.random_state, p.device)
        with report.stage("evaluate", fit_end, 0.92):
            evaluation = evaluate_model(model, split, p.use_cv, p.cv_folds, p.random_state)
        # The plots need only the evaluation: rendered in a task-runner thread while the model is saved.
        plotted = publish_plots.submit(model_type, record.model_version, evaluation, model, split)
        with report.stage("persist", 0.92, 0.95):
            outcome = persist_model(record, model_type, model, evaluation.metrics, split, p)
        with report.stage("champion", 0.95, 0.97):
            champion = decide_champion(model_type, outcome, evaluation, split, p)
        with report.stage("report", 0.97, 1.0):
            publish_summary(model_type, outcome, champion)
            plotted.wait()  # pictures are a report, not the run's outcome: a failed plot shows as a failed task
            if not plotted.state.is_completed():
                get_run_logger().warning("the plots of %s were not published: %s", outcome.model_version,
                                         plotted.state.message)  # fmt: skip
        report.finish()
        return outcome
