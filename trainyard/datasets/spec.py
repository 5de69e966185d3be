"""A dataset spec: the columns, types, ranges and target of one table, read from a reviewable YAML file.

```yaml
name: churn
file: churn.csv                 # the table, inside a data root
task: classification
target: churn
classes: [0, 1]
primary_metric: f1_macro        # what the champion gate compares
columns:                        # every column but the target, in the table's order
  customer: {type: id}
  revenue: {type: float, min: -100, max: 10000, nullable: true}
  months: {type: int, min: 0, max: 120}
  children: {type: flag}        # 0/1
  job_role_name: {type: category}
schedules:                      # optional: retraining and scoring by Prefect (trainyard.datasets.schedules)
  - {cron: "0 2 * * *", families: [random-forest], promote: true}
```

The file is the pandera schema's single source (``trainyard/datasets/schema.py`` builds the schema from it). A
file that does not parse, or holds a key that is not allowed, is refused naming its line and key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trainyard.datasets.schedules import (
    Schedule,
    ScheduleEntry,
    dump_block,
    entries_of,
    flatten,
    without_schedules,
)
from trainyard.errors import DatasetError

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
Task = Literal["classification", "regression"]
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1_score", "f1_macro", "roc_auc")
REGRESSION_METRICS = ("rmse", "mae", "r2")
METRICS: dict[str, tuple[str, ...]] = {"classification": CLASSIFICATION_METRICS, "regression": REGRESSION_METRICS}
DEFAULT_METRIC = {"classification": "f1_macro", "regression": "rmse"}
LOWER_IS_BETTER = frozenset({"rmse", "mae"})  # errors; every other metric is a score


class SpecFileError(DatasetError):
    """A spec file that does not parse or does not describe a table; the message names line and key."""


class ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["id", "category", "float", "int", "flag"]
    min: int | float | None = None
    max: int | float | None = None
    nullable: bool = False


class SpecFile(BaseModel):
    """What a spec file holds."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    file: str = Field(min_length=1, max_length=1024)
    task: Task = "classification"
    target: str = Field(min_length=1)
    classes: list[str] | list[int] | None = Field(None, min_length=2, description="classification only")
    primary_metric: Literal[(*CLASSIFICATION_METRICS, *REGRESSION_METRICS)] | None = None  # type: ignore[valid-type]
    columns: dict[str, ColumnSpec] = Field(min_length=1)
    schedules: list[ScheduleEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> SpecFile:
        if self.target in self.columns:
            raise ValueError(f"the target {self.target!r} is listed under columns; list the features only")
        if self.task == "classification" and self.classes is None:
            raise ValueError("a classification spec lists its target's classes (classes: [...])")
        if self.task == "regression" and self.classes is not None:
            raise ValueError("a regression target has no classes; remove classes, or set task: classification")
        if self.primary_metric is None:
            self.primary_metric = DEFAULT_METRIC[self.task]
        elif self.primary_metric not in METRICS[self.task]:
            raise ValueError(f"primary_metric {self.primary_metric!r} is not a {self.task} metric; "
                             f"one of {', '.join(METRICS[self.task])}")  # fmt: skip
        return self


@dataclass(frozen=True)
class NumericColumn:
    name: str
    min: float | None = None
    max: float | None = None
    integer: bool = False
    nullable: bool = False


@dataclass(frozen=True)
class DatasetSpec:
    """A parsed spec, as the steps use it (column groups in the table's order)."""

    kind: str  # the dataset's name
    target: str
    id_columns: tuple[str, ...]
    categorical: tuple[str, ...]
    numeric: tuple[NumericColumn, ...]
    flags: tuple[str, ...] = ()
    nullable_categories: tuple[str, ...] = ()
    target_values: tuple[str, ...] | tuple[int, ...] = ()
    default_file: str = ""
    primary_metric: str = "f1_macro"
    task: str = "classification"
    sha256: str = ""  # of the spec file's text but its schedules: in cache keys and every model's lineage
    source: Path | None = field(default=None, compare=False)
    schedules: tuple[Schedule, ...] = field(default=(), compare=False)

    @property
    def is_regression(self) -> bool:
        return self.task == "regression"

    def interface(self) -> dict[str, Any]:
        """What a model trained on this spec depends on: task, target, classes, each feature's name and
        kind. Ranges and nullability are not part of it (widening a range keeps its models usable)."""
        kinds = {name: "category" for name in self.categorical} | {name: "flag" for name in self.flags}
        kinds |= {c.name: "number" for c in self.numeric}
        return {"task": self.task, "target": self.target, "classes": list(self.target_values),
                "features": {name: kinds[name] for name in self.feature_columns}}  # fmt: skip

    @property
    def feature_columns(self) -> list[str]:
        return [*self.categorical, *(c.name for c in self.numeric), *self.flags]

    @property
    def all_columns(self) -> list[str]:
        return [*self.id_columns, *self.feature_columns, self.target]


def interface_changes(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """How ``now`` (a spec's ``interface()``) breaks a model trained on ``before``; [] when it does not."""
    changes = [f"{key} was {before.get(key)!r}, is {now.get(key)!r}" for key in ("task", "target", "classes")
               if before.get(key) != now.get(key)]  # fmt: skip
    old, new = before.get("features", {}), now.get("features", {})
    changes += [f"feature {name!r} removed" for name in old if name not in new]
    changes += [f"feature {name!r} added" for name in new if name not in old]
    changes += [f"feature {name!r} was {old[name]}, is {new[name]}" for name in old
                if name in new and old[name] != new[name]]  # fmt: skip
    return changes


def from_file_model(parsed: SpecFile, sha256: str = "", source: Path | None = None) -> DatasetSpec:
    def of(kind: str) -> tuple[str, ...]:
        return tuple(name for name, column in parsed.columns.items() if column.type == kind)

    numeric = tuple(
        NumericColumn(name, column.min, column.max, integer=column.type == "int", nullable=column.nullable)
        for name, column in parsed.columns.items() if column.type in ("float", "int")
    )  # fmt: skip
    nullable = tuple(name for name, column in parsed.columns.items() if column.type == "category" and column.nullable)
    return DatasetSpec(kind=parsed.name, target=parsed.target, id_columns=of("id"), categorical=of("category"),
                       numeric=numeric, flags=of("flag"), nullable_categories=nullable,
                       target_values=tuple(parsed.classes or ()), default_file=parsed.file,
                       primary_metric=parsed.primary_metric or DEFAULT_METRIC[parsed.task], task=parsed.task,
                       sha256=sha256, source=source,
                       schedules=tuple(flatten(parsed.name, parsed.schedules)))  # fmt: skip


def to_file_model(spec: DatasetSpec, order: list[str] | None = None) -> SpecFile:
    """The file form of ``spec``; ``order``: the table's column order (default: the spec's groups)."""
    columns: dict[str, ColumnSpec] = {name: ColumnSpec(type="id") for name in spec.id_columns}
    columns |= {name: ColumnSpec(type="category", nullable=name in spec.nullable_categories)
                for name in spec.categorical}  # fmt: skip
    columns |= {c.name: ColumnSpec(type="int" if c.integer else "float", min=c.min, max=c.max, nullable=c.nullable)
                for c in spec.numeric}  # fmt: skip
    columns |= {name: ColumnSpec(type="flag") for name in spec.flags}
    if order:
        columns = {name: columns[name] for name in order if name in columns}
    return SpecFile(name=spec.kind, file=spec.default_file, task=spec.task, target=spec.target,  # type: ignore[arg-type]
                    classes=list(spec.target_values) if not spec.is_regression else None,
                    primary_metric=spec.primary_metric, columns=columns,  # type: ignore[arg-type]
                    schedules=entries_of(spec.schedules))


def dump(parsed: SpecFile) -> str:
    """The YAML text of a spec file: one line per column (and per schedule), defaults left out."""
    head = parsed.model_dump(exclude={"columns", "schedules"}, exclude_none=True)
    lines = [f"{key}: {_scalar(value)}" for key, value in head.items()] + ["columns:"]
    for name, column in parsed.columns.items():
        fields = {"type": column.type, **column.model_dump(exclude_defaults=True, exclude={"type"})}
        body = ", ".join(f"{key}: {_scalar(value)}" for key, value in fields.items())
        lines.append(f"  {_scalar(name)}: {{{body}}}")
    return "\n".join(lines) + "\n" + dump_block(parsed.schedules)


def _scalar(value: Any) -> str:
    """One YAML scalar, inline (a name that YAML would read as a number or a boolean comes quoted)."""
    return yaml.safe_dump(value, default_flow_style=True).removesuffix("\n...\n").strip()


def parse(text: str, source: str = "<spec>") -> DatasetSpec:
    """Parse a spec file's text; SpecFileError naming the line and key of the first problems."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecFileError(f"{source} does not parse as YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise SpecFileError(f"{source}: a spec file is a mapping (name, file, target, classes, columns)")
    try:
        parsed = SpecFile.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False)[:10]:
            loc = [str(part) for part in error["loc"]]
            line = _line_of(text, loc)
            where = f"line {line}, " if line else ""
            lines.append(f"  - {where}key {'.'.join(loc) or '(top)'}: {error['msg']}")
        raise SpecFileError(f"{source} is not a valid dataset spec:\n" + "\n".join(lines)) from None
    return from_file_model(parsed, hashlib.sha256(without_schedules(text).encode()).hexdigest())


def _line_of(text: str, loc: list[str]) -> int | None:
    """The 1-based line of the deepest key of ``loc`` that the YAML text has."""
    node = yaml.compose(text)
    line = None
    for part in loc:
        if isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]  # an entry of a list (schedules.0.cron)
            line = node.start_mark.line + 1
            continue
        if not isinstance(node, yaml.MappingNode):
            break
        match = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
        if match is None:
            break
        line, node = match[0].start_mark.line + 1, match[1]
    return line
