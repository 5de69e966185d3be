"""Split step: a stratified, seeded train/test split, staged as two Parquet files."""

from __future__ import annotations

from prefect import get_run_logger, task

from tasks.cache_keys import split_key
from tasks.stage import read_stage, stage_path, write_stage
from trainyard.datasets import SPECS
from trainyard.errors import DatasetError
from trainyard.refs import SplitRef, ValidatedDataset


@task(name="split-dataset", cache_key_fn=split_key, persist_result=True, result_serializer="json")
def split_dataset(validated: ValidatedDataset, test_split: float, random_state: int) -> SplitRef:
    """Stratify on the target so both sides keep the class balance."""
    from sklearn.model_selection import train_test_split

    dataset = validated.dataset
    spec = SPECS[dataset.kind]
    frame = read_stage(validated.staged)
    rare = {k: v for k, v in validated.class_counts.items() if v < 2}
    if rare:
        raise DatasetError(f"classes {sorted(rare)} of {spec.target!r} have fewer than 2 rows: cannot stratify")
    n_test = round(len(frame) * test_split)
    if n_test < len(validated.class_counts) or len(frame) - n_test < len(validated.class_counts):
        raise DatasetError(
            f"{len(frame)} rows with test_split={test_split} leave too few rows to hold every class on both sides"
        )
    train, test = train_test_split(frame, test_size=test_split, random_state=random_state, stratify=frame[spec.target])
    tag = f"split-{test_split:g}-{random_state}"
    get_run_logger().info("split %d rows: %d train / %d test (seed %d)", len(frame), len(train), len(test),
                          random_state)  # fmt: skip
    return SplitRef(
        dataset=dataset,
        train=write_stage(train, stage_path(dataset.sha256, f"{tag}-train")),
        test=write_stage(test, stage_path(dataset.sha256, f"{tag}-test")),
        train_rows=len(train),
        test_rows=len(test),
        test_split=test_split,
        random_state=random_state,
        features=spec.feature_columns,
        target=spec.target,
    )
