"""train-all: validate the dataset once, then train every model family concurrently (every family that
trains the dataset's task: a classifier-only family sits out a regression table, and the log says so)."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed as wait_each
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from flows.pipeline import prepare_data
from flows.train import FLOWS
from tasks.records import RESULT_OPTIONS, outcome_of
from trainyard import progress
from trainyard.cancellation import exiting_promptly_when_cancelled, stopping_sub_jobs_on_termination
from trainyard.datasets import get_spec
from trainyard.families import get_family
from trainyard.params import ModelType, TrainAllParams
from trainyard.refs import TrainingOutcome
from trainyard.registry.runs import registered_run


@task(name="train-model", cache_policy=NO_CACHE, persist_result=False)
def train_model(model_type: ModelType, params: TrainAllParams) -> TrainingOutcome:
    """Run one family's flow as a child flow run (a sub-job of this run), unless a sub-job of this run
    already registered that family's model (a retry of the parent redoes only what did not finish)."""
    parent = flow_run.get_id()
    if parent and (done := registered_run(parent=parent, model_type=str(model_type))) is not None:
        get_run_logger().info("%s already trained by sub-job %s: nothing to redo", model_type, done.flow_run_id)
        return outcome_of(done)
    return FLOWS[model_type](params.for_model(model_type))


@flow(name="train-all", task_runner=ThreadPoolTaskRunner(max_workers=len(FLOWS)), **RESULT_OPTIONS)
def train_all(params: TrainAllParams = TrainAllParams()) -> dict[str, TrainingOutcome]:
    """Train every model family on one dataset; the children reuse the cached load/validate/split."""
    with progress.reporting(flow_run.get_id(), "all-progress") as report:
        with report.stage("", 0.0, 0.1):
            # Staged synchronously (no handoff): the sub-jobs read these files as soon as they start.
            split = prepare_data(params.dataset, params.test_split, params.random_state, report)
        task = get_spec(split.dataset.kind).task
        able = [model_type for model_type in FLOWS if task in get_family(str(model_type)).tasks]
        if skipped := [str(model_type) for model_type in FLOWS if model_type not in able]:
            get_run_logger().info("%s: a %s table; not trained by %s (they train %s only)", split.dataset.kind,
                                  task, ", ".join(skipped), "classification")  # fmt: skip
        futures = {model_type: train_model.submit(model_type, params) for model_type in able}
        with (
            exiting_promptly_when_cancelled(flow_run.get_id()),
            stopping_sub_jobs_on_termination(flow_run.get_id()),
            report.stage("train", 0.1, 1.0),
        ):
            # A cancel stops their fits too. Progress here counts finished sub-jobs; each sub-job's
            # own page (and the API's sub_jobs) shows its epochs, rounds or trees.
            for done, _ in enumerate(wait_each(list(futures.values())), start=1):
                report.advance(done, len(futures), "models trained")
            outcomes = {str(model_type): future.result() for model_type, future in futures.items()}
        report.finish()
        return outcomes
