"""A spec inferred from a table (``trainyard datasets add``): pandera's ``infer_schema`` gives each
column's type, nullability and observed range; trainyard adds what pandera has no notion of (the
target and its classes, id-like columns left out of the features, 0/1 flags, category columns) and
widens the observed ranges by a margin, so the next month's table is not refused for a new maximum.

The task is inferred from the target: a numeric target with many distinct values (more than
``MAX_CLASSES`` and 5 % of the rows, or any non-whole value) is regression; anything else is
classification. ``task=`` overrides it."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from trainyard.datasets.spec import ColumnSpec, SpecFile
from trainyard.errors import DatasetError

if TYPE_CHECKING:
    import pandas as pd

ID_NAME = re.compile(r"(^|_)(id|uuid|key)$|^customer$", re.IGNORECASE)
MAX_CLASSES = 20  # a numeric target with more distinct values than this (and 5 % of the rows) is continuous
MAX_TARGET_CLASSES = 1000  # a classification target with more classes is refused (a typo'd target column)


def _continuous(labels: pd.Series, distinct: int) -> bool:
    """A numeric target that takes many values, or any non-whole one: a quantity, not a class."""
    if labels.dtype.kind not in "iuf":
        return False
    many = distinct > MAX_CLASSES and distinct > 0.05 * len(labels)
    return many or (labels.dtype.kind == "f" and not (labels % 1 == 0).all())


def infer_spec(frame: pd.DataFrame, name: str, file: str, target: str, margin: float = 0.1,
               task: str | None = None) -> SpecFile:  # fmt: skip
    """The spec of ``frame`` (read from ``file``) with ``target`` as the label; DatasetError when the
    table cannot be one (no such target, one class or a constant value, nothing to learn from)."""
    import pandera.pandas as pa

    if target not in frame.columns:
        names = ", ".join(map(str, frame.columns))
        raise DatasetError(f"target column {target!r} is not in the table; its columns: {names}")
    if frame.empty:
        raise DatasetError(f"{file} has a header but 0 rows")
    labels = frame[target].dropna()
    classes = sorted(labels.unique().tolist(), key=str)
    if len(classes) < 2:
        raise DatasetError(f"target column {target!r} has a single value ({classes[0] if classes else 'none'!r}): "
                           "a model needs at least two classes, or a varying value")  # fmt: skip
    task = task or ("regression" if _continuous(labels, len(classes)) else "classification")
    if task == "regression" and labels.dtype.kind not in "iuf":
        raise DatasetError(f"target column {target!r} is not numeric ({labels.dtype}): a regression target is a number")
    if task == "classification" and len(classes) > MAX_TARGET_CLASSES:
        raise DatasetError(f"target column {target!r} has {len(classes)} distinct values: too many classes "
                           f"(at most {MAX_TARGET_CLASSES}); for a numeric target use --task regression")  # fmt: skip
    if labels.dtype.kind == "f" and all(float(c).is_integer() for c in classes):
        classes = [int(c) for c in classes]
    inferred = pa.infer_schema(frame.drop(columns=[target]))
    columns = {str(column): _column(frame[column], inferred.columns[column], margin) for column in inferred.columns}
    if all(column.type == "id" for column in columns.values()):
        raise DatasetError(f"{file}: every column but the target looks like an identifier; nothing to learn from")
    return SpecFile(name=name, file=file, task=task, target=target,  # type: ignore[arg-type]
                    classes=classes if task == "classification" else None, columns=columns)


def _column(values: pd.Series, inferred: Any, margin: float) -> ColumnSpec:
    kind = values.dtype.kind
    present = values.dropna()
    distinct = present.nunique()
    unique_per_row = distinct == len(values) and len(values) > 20
    if ID_NAME.search(str(values.name)) and (unique_per_row or kind in "OSU"):
        return ColumnSpec(type="id")
    if kind == "b" or (kind in "iu" and set(present.unique().tolist()) <= {0, 1} and not inferred.nullable):
        return ColumnSpec(type="flag")
    if kind in "iuf":
        stats = {key: value for check in inferred.checks for key, value in check.statistics.items()}
        low, high = _widened(stats.get("min_value"), stats.get("max_value"), margin)
        if kind in "iu":  # whole bounds, outward
            return ColumnSpec(type="int", min=math.floor(low) if low is not None else None,
                              max=math.ceil(high) if high is not None else None)  # fmt: skip
        return ColumnSpec(type="float", min=low, max=high, nullable=bool(inferred.nullable))
    return ColumnSpec(type="category", nullable=bool(inferred.nullable))


def _widened(low: float | None, high: float | None, margin: float) -> tuple[float | None, float | None]:
    """The observed range, widened by ``margin`` of its span on each side; a non-negative column stays so."""
    if low is None or high is None:
        return low, high
    span = (high - low) or abs(high) or 1.0
    wider_low = low - margin * span
    return (max(0.0, wider_low) if low >= 0 else wider_low), high + margin * span
