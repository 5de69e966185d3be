"""Locating, hashing and reading dataset files, confined to the allowed data roots."""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from trainyard.errors import DatasetError, DatasetNotAllowedError

if TYPE_CHECKING:
    import pandas as pd

SUPPORTED_SUFFIXES = (".csv", ".parquet")


def resolve_dataset_path(requested: str, roots: Sequence[Path], max_bytes: int) -> Path:
    """Resolve ``requested`` to a real file inside one of ``roots``.

    Relative paths are tried against each root in order. Symlinks are resolved before the
    containment check, so a link pointing outside the roots is refused like ``../`` is.
    """
    if not requested or "\x00" in requested:
        raise DatasetError("dataset path is empty or contains a NUL byte")
    real_roots = [Path(root).resolve() for root in roots]
    raw = Path(requested)
    candidates = [raw] if raw.is_absolute() else [root / raw for root in real_roots]
    for candidate in candidates:
        try:
            resolved = candidate.resolve()
            if not any(resolved.is_relative_to(root) for root in real_roots):
                raise DatasetNotAllowedError(
                    f"dataset path {requested!r} is outside the allowed data roots "
                    f"({', '.join(str(r) for r in real_roots)})"
                )
            if resolved.is_file():
                return _check_file(resolved, requested, max_bytes)
        except OSError as exc:  # a name too long, a symlink loop, a root we may not read
            raise DatasetError(f"dataset path {requested[:200]!r} cannot be opened: {exc.strerror}") from exc
    raise DatasetError(f"dataset {requested!r} not found in the data roots ({', '.join(map(str, real_roots))})")


def _check_file(path: Path, requested: str, max_bytes: int) -> Path:
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise DatasetError(f"dataset {requested!r} must be a .csv or .parquet file, not {path.suffix!r}")
    size = path.stat().st_size
    if size == 0:
        raise DatasetError(f"dataset {requested!r} is an empty file")
    if size > max_bytes:
        raise DatasetError(f"dataset {requested!r} is {size} bytes, over the {max_bytes}-byte limit")
    return path


def file_sha256(path: Path) -> str:
    """sha256 of a file, memoised per (path, size, mtime) so a run hashes each file once. A hash that
    another thread is computing already (``hash_in_background``) is waited for, not started again."""
    return _hash_of(path).result()


def hash_in_background(path: Path) -> None:
    """Start hashing ``path`` in a daemon thread, so that a later ``file_sha256`` finds it done (hashlib
    releases the GIL: the hash takes the other core). A file that cannot be read is left to that call."""
    with contextlib.suppress(OSError):
        _hash_of(path, wait=False)


def _hash_of(path: Path, wait: bool = True) -> Future[str]:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _HASHES_LOCK:
        future = _HASHES.pop(key, None)
        started = future is None
        if started:
            future = Future()
        _HASHES[key] = future  # the most recently used last
        while len(_HASHES) > _HASHES_KEPT:
            _HASHES.pop(next(iter(_HASHES)))
    if started:
        if wait:
            _compute(key, future)
        else:
            threading.Thread(target=_compute, args=(key, future), name="dataset-sha256", daemon=True).start()
    return future


def _compute(key: tuple[str, int, int], future: Future[str]) -> None:
    try:
        with open(key[0], "rb") as handle:
            future.set_result(hashlib.file_digest(handle, hashlib.sha256).hexdigest())
    except BaseException as exc:
        with _HASHES_LOCK:  # a failure is not memoised: the next call tries again
            if _HASHES.get(key) is future:
                del _HASHES[key]
        future.set_exception(exc)


# The process's file hashes, the most recently used last; one in progress is shared, not started twice.
_HASHES_KEPT = 64
_HASHES: OrderedDict[tuple[str, int, int], Future[str]] = OrderedDict()
_HASHES_LOCK = threading.Lock()


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV (UTF-8) or Parquet file; every failure becomes a DatasetError naming the file."""
    import pandas as pd

    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return _read_csv(path)
    except pd.errors.EmptyDataError as exc:
        raise DatasetError(f"dataset {path.name!r} has no header and no rows") from exc
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"dataset {path.name!r} is not valid UTF-8 text (byte {exc.start}): re-save it as UTF-8"
        ) from exc
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise DatasetError(f"dataset {path.name!r} could not be parsed: {exc}") from exc


def read_columns(path: Path) -> list[str]:
    """A table's column names (its header, or its Parquet schema), without reading its rows; [] when
    the file cannot be read (reading it in full then reports why)."""
    import pandas as pd
    import pyarrow.parquet as pq

    try:
        if path.suffix.lower() == ".parquet":
            return list(pq.read_schema(path).names)
        return [str(name) for name in pd.read_csv(path, encoding="utf-8", nrows=0).columns]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError):
        return []


def _read_csv(path: Path) -> pd.DataFrame:
    """Parse in chunks (pandas' default, 2x faster at 100k rows than one pass); a file whose column
    types differ between chunks is parsed again in one pass, so a column is never a mix of types."""
    import warnings

    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.DtypeWarning)
        try:
            return pd.read_csv(path, encoding="utf-8")
        except pd.errors.DtypeWarning:
            pass
    return pd.read_csv(path, encoding="utf-8", low_memory=False)
