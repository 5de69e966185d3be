"""SQLAlchemy models of the registry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    DDL,
    JSON,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out; SQLite drops the offset, so reads put it back."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the registry; use an aware UTC time")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[str]: JSON,
        datetime: UTCDateTime(),
    }


class TrainingRun(Base):
    """One training job, whichever way it started; ``flow_run_id`` ties it to Prefect."""

    __tablename__ = "training_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_run_id: Mapped[str] = mapped_column(String(36), unique=True, index=True)
    parent_flow_run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    model_type: Mapped[str] = mapped_column(String(32), index=True)
    model_version: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True, default="RUNNING")
    prefect_state: Mapped[str | None] = mapped_column(String(32))
    run_date: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    trained_by_username: Mapped[str | None] = mapped_column(String(150), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)

    dataset_path: Mapped[str | None] = mapped_column(Text)
    dataset_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    total_samples: Mapped[int | None]
    train_samples: Mapped[int | None]
    test_samples: Mapped[int | None]
    test_split: Mapped[float | None] = mapped_column(Float)
    random_state: Mapped[int | None]
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    features_used: Mapped[list[str]] = mapped_column(default=list)

    accuracy: Mapped[float | None] = mapped_column(Float)
    precision: Mapped[float | None] = mapped_column(Float)
    recall: Mapped[float | None] = mapped_column(Float)
    f1_score: Mapped[float | None] = mapped_column(Float)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    per_class_metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cv_metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    training_duration_seconds: Mapped[float | None] = mapped_column(Float)

    model_path: Mapped[str | None] = mapped_column(Text)
    model_sha256: Mapped[str | None] = mapped_column(String(64))
    device: Mapped[str | None] = mapped_column(String(16))
    library_versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    code_version: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(String(64), index=True)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_kind: Mapped[str | None] = mapped_column(String(16))  # trainyard.errors.ErrorKind of a failed run

    model_versions: Mapped[list[ModelVersionRecord]] = relationship(back_populates="training_run")


class ModelVersionRecord(Base):
    """A model artifact a completed run wrote; versions are unique per model type, never reused."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_type", "version", name="uq_model_type_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_type: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(64))
    training_run_id: Mapped[int] = mapped_column(ForeignKey("training_runs.id"))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    training_run: Mapped[TrainingRun] = relationship(back_populates="model_versions")


class ModelAlias(Base):
    """A name (``champion``, or free-form) pointing at one model version of a model type and dataset.

    One row per (model type, dataset, alias): the unique constraint is what makes two champions
    impossible; changes are compare-and-set on ``version`` (see ``registry.aliases``).
    """

    __tablename__ = "model_aliases"
    __table_args__ = (UniqueConstraint("model_type", "dataset", "alias", name="uq_model_alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_type: Mapped[str] = mapped_column(String(32))
    dataset: Mapped[str] = mapped_column(String(1024))
    alias: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    set_by: Mapped[str] = mapped_column(String(150))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class AliasEvent(Base):
    """The audit trail of aliases: who moved which alias to which version, from which, when, and why."""

    __tablename__ = "model_alias_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_type: Mapped[str] = mapped_column(String(32), index=True)
    dataset: Mapped[str] = mapped_column(String(1024))
    alias: Mapped[str] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(64))  # None: the alias was removed
    previous_version: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(150))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class PromotionDecision(Base):
    """Whether a run's model became champion, and why (also when it did not)."""

    __tablename__ = "promotion_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_run_id: Mapped[str] = mapped_column(String(36), unique=True, index=True)
    model_type: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(64))
    promoted: Mapped[bool]
    champion_before: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """Only the sha256 of a token is stored; the token itself is shown once, at issue."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]  # None: never (the default lifetime)


class ScoringRun(Base):
    """A batch scoring run (the ``score`` flow): which model version scored which table, and where its
    predictions went. Written by the flow at its start and end; its state stays Prefect's."""

    __tablename__ = "scoring_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_run_id: Mapped[str] = mapped_column(String(64), unique=True)
    model_ref: Mapped[str] = mapped_column(String(200))
    model_type: Mapped[str | None] = mapped_column(String(32))
    model_version: Mapped[str | None] = mapped_column(String(64))
    dataset_path: Mapped[str | None] = mapped_column(Text)
    input_sha256: Mapped[str | None] = mapped_column(String(64))
    rows: Mapped[int | None]
    output_location: Mapped[str | None] = mapped_column(Text)
    output_sha256: Mapped[str | None] = mapped_column(String(64))
    requested_by: Mapped[str | None] = mapped_column(String(150))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Who did what, append-only: logins, token and user changes, alias moves, runs started and cancelled.
    No secret is ever written here (a token appears as its id or digest prefix, never itself)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str | None] = mapped_column(String(150), index=True)  # a user name, "cli:<os user>", a flow
    action: Mapped[str] = mapped_column(String(32), index=True)  # trainyard.registry.audit.Action
    outcome: Mapped[str] = mapped_column(String(16), default="ok")  # ok, failed, throttled
    target: Mapped[str | None] = mapped_column(String(1024))
    address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class LoginThrottleEntry(Base):
    """Failed logins counted per key (an address, or a user name from one address, or a user name from all),
    shared by every API process. Bounded: expired entries are dropped and the table is capped
    (trainyard.registry.throttle)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(index=True)
    blocked_until: Mapped[datetime | None]


# The audit trail refuses UPDATE and DELETE in the database itself, not only in our code.
_APPEND_ONLY = {
    "sqlite": [
        f"CREATE TRIGGER IF NOT EXISTS audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
        for verb in ("UPDATE", "DELETE")
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$",
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
    ],
}
for _dialect, _statements in _APPEND_ONLY.items():
    for _statement in _statements:
        event.listen(AuditEvent.__table__, "after_create", DDL(_statement).execute_if(dialect=_dialect))
