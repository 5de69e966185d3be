"""Dataset specifications: the columns, types and ranges of the two supported tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class DatasetKind(StrEnum):
    FUTURE_SKILLS = "future_skills"
    CHURN = "churn"


@dataclass(frozen=True)
class NumericColumn:
    name: str
    min: float | None = None
    max: float | None = None
    integer: bool = False
    nullable: bool = False


@dataclass(frozen=True)
class DatasetSpec:
    kind: DatasetKind
    target: str
    id_columns: tuple[str, ...]
    categorical: tuple[str, ...]
    numeric: tuple[NumericColumn, ...]
    flags: tuple[str, ...] = ()
    target_values: tuple[str, ...] | tuple[int, ...] = ()
    default_file: str = ""
    categorical_values: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def feature_columns(self) -> list[str]:
        return [*self.categorical, *(c.name for c in self.numeric), *self.flags]

    @property
    def all_columns(self) -> list[str]:
        return [*self.id_columns, *self.feature_columns, self.target]


NEED_LEVELS = ("LOW", "MEDIUM", "HIGH")

FUTURE_SKILLS = DatasetSpec(
    kind=DatasetKind.FUTURE_SKILLS,
    target="future_need_level",
    id_columns=(),
    categorical=("job_role_name", "skill_name", "skill_category", "job_department"),
    numeric=(
        NumericColumn("trend_score", 0.0, 1.0),
        NumericColumn("internal_usage", 0.0, 1.0),
        NumericColumn("training_requests", 0, None, integer=True),
        NumericColumn("scarcity_index", 0.0, 1.0),
        NumericColumn("hiring_difficulty", 0.0, 1.0),
        NumericColumn("avg_salary_k", 0.0, 1000.0),
        NumericColumn("economic_indicator", 0.0, 2.0),
    ),
    target_values=NEED_LEVELS,
    default_file="future_skills_dataset.csv",
)

# Cell2Cell (Duke/Teradata churn tournament) column names: usage measures, then 0/1 flags.
_CHURN_NUMERIC = (
    NumericColumn("revenue", -100.0, 10_000.0, nullable=True),
    NumericColumn("mou", 0.0, 20_000.0, nullable=True),
    NumericColumn("recchrge", -50.0, 2_000.0),
    NumericColumn("directas", 0.0, 500.0),
    NumericColumn("overage", 0.0, 10_000.0),
    NumericColumn("roam", 0.0, 5_000.0),
    NumericColumn("changem", -10_000.0, 10_000.0, nullable=True),
    NumericColumn("changer", -5_000.0, 5_000.0, nullable=True),
    NumericColumn("dropvce", 0.0, 1_000.0),
    NumericColumn("blckvce", 0.0, 1_000.0),
    NumericColumn("unansvce", 0.0, 2_000.0),
    NumericColumn("custcare", 0.0, 1_000.0),
    NumericColumn("threeway", 0.0, 500.0),
    NumericColumn("mourec", 0.0, 10_000.0),
    NumericColumn("outcalls", 0.0, 2_000.0),
    NumericColumn("incalls", 0.0, 2_000.0),
    NumericColumn("peakvce", 0.0, 5_000.0),
    NumericColumn("opeakvce", 0.0, 5_000.0),
    NumericColumn("dropblk", 0.0, 2_000.0),
    NumericColumn("callfwdv", 0.0, 500.0),
    NumericColumn("callwait", 0.0, 1_000.0),
    NumericColumn("months", 0, 120, integer=True),
    NumericColumn("uniqsubs", 1, 200, integer=True),
    NumericColumn("actvsubs", 0, 200, integer=True),
    NumericColumn("phones", 1, 50, integer=True),
    NumericColumn("models", 1, 50, integer=True),
    NumericColumn("eqpdays", -10, 2_000, integer=True),
    NumericColumn("age1", 0, 120, integer=True),
    NumericColumn("age2", 0, 120, integer=True),
    NumericColumn("retcalls", 0, 10, integer=True),
    NumericColumn("retaccpt", 0, 10, integer=True),
    NumericColumn("refer", 0, 50, integer=True),
    NumericColumn("income", 0, 9, integer=True),
    NumericColumn("setprc", 0.0, 1_000.0),
)
_CHURN_FLAGS = (
    "children", "credita", "creditaa", "creditb", "creditc", "creditde", "creditgy", "creditz",
    "prizmrur", "prizmub", "prizmtwn", "refurb", "webcap", "truck", "rv", "occprof", "occcler",
    "occcrft", "occstud", "occhmkr", "occret", "occself", "ownrent", "marryun", "marryyes",
    "marryno", "mailord", "mailres", "mailflag", "travel", "pcown", "creditcd", "newcelly",
    "newcelln", "incmiss", "mcycle", "setprcm", "retcall",
)  # fmt: skip

CHURN = DatasetSpec(
    kind=DatasetKind.CHURN,
    target="churn",
    id_columns=("customer",),
    categorical=(),
    numeric=_CHURN_NUMERIC,
    flags=_CHURN_FLAGS,
    target_values=(0, 1),
    default_file="churn.csv",
)

SPECS: dict[DatasetKind, DatasetSpec] = {FUTURE_SKILLS.kind: FUTURE_SKILLS, CHURN.kind: CHURN}


def detect_kind(columns: list[str]) -> DatasetKind | None:
    """Guess the dataset kind from its header: the target column decides."""
    present = set(columns)
    for spec in SPECS.values():
        if spec.target in present:
            return spec.kind
    return None
