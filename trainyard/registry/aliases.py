"""Model-version aliases (``champion`` and free-form ones), per model type and dataset, audited.

Every change is a compare-and-set in one transaction: an alias is created only if absent (the unique
constraint refuses a second), and moved only from the version the caller saw. Two writers racing
for the same alias therefore never leave two holders or none: one wins, the other sees
``AliasConflict`` (or ``False``) and decides again against the new holder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from trainyard.errors import RegistryError
from trainyard.registry import audit
from trainyard.registry.audit import Action
from trainyard.registry.db import session_scope
from trainyard.registry.models import (
    AliasEvent,
    ModelAlias,
    ModelVersionRecord,
    PromotionDecision,
    TrainingRun,
    utcnow,
)

CHAMPION = "champion"
ALIAS_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
_ALIAS = re.compile(ALIAS_PATTERN)
CAS_ATTEMPTS = 20


class AliasConflict(RegistryError):
    """The alias changed between reading and writing it."""


class UnknownModelVersion(RegistryError):
    """No registered model version by that type and name."""


@dataclass(frozen=True)
class AliasChange:
    model_type: str
    dataset: str
    alias: str
    version: str | None
    previous_version: str | None
    actor: str
    at: datetime
    reason: str = ""


def validate_alias(alias: str) -> str:
    if not _ALIAS.fullmatch(alias):
        raise ValueError(f"alias {alias!r} must match {ALIAS_PATTERN} (lowercase letters, digits, '-', '_')")
    return alias


def dataset_of(model_type: str, version: str) -> str:
    """The dataset a registered model version was trained on (the alias scope it belongs to)."""
    with session_scope() as session:
        dataset = session.scalar(
            select(TrainingRun.dataset_path)
            .join(ModelVersionRecord, ModelVersionRecord.training_run_id == TrainingRun.id)
            .where(ModelVersionRecord.model_type == model_type, ModelVersionRecord.version == version)
        )
    if dataset is None:
        raise UnknownModelVersion(f"no registered {model_type} model version {version!r}")
    return dataset


def holder(model_type: str, dataset: str, alias: str = CHAMPION) -> str | None:
    """The version that carries ``alias`` for this model type and dataset, or None."""
    with session_scope() as session:
        return session.scalar(
            select(ModelAlias.version).where(
                ModelAlias.model_type == model_type, ModelAlias.dataset == dataset, ModelAlias.alias == alias
            )
        )


def holders(model_type: str, alias: str) -> dict[str, str]:
    """Every dataset on which a version of ``model_type`` carries ``alias``: dataset -> version."""
    with session_scope() as session:
        rows = session.execute(
            select(ModelAlias.dataset, ModelAlias.version).where(
                ModelAlias.model_type == model_type, ModelAlias.alias == alias
            )
        )
        return {dataset: version for dataset, version in rows}


def compare_and_set(
    model_type: str, dataset: str, alias: str, version: str, expected: str | None, actor: str, reason: str = ""
) -> AliasChange | None:
    """Point ``alias`` at ``version`` if its holder is still ``expected`` (None: no holder yet); the
    change, audited in the same transaction, or None if another writer got there first."""
    at = utcnow()
    try:
        with session_scope() as session:
            if expected is None:
                session.add(ModelAlias(model_type=model_type, dataset=dataset, alias=alias, version=version,
                                       set_by=actor, set_at=at))  # fmt: skip
                session.flush()
            else:
                moved = session.execute(
                    update(ModelAlias)
                    .where(
                        ModelAlias.model_type == model_type,
                        ModelAlias.dataset == dataset,
                        ModelAlias.alias == alias,
                        ModelAlias.version == expected,
                    )
                    .values(version=version, set_by=actor, set_at=at)
                )
                if moved.rowcount != 1:  # type: ignore[attr-defined]
                    session.rollback()
                    return None
            session.add(AliasEvent(model_type=model_type, dataset=dataset, alias=alias, version=version,
                                   previous_version=expected, actor=actor, reason=reason, at=at))  # fmt: skip
            audit.record(Action.ALIAS_SET, actor=actor, target=f"{model_type}@{alias}", session=session,
                         detail={"dataset": dataset, "version": version, "previous_version": expected,
                                 "reason": reason})  # fmt: skip
    except IntegrityError:
        return None  # another writer created it first
    return AliasChange(model_type, dataset, alias, version, expected, actor, at, reason)


def set_alias(model_type: str, version: str, alias: str, actor: str, reason: str = "") -> AliasChange:
    """Point ``alias`` at a registered version (moving it from its previous holder), audited."""
    validate_alias(alias)
    dataset = dataset_of(model_type, version)
    for _ in range(CAS_ATTEMPTS):
        previous = holder(model_type, dataset, alias)
        if previous == version:
            return AliasChange(model_type, dataset, alias, version, previous, actor, utcnow(), "already set")
        change = compare_and_set(model_type, dataset, alias, version, previous, actor, reason or "set by hand")
        if change is not None:
            return change
    raise AliasConflict(f"alias {alias!r} of {model_type} kept changing; try again")


def remove_alias(model_type: str, version: str, alias: str, actor: str) -> AliasChange:
    """Take ``alias`` off ``version`` (a no-op answer if the version does not carry it), audited."""
    validate_alias(alias)
    dataset = dataset_of(model_type, version)
    at = utcnow()
    with session_scope() as session:
        removed = session.execute(
            delete(ModelAlias).where(
                ModelAlias.model_type == model_type,
                ModelAlias.dataset == dataset,
                ModelAlias.alias == alias,
                ModelAlias.version == version,
            )
        )
        if removed.rowcount != 1:  # type: ignore[attr-defined]
            raise AliasConflict(f"{model_type} {version} does not carry alias {alias!r}")
        session.add(AliasEvent(model_type=model_type, dataset=dataset, alias=alias, version=None,
                               previous_version=version, actor=actor, reason="removed", at=at))  # fmt: skip
        audit.record(Action.ALIAS_REMOVED, actor=actor, target=f"{model_type}@{alias}", session=session,
                     detail={"dataset": dataset, "previous_version": version})  # fmt: skip
    return AliasChange(model_type, dataset, alias, None, version, actor, at, "removed")


def aliases_by_version() -> dict[tuple[str, str], list[str]]:
    """(model type, version) -> its aliases, sorted."""
    found: dict[tuple[str, str], list[str]] = {}
    with session_scope() as session:
        for row in session.scalars(select(ModelAlias).order_by(ModelAlias.alias)):
            found.setdefault((row.model_type, row.version), []).append(row.alias)
    return found


def history(model_type: str | None = None, limit: int = 100) -> list[AliasEvent]:
    """Alias changes, newest first."""
    query = select(AliasEvent)
    if model_type is not None:
        query = query.where(AliasEvent.model_type == model_type)
    with session_scope() as session:
        return list(session.scalars(query.order_by(AliasEvent.id.desc()).limit(limit)))


def record_decision(flow_run_id: str, model_type: str, version: str, promoted: bool, champion_before: str | None,
                    reason: str) -> None:  # fmt: skip
    """Keep a run's promotion decision (a retry that decides again replaces it)."""
    with session_scope() as session:
        session.execute(delete(PromotionDecision).where(PromotionDecision.flow_run_id == flow_run_id))
        session.add(PromotionDecision(flow_run_id=flow_run_id, model_type=model_type, version=version,
                                      promoted=promoted, champion_before=champion_before, reason=reason))  # fmt: skip


def decision_of(flow_run_id: str) -> PromotionDecision | None:
    with session_scope() as session:
        return session.scalar(select(PromotionDecision).where(PromotionDecision.flow_run_id == flow_run_id))
