"""Schedules in dataset specs: parsed with the line named, kept out of the spec's sha256, rewritten in place,
refused with the alternatives named; `trainyard schedules` writes the spec when no stack runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from typer.testing import CliRunner

from cli.main import app
from tests.fits import unseen_regression_table
from trainyard.datasets import SpecFileError, get_spec
from trainyard.datasets.infer import infer_spec
from trainyard.datasets.schedules import (
    ALL,
    Schedule,
    ScheduleEntry,
    ScheduleError,
    check_job,
    dataset_of,
    entries_of,
    flatten,
    with_schedules,
    without_schedules,
    write_spec_schedules,
)
from trainyard.datasets.spec import dump, parse
from trainyard.settings import get_settings

HEAD = """name: shifts
file: shifts.csv
target: needs_review
classes: ["no", "yes"]
columns:
  site: {type: category}
  hours: {type: float, min: 0.0, max: 24.0}
"""


def test_a_spec_declares_schedules_one_per_family_with_their_own_parameters() -> None:
    spec = parse(HEAD + 'schedules:\n  - {cron: "0 2 * * *", families: [lightgbm, random_forest], promote: true}\n'
                 '  - {cron: "30 4 * * *", score: "xgboost@champion", timezone: Europe/Paris, active: false}\n')
    trains, score = spec.schedules[:2], spec.schedules[2]
    assert [s.job for s in trains] == ["lightgbm", "random-forest"] and all(s.promote for s in trains)
    assert trains[0].id.startswith("shifts.lightgbm.") and trains[0].id != trains[1].id
    assert trains[0].parameters() == {"params": {"dataset": "shifts", "promote": True,
                                                 "trained_by": f"schedule:{trains[0].id}",
                                                 "notes": "scheduled: 0 2 * * * (UTC)"}}  # fmt: skip
    assert score.kind == "score" and not score.active and score.timezone == "Europe/Paris"
    assert score.parameters()["params"] == {"model": "xgboost@champion", "dataset": "shifts",
                                            "requested_by": f"schedule:{score.id}"}  # fmt: skip
    assert dataset_of(score.id) == "shifts"


def test_the_schedules_block_is_not_part_of_the_specs_sha256() -> None:
    plain = parse(HEAD)
    scheduled = parse(HEAD + 'schedules:\n  - {cron: "0 2 * * *", families: [all]}\n')
    assert scheduled.sha256 == plain.sha256 and scheduled.schedules and not plain.schedules
    assert without_schedules(HEAD + 'schedules:\n  - {cron: "0 2 * * *", families: [all]}\n') == HEAD
    # the shipped specs' schedules changed neither their sha256 nor, so, any model's lineage
    assert get_spec("future_skills").sha256 == "05be0ee6c3d5db838f602167cf8c183a326aeb91ea0882c63d7352c3b95f8aec"
    assert get_spec("churn").sha256 == "63a40f577c0e157925e63b76ffc71b010c16402fbf00ae4984aff8db942224bc"


@pytest.mark.parametrize(
    ("entry", "where", "says"),
    [
        ('{cron: "0 25 * * *", families: [all]}', "line 9, key schedules.0.cron", "Bad hour"),
        ('{cron: "0 2 * *", families: [all]}', "line 9, key schedules.0.cron", "must have 5 fields"),
        ('{cron: "0 2 * * 5L", families: [all]}', "schedules.0.cron", "not a cron expression Prefect's scheduler"),
        ('{cron: "0 2 * * *", families: [all], timezone: Mars/Olympus}', "schedules.0.timezone", "IANA"),
        ('{cron: "0 2 * * *"}', "schedules.0", "either families"),
        ('{cron: "0 2 * * *", score: "xgboost@champion", promote: true}', "schedules.0", "promote applies"),
        ('{cron: "0 2 * * *", families: [lightgbm, lightgbm]}', "schedules.0", "a family twice"),
        ('{cron: "0 2 * * *", families: [all], when: nightly}', "schedules.0.when", "Extra inputs"),
    ],
)
def test_a_bad_schedule_entry_is_refused_naming_its_line_and_key(entry: str, where: str, says: str) -> None:
    with pytest.raises(SpecFileError) as refused:
        parse(HEAD + f"schedules:\n  - {entry}\n", source="shifts.yaml")
    assert where in str(refused.value) and says in str(refused.value)


def test_the_same_table_job_and_time_twice_is_one_schedule() -> None:
    entries = [ScheduleEntry(cron="0 2 * * *", families=["lightgbm", "xgboost"]),
               ScheduleEntry(cron="0  2 * * *", families=["lightgbm"], promote=True)]  # fmt: skip
    found = flatten("shifts", entries)
    assert [(s.job, s.promote) for s in found] == [("xgboost", False), ("lightgbm", True)]  # the later wins


def test_training_schedules_of_one_time_share_an_entry_when_written() -> None:
    made = [Schedule("shifts", "lightgbm", "0 2 * * *"), Schedule("shifts", "xgboost", "0 2 * * *"),
            Schedule("shifts", "score", "0 5 * * *", model="xgboost@champion")]  # fmt: skip
    entries = entries_of(made)
    assert [e.families for e in entries] == [["lightgbm", "xgboost"], None] and entries[1].score == "xgboost@champion"
    text = with_schedules(HEAD, made)
    assert text.endswith('schedules:\n  - {cron: "0 2 * * *", families: ["lightgbm", "xgboost"]}\n'
                         '  - {cron: "0 5 * * *", score: "xgboost@champion"}\n')  # fmt: skip
    assert list(parse(text).schedules) == made


def test_rewriting_the_block_keeps_the_rest_of_the_file_as_the_user_wrote_it(tmp_path: Path) -> None:
    path = tmp_path / "shifts.yaml"
    hand = HEAD.replace("columns:", "# reviewed by HR, 2026-11\ncolumns:")
    path.write_text(hand + 'schedules:\n  - {cron: "0 2 * * *", families: [lightgbm]}\n# trailing note\n')
    added = Schedule("shifts", "xgboost", "0 3 * * *", promote=True)
    write_spec_schedules(path, lambda now: [*now, added])
    text = path.read_text()
    assert text.startswith(hand) and text.endswith("# trailing note\n") and parse(text).schedules[-1] == added
    write_spec_schedules(path, lambda now: [])
    assert path.read_text() == hand + "# trailing note\n"
    assert not list(tmp_path.glob(".shifts.yaml.*[!k]"))  # no temporary file left (the lock file may stay)


def test_a_rewrite_that_would_not_be_a_valid_spec_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shifts.yaml"
    path.write_text(HEAD)
    with pytest.raises(ValueError, match="must have 5 fields"):
        write_spec_schedules(path, lambda now: [Schedule("shifts", "lightgbm", "every night")])
    assert path.read_text() == HEAD


def test_a_family_that_does_not_train_the_tables_task_is_refused_naming_those_that_do() -> None:
    with pytest.raises(ScheduleError) as refused:
        check_job(Schedule("plant", "logistic-regression", "0 2 * * *"), "regression")
    assert refused.value.field == "families" and "logistic-regression does not train regression" in str(refused.value)
    assert "random-forest" in str(refused.value) and "logistic-regression," not in str(refused.value)
    with pytest.raises(ScheduleError, match=r"unknown model family 'rnn': one of .*xgboost, all") as unknown:
        check_job(Schedule("plant", "rnn", "0 2 * * *"), "classification")
    assert unknown.value.field == "families"
    with pytest.raises(ScheduleError) as scored:
        check_job(Schedule("plant", "score", "0 2 * * *", model="logistic-regression@champion"), "regression")
    assert scored.value.field == "score"
    check_job(Schedule("plant", ALL, "0 2 * * *"), "regression")


def test_next_runs_follow_the_cron_in_its_time_zone() -> None:
    after = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    paris = Schedule("shifts", "lightgbm", "0 2 * * *", timezone="Europe/Paris").next_runs(2, after)
    assert [t.astimezone(UTC).hour for t in paris] == [1, 1] and paris[0].day == 8


def test_an_id_of_another_form_is_refused() -> None:
    with pytest.raises(ScheduleError, match="not a schedule id"):
        dataset_of("../../etc/passwd")


@pytest.fixture
def own_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A registered table's spec in a datasets folder of its own; no stack runs on this artifacts directory."""
    monkeypatch.setenv("TRAINYARD_DATASETS_DIR", str(tmp_path / "datasets"))
    monkeypatch.setenv("TRAINYARD_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("TRAINYARD_DATA_ROOTS", f'["{tmp_path}"]')
    get_settings.cache_clear()
    (tmp_path / "datasets").mkdir()
    frame = unseen_regression_table()
    frame.to_csv(tmp_path / "plant.csv", index=False)
    (tmp_path / "datasets" / "plant.yaml").write_text(dump(infer_spec(frame, "plant", "plant.csv", "units_per_hour")))
    # No Prefect either: in a run with the integration tests, their session's settings name the live stack's
    # (an environment variable set here would not undo a settings context).
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        yield tmp_path / "datasets" / "plant.yaml"
    get_settings.cache_clear()


def test_the_command_line_writes_the_spec_when_no_stack_runs(own_datasets: Path) -> None:
    runner = CliRunner()
    sha = get_spec("plant").sha256
    added = runner.invoke(app, ["schedules", "add", "random-forest", "xgboost", "--dataset", "plant", "--cron",
                                "0 2 * * *", "--promote"])  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "added plant.random-forest." in added.output and "deployed by the next `trainyard up`" in added.output
    spec = get_spec("plant")
    assert [s.job for s in spec.schedules] == ["random-forest", "xgboost"] and spec.sha256 == sha
    assert 'families: ["random-forest", "xgboost"], promote: true' in own_datasets.read_text()

    again = runner.invoke(app, ["schedules", "add", "xgboost", "--dataset", "plant", "--cron", "0 2 * * *"])
    assert again.exit_code == 0 and "updated plant.xgboost." in again.output
    assert len(get_spec("plant").schedules) == 2

    paused = runner.invoke(app, ["schedules", "pause", spec.schedules[0].id])
    assert paused.exit_code == 0 and not get_spec("plant").schedules[0].active
    listed = runner.invoke(app, ["schedules", "list", "--dataset", "plant"])
    assert listed.exit_code == 0 and "paused" in listed.output and "active" in listed.output
    removed = runner.invoke(app, ["schedules", "remove", spec.schedules[0].id])
    assert removed.exit_code == 0 and [s.job for s in get_spec("plant").schedules] == ["xgboost"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["logistic-regression", "--cron", "0 2 * * *"], "logistic-regression does not train regression"),
        (["lightgbm", "--cron", "0 2 * *"], "must have 5 fields"),
        (["lightgbm", "--cron", "0 2 * * *", "--timezone", "Nowhere"], "IANA"),
        (["score", "--cron", "0 2 * * *", "--model", "xgboost@champion"], "no xgboost model carries the alias"),
        (["lightgbm", "random-forest", "--cron", "0 2 * * *", "--model", "x@y"], "--model goes with score"),
    ],
)
def test_the_command_line_refuses_bad_input_and_writes_nothing(own_datasets: Path, args: list[str], says: str) -> None:
    before = own_datasets.read_text()
    refused = CliRunner().invoke(app, ["schedules", "add", *args, "--dataset", "plant"])
    assert refused.exit_code == 1 and says in refused.output, refused.output
    assert own_datasets.read_text() == before


def test_re_registering_a_table_keeps_its_schedules(own_datasets: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(app, ["schedules", "add", "lightgbm", "--dataset", "plant", "--cron", "0 2 * * *"])
    assert added.exit_code == 0, added.output
    again = runner.invoke(app, ["datasets", "add", "plant", "--file", "plant.csv", "--target", "units_per_hour",
                                "--force"])  # fmt: skip
    assert again.exit_code == 0, again.output
    assert [s.job for s in get_spec("plant").schedules] == ["lightgbm"]
