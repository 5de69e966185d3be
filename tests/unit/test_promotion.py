"""Champion decisions on a real SQLite registry: first model, beat-by-margin, and a concurrent burst."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import pytest

from trainyard.promotion import decide
from trainyard.registry import aliases
from trainyard.registry.db import session_scope
from trainyard.registry.models import AliasEvent, ModelAlias, ModelVersionRecord
from trainyard.registry.runs import RunStart, complete_run, ensure_run
from trainyard.states import RunStatus


def _register(dataset: str, version: str) -> None:
    flow_run_id = str(uuid.uuid4())
    ensure_run(RunStart(flow_run_id, "xgboost"))
    record = ModelVersionRecord(model_type="xgboost", version=version, path="/x", sha256="0" * 64, size_bytes=1)
    complete_run(flow_run_id, record, status=RunStatus.COMPLETED, dataset_path=dataset)


def _decide(dataset: str, version: str, score: float, scores: dict[str, float], compete: bool = True, margin=0.0):
    return decide("xgboost", dataset, version, score, scores.get, compete=compete, metric="f1_macro", margin=margin,
                  actor=f"test:{version}")  # fmt: skip


def test_first_model_is_champion_then_only_a_better_one_by_the_margin_takes_over() -> None:
    dataset = f"/data/{uuid.uuid4().hex}.csv"
    scores = {"v1": 0.80, "v2": 0.805, "v3": 0.80, "v4": 0.83}
    assert _decide(dataset, "v1", 0.80, scores).promoted  # first: champion whatever its score
    not_enough = _decide(dataset, "v2", 0.805, scores, margin=0.01)
    assert not not_enough.promoted and "does not beat champion v1's 0.8000" in not_enough.reason
    tie = _decide(dataset, "v3", 0.80, scores)
    assert not tie.promoted and aliases.holder("xgboost", dataset) == "v1"  # a tie keeps the champion
    asked_not_to = _decide(dataset, "v4", 0.83, scores, compete=False)
    assert not asked_not_to.promoted and "promote=false" in asked_not_to.reason
    better = _decide(dataset, "v4", 0.83, scores, margin=0.01)
    assert better.promoted and better.champion_before == "v1"
    assert aliases.holder("xgboost", dataset) == "v4"


def test_a_burst_of_promotions_ends_with_exactly_one_champion_the_best() -> None:
    dataset = f"/data/{uuid.uuid4().hex}.csv"
    scores = {f"b{i}": 0.5 + i / 100 for i in range(16)}
    _decide(dataset, "b0", scores["b0"], scores)
    with ThreadPoolExecutor(16) as pool:  # 15 challengers finishing together, in shuffled order
        order = sorted(scores, key=lambda v: hash((v, dataset)))
        list(pool.map(lambda v: _decide(dataset, v, scores[v], scores), [v for v in order if v != "b0"]))
    with session_scope() as session:
        holders = session.query(ModelAlias).filter_by(model_type="xgboost", dataset=dataset, alias="champion").all()
        events = session.query(AliasEvent).filter_by(dataset=dataset, alias="champion").order_by(AliasEvent.id).all()
    assert [h.version for h in holders] == ["b15"]
    # Every move is audited, each from the holder it replaced: the trail is one unbroken chain.
    assert events[0].previous_version is None
    assert all(later.previous_version == earlier.version for earlier, later in pairwise(events))
    assert events[-1].version == "b15"


def test_manual_aliases_move_between_versions_and_are_audited() -> None:
    dataset = f"/data/{uuid.uuid4().hex}.csv"
    tag = uuid.uuid4().hex[:8]
    first, second = f"m1-{tag}", f"m2-{tag}"
    _register(dataset, first)
    _register(dataset, second)
    aliases.set_alias("xgboost", first, "staging", "ana")
    moved = aliases.set_alias("xgboost", second, "staging", "bob")
    assert (moved.previous_version, moved.version, moved.actor) == (first, second, "bob")
    assert aliases.aliases_by_version()[("xgboost", second)] == ["staging"]
    removed = aliases.remove_alias("xgboost", second, "staging", "ana")
    assert removed.version is None and ("xgboost", second) not in aliases.aliases_by_version()
    trail = [(e.previous_version, e.version, e.actor) for e in aliases.history("xgboost") if e.dataset == dataset]
    assert trail == [(second, None, "ana"), (first, second, "bob"), (None, first, "ana")]
    with pytest.raises(aliases.UnknownModelVersion):
        aliases.set_alias("xgboost", "no-such-version", "staging", "ana")
    with pytest.raises(ValueError, match="must match"):
        aliases.set_alias("xgboost", first, "Not Valid", "ana")


def test_a_champion_trained_on_the_same_rows_is_compared_by_its_own_metrics_without_loading_it() -> None:
    from types import SimpleNamespace

    from tasks.promote import metrics_on_same_rows
    from trainyard.refs import DatasetRef, Metrics, SplitRef

    dataset = DatasetRef(path="/d.csv", sha256="a" * 64, rows=100, columns=["x", "y"], kind="churn", staged="/s")
    split = SplitRef(dataset=dataset, table="/s", train="/t", test="/e", train_rows=80, test_rows=20, test_split=0.2,
                     random_state=42, features=["x"], target="y")  # fmt: skip
    metrics = {"accuracy": 0.9, "precision": 0.9, "recall": 0.9, "f1_score": 0.9, "precision_macro": 0.8,
               "recall_macro": 0.8, "f1_macro": 0.8, "roc_auc": 0.95, "confusion_matrix": {"labels": []}}  # fmt: skip
    run = SimpleNamespace(dataset_sha256="a" * 64, test_split=0.2, random_state=42, test_samples=20,
                          metrics=metrics, per_class_metrics={"yes": {"f1_score": 0.7}})  # fmt: skip

    own = metrics_on_same_rows(run, split)
    assert isinstance(own, Metrics) and own.f1_macro == 0.8 and own.per_class == {"yes": {"f1_score": 0.7}}
    for other in ({"random_state": 7}, {"test_split": 0.3}, {"dataset_sha256": "b" * 64}, {"metrics": {}}):
        assert metrics_on_same_rows(SimpleNamespace(**{**vars(run), **other}), split) is None, other
    assert metrics_on_same_rows(SimpleNamespace(**{**vars(run), "metrics": {"accuracy": "n/a"}}), split) is None
    assert metrics_on_same_rows(None, split) is None
