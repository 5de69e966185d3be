"""Split step: a stratified, seeded train/test split, staged as the row positions of each side."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from prefect import get_run_logger, task

from tasks.cache_keys import split_key
from tasks.stage import read_stage, stage_path, take_staged, write_stage
from trainyard.datasets import get_spec
from trainyard.errors import DatasetError
from trainyard.refs import SplitRef, ValidatedDataset

if TYPE_CHECKING:
    import pandas as pd

POSITION = "position"


@task(name="split-dataset", cache_key_fn=split_key, persist_result=True, result_serializer="json")
def split_dataset(validated: ValidatedDataset, test_split: float, random_state: int) -> SplitRef:
    """Stratify on a class target so both sides keep the class balance (a regression target: a plain shuffle).

    Only the target is read and only positions are staged: copying both sides of a 1M-row table
    cost ~1 s, and fit/evaluate read the validated table anyway.
    """
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import train_test_split

    dataset = validated.dataset
    spec = get_spec(dataset.kind)
    target = read_stage(validated.staged, columns=[spec.target])[spec.target]
    rare = {k: v for k, v in validated.class_counts.items() if v < 2}
    if rare:
        raise DatasetError(f"classes {sorted(rare)} of {spec.target!r} have fewer than 2 rows: cannot stratify")
    n_test = round(len(target) * test_split)
    least = max(len(validated.class_counts), 2)  # every class on both sides; a regressor: two rows each
    if n_test < least or len(target) - n_test < least:
        every_class = ", every class on both" if validated.class_counts else ""
        raise DatasetError(f"{len(target)} rows with test_split={test_split} leave too few rows on one side "
                           f"(at least {least} each{every_class})")  # fmt: skip
    # The same positions train_test_split(frame, ...) would take: it depends on n, the target and the seed.
    # A regression target is not stratified (continuous values have no classes to balance).
    train, test = train_test_split(np.arange(len(target)), test_size=test_split, random_state=random_state,
                                   stratify=None if spec.is_regression else target)  # fmt: skip
    tag = f"split-{test_split:g}-{random_state}"
    get_run_logger().info("split %d rows: %d train / %d test (seed %d)", len(target), len(train), len(test),
                          random_state)  # fmt: skip
    return SplitRef(
        dataset=dataset,
        table=validated.staged,
        train=write_stage(pd.DataFrame({POSITION: train}), stage_path(dataset.sha256, f"{tag}-train")),
        test=write_stage(pd.DataFrame({POSITION: test}), stage_path(dataset.sha256, f"{tag}-test")),
        train_rows=len(train),
        test_rows=len(test),
        test_split=test_split,
        random_state=random_state,
        features=spec.feature_columns,
        target=spec.target,
    )


def read_side(split: SplitRef, side: Literal["train", "test"]) -> pd.DataFrame:
    """One side of the split: its rows of the validated table, in split order, features and target.

    The rows are taken in Arrow before conversion, so only that side becomes a DataFrame (2x-5x
    faster than converting the whole table and taking in pandas). The validated table has the
    RangeIndex of the file it was read from, so each row's label is its position.
    """
    import pandas as pd

    positions = read_stage(split.train if side == "train" else split.test)[POSITION].to_numpy()
    frame = take_staged(split.table, positions, columns=[*split.features, split.target])
    frame.index = pd.Index(positions)
    return frame
