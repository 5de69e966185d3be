"""The schedules a dataset spec declares: when its models are retrained, or its rows scored, by Prefect.

```yaml
schedules:                      # in datasets/<name>.yaml, after the columns
  - {cron: "0 2 * * *", families: [random-forest, xgboost], promote: true}  # one Prefect schedule per family
  - {cron: "0 3 * * 0", families: [all], timezone: Europe/Paris}         # every family, in one train-all run
  - {cron: "30 4 * * *", score: "xgboost@champion", active: false}       # paused
```

Each (dataset, job, cron, timezone) is one ``Schedule`` with a stable id (``penguins.xgboost.c5049bc1``):
the slug of its Prefect deployment schedule, on the job's own deployment (one deployment per family, not
one per table). The block is not part of the spec's sha256: adding a schedule changes no model's lineage
and invalidates no cached step.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trainyard.errors import TrainyardError

KEY = "schedules"
ALL = "all"  # the job that trains every family that trains the table, in one train-all run
SCORE = "score"
ID_PATTERN = r"^[a-z][a-z0-9_]{0,63}\.[a-z][a-z0-9-]{0,63}\.[0-9a-f]{8}$"
MODEL_REF = r"^[a-z][a-z0-9-]{0,31}([@:][A-Za-z0-9_.-]{1,64})?$"  # trainyard.scoring.REF_PATTERN's form
Kind = Literal["train", "score"]


class ScheduleError(TrainyardError):
    """A schedule that cannot be made: bad cron or timezone, unknown family, a family that does not train
    the table's task, a model reference to no model, an unknown schedule id. The message says which;
    ``field`` is the entry's key at fault (dataset, families, score), None for an unknown id."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def check_cron(cron: str) -> str:
    """``cron`` if it is a five-field cron expression (minute hour day month weekday); ValueError otherwise."""
    from cronsim import CronSim, CronSimError

    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(f"cron {cron!r} must have 5 fields (minute hour day-of-month month day-of-week), "
                         f"not {len(fields)}; e.g. \"0 2 * * *\" is 02:00 every day")  # fmt: skip
    try:
        CronSim(" ".join(fields), datetime.now(UTC))
    except CronSimError as exc:
        raise ValueError(f"cron {cron!r} is not a valid cron expression: {exc}") from None
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:  # what Prefect's scheduler reads it with (croniter) must accept it too
        CronSchedule(cron=" ".join(fields))
    except ValidationError:
        raise ValueError(f"cron {cron!r} is not a cron expression Prefect's scheduler accepts") from None
    return " ".join(fields)


def check_timezone(timezone: str) -> str:
    """``timezone`` if it is an IANA name (UTC, Europe/Paris); ValueError otherwise."""
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        ZoneInfo(timezone)
        CronSchedule(cron="0 0 * * *", timezone=timezone)  # Prefect's scheduler knows it too
    except (ZoneInfoNotFoundError, ValueError, ValidationError):
        raise ValueError(f"timezone {timezone!r} is not an IANA time zone name (e.g. UTC, Europe/Paris)") from None
    return timezone


class ScheduleEntry(BaseModel):
    """One entry of a spec's ``schedules:``: train some families, or score with one model."""

    model_config = ConfigDict(extra="forbid")

    cron: str = Field(description="Five fields: minute hour day-of-month month day-of-week")
    timezone: str = "UTC"
    families: list[str] | None = Field(None, min_length=1, description="Families to retrain, or [all]")
    score: str | None = Field(None, pattern=MODEL_REF, description="family@alias or family:version")
    promote: bool = Field(False, description="Training only: compete for champion through the gate")
    active: bool = Field(True, description="false: paused (in Prefect too)")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        return check_cron(value)

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        return check_timezone(value)

    @model_validator(mode="after")
    def _one_job(self) -> ScheduleEntry:
        if (self.families is None) == (self.score is None):
            raise ValueError("a schedule has either families: [...] (retrain) or score: family@alias (score)")
        if self.score is not None and self.promote:
            raise ValueError("promote applies to training; a score schedule has no champion gate")
        if self.families is not None:
            names = [name.strip().lower().replace("_", "-") for name in self.families]
            if len(set(names)) != len(names):
                raise ValueError(f"families lists a family twice: {self.families}")
            self.families = names
        return self


@dataclass(frozen=True)
class Schedule:
    """One Prefect schedule of one dataset: a job (a family, ``all`` or ``score``) at a cron time."""

    dataset: str
    job: str
    cron: str
    timezone: str = "UTC"
    promote: bool = False
    model: str | None = None  # what a score schedule scores with
    active: bool = True

    @property
    def kind(self) -> Kind:
        return "score" if self.job == SCORE else "train"

    @property
    def id(self) -> str:
        """Stable across restarts and hosts: the dataset, the job and a digest of its time (and model)."""
        when = f"{self.cron}|{self.timezone}|{self.model or ''}"
        return f"{self.dataset}.{self.job}.{hashlib.sha256(when.encode()).hexdigest()[:8]}"

    def parameters(self) -> dict[str, Any]:
        """The deployment's parameters for this schedule's runs (Prefect's per-schedule parameters)."""
        by = f"schedule:{self.id}"
        if self.kind == "score":
            return {"params": {"model": self.model, "dataset": self.dataset, "requested_by": by}}
        return {"params": {"dataset": self.dataset, "promote": self.promote, "trained_by": by,
                           "notes": f"scheduled: {self.cron} ({self.timezone})"}}  # fmt: skip

    def next_runs(self, count: int = 1, after: datetime | None = None) -> list[datetime]:
        """The next ``count`` times it fires (in its time zone)."""
        from cronsim import CronSim

        start = (after or datetime.now(UTC)).astimezone(ZoneInfo(self.timezone))
        times = iter(CronSim(self.cron, start))
        return [next(times) for _ in range(count)]


def flatten(dataset: str, entries: Iterable[ScheduleEntry]) -> list[Schedule]:
    """One ``Schedule`` per family of each entry; the same dataset, job and time twice is one (the later wins)."""
    found: dict[str, Schedule] = {}
    for entry in entries:
        common = {"dataset": dataset, "cron": entry.cron, "timezone": entry.timezone, "active": entry.active}
        jobs = [(SCORE, entry.score)] if entry.score is not None else [(f, None) for f in entry.families or []]
        for job, model in jobs:
            schedule = Schedule(job=job, model=model, promote=entry.promote, **common)  # type: ignore[arg-type]
            found.pop(schedule.id, None)
            found[schedule.id] = schedule
    return list(found.values())


def entries_of(schedules: Iterable[Schedule]) -> list[ScheduleEntry]:
    """The file form: training schedules sharing cron, timezone, promote and active become one entry."""
    entries: dict[tuple[Any, ...], ScheduleEntry] = {}
    for s in schedules:
        if s.kind == "score":
            entries[("score", s.id)] = ScheduleEntry(cron=s.cron, timezone=s.timezone, score=s.model, active=s.active)
            continue
        key = ("train", s.cron, s.timezone, s.promote, s.active)
        if key in entries:
            entries[key].families.append(s.job)  # type: ignore[union-attr]
        else:
            entries[key] = ScheduleEntry(cron=s.cron, timezone=s.timezone, families=[s.job], promote=s.promote,
                                         active=s.active)  # fmt: skip
    return list(entries.values())


def dump_block(entries: list[ScheduleEntry]) -> str:
    """``schedules:`` with one flow-style line per entry, defaults left out; "" when there are none."""
    if not entries:
        return ""
    lines = [f"{KEY}:"]
    for entry in entries:
        fields = {"cron": entry.cron, **entry.model_dump(exclude_defaults=True, exclude={"cron"})}
        lines.append("  - {" + ", ".join(f"{key}: {json.dumps(value)}" for key, value in fields.items()) + "}")
    return "\n".join(lines) + "\n"


def _block_lines(text: str) -> tuple[int, int] | None:
    """The 0-based [start, end) line range of the top-level ``schedules:`` block of a spec's YAML text."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    if not isinstance(node, yaml.MappingNode):
        return None
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == KEY:
            # A block sequence's own end mark runs past the comments that follow it: end at its last entry.
            last = value.value[-1] if isinstance(value, yaml.SequenceNode) and value.value else value
            end = last.end_mark
            # A block ends where the next key starts (column 0 of its line); a flow value ends within its line.
            return key.start_mark.line, end.line + (1 if end.column > 0 else 0)
    return None


def without_schedules(text: str) -> str:
    """A spec's text without its ``schedules:`` block: what its sha256 is of."""
    span = _block_lines(text)
    if span is None:
        return text
    lines = text.splitlines(keepends=True)
    return "".join(lines[: span[0]] + lines[span[1] :])


def with_schedules(text: str, schedules: Iterable[Schedule]) -> str:
    """A spec's text with its ``schedules:`` block replaced (in place, or appended at the end)."""
    block = dump_block(entries_of(schedules))
    span = _block_lines(text)
    lines = text.splitlines(keepends=True)
    if span is None:
        head = "".join(lines)
        return head + ("" if not head or head.endswith("\n") else "\n") + block
    return "".join(lines[: span[0]]) + block + "".join(lines[span[1] :])


def write_spec_schedules(path: Path, change: Any) -> list[Schedule]:
    """Rewrite the spec file ``path`` with ``change(current schedules) -> new schedules``, under a lock (the
    API and the command line may write at once) and atomically (a reader sees the old file or the new one)."""
    from filelock import FileLock

    from trainyard.datasets.spec import parse

    with FileLock(path.parent / f".{path.name}.lock", timeout=30):
        text = path.read_text()
        current = list(parse(text, source=str(path)).schedules)
        updated = list(change(current))
        new_text = with_schedules(text, updated)
        parse(new_text, source=str(path))  # what is written parses back
        if new_text != text:
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            try:
                with os.fdopen(handle, "w") as out:
                    out.write(new_text)
                os.chmod(temporary, path.stat().st_mode & 0o777)
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        return updated


def upserted(current: list[Schedule], schedule: Schedule) -> list[Schedule]:
    """``current`` with ``schedule`` in place of the one of the same id (or added at the end)."""
    if any(s.id == schedule.id for s in current):
        return [schedule if s.id == schedule.id else s for s in current]
    return [*current, schedule]


def with_active(current: list[Schedule], schedule_id: str, active: bool) -> list[Schedule]:
    return [replace(s, active=active) if s.id == schedule_id else s for s in current]


def check_job(schedule: Schedule, task: str) -> None:
    """ScheduleError unless the schedule's job runs on a ``task`` table: a known family that trains it (or
    ``all``), or, for scoring, a reference whose family does; the message names the families that would."""
    from trainyard.families import UnknownFamily, families, get_family

    able = [name for name, family in families().items() if task in family.tasks]
    name = schedule.job if schedule.kind == "train" else str(schedule.model).split("@")[0].split(":")[0]
    if name == ALL and schedule.kind == "train":
        return
    field = "families" if schedule.kind == "train" else "score"
    alternatives = ", ".join([*able, ALL] if schedule.kind == "train" else able)
    try:
        family = get_family(name)
    except UnknownFamily:
        raise ScheduleError(f"unknown model family {name!r}: one of {alternatives} trains the {task} table "
                            f"{schedule.dataset!r}", field) from None  # fmt: skip
    if task not in family.tasks:
        raise ScheduleError(f"{family.name} does not train {task} models, and {schedule.dataset!r} is a {task} "
                            f"table; families that train it: {alternatives}", field)  # fmt: skip


def dataset_of(schedule_id: str) -> str:
    """The dataset an id belongs to; ScheduleError for an id of another form."""
    if not re.fullmatch(ID_PATTERN, schedule_id):
        raise ScheduleError(f"{schedule_id!r} is not a schedule id (<dataset>.<job>.<8 hex digits>, as "
                            "GET /schedules and `trainyard schedules list` show them)")  # fmt: skip
    return schedule_id.split(".", 1)[0]
