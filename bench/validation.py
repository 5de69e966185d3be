"""pandera on every row: the churn schema as the validate step runs it, against the same schema with
the 0/1 flag columns checked by ``isin`` (how trainyard checked them before), in one run.

    .venv/bin/python bench/validation.py --rows 1000000 --repeats 5
    .venv/bin/python bench/validation.py --rows 2000 --repeats 1   # smoke (CI)

Each repeat validates a fresh copy of the table (in place, lazily, as ``tasks/validate.py`` does);
the copy is not timed. Both variants alternate, so drift hits both alike.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import pandera.pandas as pa

    from trainyard.datagen import churn
    from trainyard.datasets import get_spec
    from trainyard.datasets.schema import schema_for

    CHURN = get_spec("churn")

    frame = churn(rows=args.rows, seed=7)
    ours = schema_for(CHURN)
    isin = ours.update_columns({name: {"checks": [pa.Check.isin([0, 1])]} for name in CHURN.flags})
    variants = {"ours (flags in_range 0..1)": ours, "flags isin([0, 1])": isin}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for repeat in range(args.repeats + 1):  # the first round only warms pandera's backends up
        order = list(variants) if repeat % 2 == 0 else list(reversed(variants))
        for name in order:
            copy = frame.copy()
            started = time.perf_counter()
            variants[name].validate(copy, lazy=True, inplace=True)
            if repeat:
                times[name].append(time.perf_counter() - started)
    reference = median(times["flags isin([0, 1])"])
    rows = [[name, args.rows, len(frame.columns), min(t), median(t), median(t) / reference]
            for name, t in times.items()]  # fmt: skip
    print(table(["schema", "rows", "columns", "best s", "median s", "ratio to isin"], rows))


if __name__ == "__main__":
    main()
