"""skops files written straight to disk: the same archive skops writes, never held whole in memory."""

import io
import tracemalloc
from pathlib import Path
from zipfile import ZipFile

import numpy as np
import skops.io as sio
from sklearn.ensemble import RandomForestClassifier

from trainyard import skops_files


def _forest(trees: int, rows: int = 2000) -> RandomForestClassifier:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(rows, 8)), rng.integers(0, 2, rows)
    return RandomForestClassifier(n_estimators=trees, random_state=0).fit(X, y)


def test_the_mirrored_skops_function_is_the_one_installed() -> None:
    # dump() mirrors skops.io._persist._save: a skops release that changes it must be re-read first.
    assert skops_files.skops_save_source_sha256() == skops_files.SAVE_SOURCE_SHA256


def test_the_file_holds_what_skops_dumps_would_and_loads_back(tmp_path: Path) -> None:
    forest = _forest(5)
    skops_files.dump(forest, tmp_path / "model.skops")
    with ZipFile(tmp_path / "model.skops") as ours, ZipFile(io.BytesIO(sio.dumps(forest))) as theirs:
        # Array entries are named by object ids, new in each dump: their contents are compared, in order.
        assert len(ours.namelist()) == len(theirs.namelist())
        assert [ours.read(n) for n in ours.namelist() if n != "schema.json"] == \
               [theirs.read(n) for n in theirs.namelist() if n != "schema.json"]  # fmt: skip
    loaded = sio.load(tmp_path / "model.skops", trusted=sio.get_untrusted_types(file=tmp_path / "model.skops"))
    X = np.random.default_rng(1).normal(size=(50, 8))
    np.testing.assert_array_equal(loaded.predict_proba(X), forest.predict_proba(X))


def test_a_large_model_is_never_whole_in_memory(tmp_path: Path) -> None:
    forest = _forest(10, rows=20_000)  # deep trees: their arrays, not skops' JSON schema, make the file
    tracemalloc.start()
    try:
        skops_files.dump(forest, tmp_path / "model.skops")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = (tmp_path / "model.skops").stat().st_size
    assert size > 5_000_000
    # skops.io.dump peaks at 1.6x the file's size (the whole zip in a BytesIO, grown as it is written).
    assert peak < size / 2, f"peak {peak} bytes for a {size}-byte file"
