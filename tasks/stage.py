"""The stage store: content-addressed Parquet files that cached task results point at."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from trainyard.errors import DatasetError
from trainyard.settings import get_settings

if TYPE_CHECKING:
    import pandas as pd


def stage_path(dataset_sha256: str, name: str) -> Path:
    """Deterministic location of a staged table: the same inputs always map to the same file."""
    return get_settings().stage_dir / dataset_sha256 / f"{name}.parquet"


def write_stage(frame: pd.DataFrame, path: Path) -> str:
    """Write atomically (temp file + rename): concurrent runs may stage the same table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    frame.to_parquet(temp, index=True)
    os.replace(temp, path)
    return str(path)


def read_stage(path: str, columns: list[str] | None = None) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_parquet(path, columns=columns)
    except FileNotFoundError as exc:
        raise DatasetError(
            f"staged table {path} is gone while its cache record remains: delete "
            "artifacts/stage (it holds both) and run again"
        ) from exc
