"""pandera schemas, one per dataset spec file, built from it (the spec is the schema's only source), and
the report of a table that fails one: each column and check, with the rows and values at fault."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import pandera.pandas as pa

from trainyard.datasets.spec import DatasetSpec

if TYPE_CHECKING:
    import pandas as pd

MAX_ROWS_SHOWN = 5


def _range(low: float | None, high: float | None) -> list[pa.Check]:
    return [*([pa.Check.ge(low)] if low is not None else []), *([pa.Check.le(high)] if high is not None else [])]


def _whole_numbers(values: pd.Series) -> pd.Series:
    """A whole-number column as it was read, but each value with a fractional part turned into text that
    names it, so the coercion to int refuses that row (pandas' own cast would truncate 2.5 to 2)."""
    import pandas as pd

    if values.dtype.kind in "iub":
        return values  # integers already: nothing to look at, nothing copied
    numbers = pd.to_numeric(values, errors="coerce") if values.dtype.kind == "O" else values
    fractional = numbers.notna() & (numbers % 1 != 0)
    if not fractional.any():
        return values
    marked = values.astype(object)
    marked[fractional] = [f"{value} (not a whole number)" for value in values[fractional]]
    return marked


WHOLE = pa.Parser(_whole_numbers)


def _schema(spec: DatasetSpec, with_target: bool) -> pa.DataFrameSchema:
    """Strict columns, coerced types (a whole-number column refuses 2.5), range and level checks;
    identifiers of any type, unique. Without the target (rows to score), a target column that is present
    is still checked, nulls allowed."""
    columns: dict[str, pa.Column] = {name: pa.Column(None, unique=True) for name in spec.id_columns}
    for name in spec.categorical:
        columns[name] = pa.Column(str, pa.Check.str_length(1, 200), nullable=name in spec.nullable_categories)
    for col in spec.numeric:
        dtype = int if col.integer and not col.nullable else float
        parsers = WHOLE if col.integer else None
        columns[col.name] = pa.Column(dtype, _range(col.min, col.max), nullable=col.nullable, parsers=parsers)
    for name in spec.flags:
        # On integers, the same set as isin([0, 1]) at a fifth of the cost (two comparisons, no hash lookup).
        columns[name] = pa.Column(int, pa.Check.in_range(0, 1), parsers=WHOLE)
    if spec.is_regression:
        finite = pa.Check.in_range(float("-inf"), float("inf"), include_min=False, include_max=False)
        columns[spec.target] = pa.Column(float, finite, required=with_target, nullable=not with_target)
    else:
        # Integer classes of rows to score may come with gaps (float then, as an int column cannot hold a null).
        target_type = str if isinstance(spec.target_values[0], str) else int if with_target else float
        columns[spec.target] = pa.Column(target_type, pa.Check.isin(list(spec.target_values)), required=with_target,
                                         nullable=not with_target)
    return pa.DataFrameSchema(columns, strict=True, coerce=True, ordered=False, name=spec.kind)


@lru_cache(maxsize=64)
def schema_for(spec: DatasetSpec, with_target: bool = True) -> pa.DataFrameSchema:
    """The spec's schema, built once per spec (specs are frozen: an edited file is another spec);
    ``with_target=False``: the target column may be absent (rows to score)."""
    return _schema(spec, with_target)


def describe_failures(cases: pd.DataFrame) -> list[str]:
    """One line per (column, check): what failed, at which rows, with which values."""
    lines: list[str] = []
    coerce_failed = set(cases.loc[cases["check"].astype(str).str.startswith("coerce_dtype"), "column"])
    for (column, check), group in cases.groupby(["column", "check"], sort=False, dropna=False):
        check = str(check)
        if check == "column_in_dataframe":
            lines.append(f"missing column {group['failure_case'].iloc[0]!r}")
        elif check == "column_in_schema":
            lines.append(f"unexpected column {group['failure_case'].iloc[0]!r} (not in the schema)")
        elif column in coerce_failed and not check.startswith("coerce_dtype"):
            continue  # the type error already explains these rows
        else:
            rows = group["index"].dropna()
            shown = ", ".join(
                f"{int(i)} ({v!r})" for i, v in zip(rows[:MAX_ROWS_SHOWN], group["failure_case"], strict=False)
            )
            more = f" and {len(rows) - MAX_ROWS_SHOWN} more" if len(rows) > MAX_ROWS_SHOWN else ""
            where = f" at rows {shown}{more}" if len(rows) else ""
            lines.append(f"column {column!r}: check {check} failed{where}")
    return lines
