"""Champion step: score the current champion on this run's held-out rows, and promote this run's model
if it should be champion (see ``trainyard.promotion``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.evaluate import Evaluation, score_on_test_rows
from trainyard.datasets import DatasetSpec, get_spec
from trainyard.datasets.spec import LOWER_IS_BETTER, METRICS
from trainyard.errors import ArtifactError
from trainyard.params import ModelType, TrainingParams
from trainyard.promotion import Decision, decide
from trainyard.refs import Metrics, SplitRef, TrainingOutcome
from trainyard.settings import get_settings


@dataclass
class ChampionReport:
    """The decision, and the champion it was taken against with its metrics on this run's rows."""

    decision: Decision
    metric: str
    champion_metrics: dict[str, Metrics] = field(default_factory=dict)

    @property
    def compared_with(self) -> tuple[str, Metrics] | None:
        before = self.decision.champion_before
        if before is None or before not in self.champion_metrics:
            return None
        return before, self.champion_metrics[before]


@task(name="decide-champion", cache_policy=NO_CACHE, persist_result=False)
def decide_champion(
    model_type: ModelType, outcome: TrainingOutcome, evaluation: Evaluation, split: SplitRef, params: TrainingParams
) -> ChampionReport:
    """Promote this run's model to champion of its model type and dataset when it should be; why, either way."""
    from trainyard.model_store import load_model
    from trainyard.registry.aliases import record_decision
    from trainyard.registry.runs import get_model_version, run_of_version

    settings = get_settings()
    metric = promotion_metric(get_spec(split.dataset.kind), settings.promotion_metric)
    scored: dict[str, Metrics] = {}

    def score_of(version: str) -> float | None:
        if version not in scored:
            registered = get_model_version(str(model_type), version)
            if registered is None:
                return None
            if (own := metrics_on_same_rows(run_of_version(str(model_type), version), split)) is not None:
                scored[version] = own  # scored on exactly these rows when it was trained: no need to load it
                return getattr(own, metric)
            try:
                champion = load_model(registered.path, manifest_sha256=registered.sha256)
                scored[version] = score_on_test_rows(champion, split).metrics
            except (ArtifactError, OSError, ValueError) as exc:  # a champion that no longer loads keeps its title
                get_run_logger().warning("could not score %s %s: %s", model_type, version, exc)
                return None
        return getattr(scored[version], metric)

    decision = decide(
        str(model_type), split.dataset.path, outcome.model_version, getattr(evaluation.metrics, metric), score_of,
        compete=params.promote, metric=metric, margin=settings.promotion_margin,
        actor=f"flow-run:{outcome.flow_run_id}", lower_is_better=metric in LOWER_IS_BETTER,
    )  # fmt: skip
    if decision.champion_before is not None and decision.champion_before != outcome.model_version:
        score_of(decision.champion_before)  # for the summary's comparison, also when not competing
    record_decision(outcome.flow_run_id, str(model_type), outcome.model_version, decision.promoted,
                    decision.champion_before, decision.reason)  # fmt: skip
    verdict = "promoted to champion" if decision.promoted else "not promoted"
    get_run_logger().info("%s %s %s: %s", model_type, outcome.model_version, verdict, decision.reason)
    return ChampionReport(decision, metric, scored)


def promotion_metric(spec: DatasetSpec, configured: str | None) -> str:
    """The configured promotion metric when it is one of the dataset's task, else the spec's primary metric."""
    return configured if configured in METRICS[spec.task] else spec.primary_metric


def metrics_on_same_rows(run: Any, split: SplitRef) -> Metrics | None:
    """The metrics a model's own run recorded, when that run held out the same rows as ``split`` (same
    dataset content, test share and seed: the split is a function of those); None otherwise."""
    same_rows = (
        run is not None
        and run.dataset_sha256 == split.dataset.sha256
        and run.test_split == split.test_split
        and run.random_state == split.random_state
        and run.test_samples == split.test_rows
    )
    if not same_rows or not run.metrics:
        return None
    try:
        return Metrics.model_validate({**run.metrics, "per_class": run.per_class_metrics or {}})
    except ValueError:  # recorded by an older version in another shape: score the model instead
        return None
