"""The in-memory handoff of staged tables, and the writer that puts their files on disk behind a run."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks import stage


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"a": np.arange(10), "b": np.linspace(0, 1, 10), "c": list("abcdefghij")})


def test_steps_read_the_table_from_memory_and_its_file_is_written_behind(tmp_path: Path, frame) -> None:
    path = tmp_path / "sha" / "raw.arrow"
    with stage.handoff():
        staged = stage.write_stage(frame, str(path))
        pd.testing.assert_frame_equal(stage.read_stage(staged), frame)
        pd.testing.assert_frame_equal(stage.read_stage(staged, columns=["b"]), frame[["b"]])
        taken = stage.take_staged(staged, np.array([7, 2]), ["a", "c"])
        assert taken["a"].tolist() == [7, 2] and taken["c"].tolist() == ["h", "c"]
    # After the block: the file, written by the writer, and read back as any retry would read it.
    assert path.is_file()
    pd.testing.assert_frame_equal(stage.read_stage(str(path)), frame)
    taken = stage.take_staged(str(path), np.array([7, 2]), ["a", "c"])
    assert taken["a"].tolist() == [7, 2] and taken["c"].tolist() == ["h", "c"]


def test_a_reader_changing_its_frame_leaves_the_staged_table_as_it_was(tmp_path: Path, frame) -> None:
    with stage.handoff():
        staged = stage.write_stage(frame, str(tmp_path / "raw.arrow"))
        mine = stage.read_stage(staged)
        mine["a"] = mine["a"] * 100  # what validation's in-place coercion does to its own read
        mine.loc[0, "c"] = "changed"
        pd.testing.assert_frame_equal(stage.read_stage(staged), frame)
    pd.testing.assert_frame_equal(stage.read_stage(staged), frame)


def test_a_failed_write_is_reported_not_raised_and_the_table_is_not_staged(tmp_path: Path, frame) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the stage directory should be")
    path = blocked / "raw.arrow"
    with stage.handoff() as current:
        staged = stage.write_stage(frame, str(path))
        assert stage.is_staged(staged)  # in memory while the run lasts
        failed = current.drain()
    assert failed == [str(path)]
    assert not stage.is_staged(staged)


def test_an_existing_file_is_not_written_again(tmp_path: Path, frame) -> None:
    path = tmp_path / "raw.arrow"
    stage.write_stage(frame, str(path))  # outside a handoff: written at once
    before = path.stat().st_mtime_ns
    with stage.handoff():
        stage.write_stage(frame, str(path))
    assert path.stat().st_mtime_ns == before


def test_a_released_table_leaves_memory_and_keeps_its_file(tmp_path: Path, frame) -> None:
    with stage.handoff() as current:
        staged = stage.write_stage(frame, str(tmp_path / "raw.arrow"))
        stage.release_stage(staged)
        assert current.get(staged) is None
    assert Path(staged).is_file()
    pd.testing.assert_frame_equal(stage.read_stage(staged), frame)


def test_no_staged_file_is_written_while_the_fit_holds_the_writer(tmp_path: Path, frame) -> None:
    path = tmp_path / "raw.arrow"
    with stage.handoff() as current:
        with stage.writes_paused():
            staged = stage.write_stage(frame, str(path))
            time.sleep(0.3)  # 10 rows: written in milliseconds when the writer is not paused
            assert not path.exists()
            pd.testing.assert_frame_equal(stage.read_stage(staged), frame)  # the steps read it from memory
        assert current.drain() == []
    pd.testing.assert_frame_equal(stage.read_stage(str(path)), frame)


def test_a_paused_run_that_ends_still_writes_its_files(tmp_path: Path, frame) -> None:
    path = tmp_path / "raw.arrow"
    with stage.handoff() as current, stage.writes_paused():
        stage.write_stage(frame, str(path))
        assert current.drain() == []  # the run's end: what is queued is written, paused or not
        assert path.is_file()


def test_a_write_under_way_stops_at_the_next_batch_and_the_file_is_feathers(
    tmp_path: Path, frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stage, "BATCH_ROWS", 3)
    side = frame.iloc[[7, 2, 9, 0, 4]]  # a split side: its index holds the source rows
    path = tmp_path / "side.arrow"
    asked, go_on = [], threading.Event()

    def may_write() -> None:
        asked.append(time.monotonic())
        if len(asked) == 2:  # paused after the first batch
            go_on.wait(5)

    writer = threading.Thread(target=stage._write_file, args=(side, str(path), may_write))
    writer.start()
    time.sleep(0.3)
    assert len(asked) == 2 and not path.exists()  # held before its second (last) batch
    go_on.set()
    writer.join(5)
    assert len(asked) == 2  # one call per 3-row batch
    written = stage.read_stage(str(path))
    pd.testing.assert_frame_equal(written, side)
    from pyarrow import feather

    assert feather.read_table(str(path)).num_rows == 5


def test_a_stopped_run_leaves_the_files_the_fit_deferred_and_a_failed_one_writes_them(
    tmp_path: Path, frame: pd.DataFrame
) -> None:
    from trainyard.cancellation import TrainingStopped

    raw, side = tmp_path / "stopped" / "raw.arrow", tmp_path / "stopped" / "side.arrow"
    started = time.monotonic()
    with pytest.raises(TrainingStopped), stage.handoff(), stage.writes_paused():
        stage.write_stage(frame, str(raw))  # the writer holds it, paused before its first batch
        stage.write_stage(frame, str(side))  # queued behind it
        raise TrainingStopped("cancelled during the fit")
    assert time.monotonic() - started < 5
    assert not raw.exists() and not side.exists()
    assert not raw.parent.exists() or list(raw.parent.iterdir()) == []  # no temp file left either

    failed = tmp_path / "failed" / "raw.arrow"
    with pytest.raises(ValueError), stage.handoff(), stage.writes_paused():
        stage.write_stage(frame, str(failed))
        raise ValueError("the fit failed")
    pd.testing.assert_frame_equal(stage.read_stage(str(failed)), frame)  # a retry skips the load
