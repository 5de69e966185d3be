import pandas as pd

from trainyard import datagen
from trainyard.datasets import get_spec
from trainyard.datasets.schema import schema_for
from trainyard.settings import PROJECT_ROOT

CHURN, FUTURE_SKILLS = get_spec("churn"), get_spec("future_skills")
ChurnSchema, FutureSkillsSchema = schema_for(CHURN), schema_for(FUTURE_SKILLS)


def test_future_skills_shape_and_labels() -> None:
    frame = datagen.future_skills()
    assert frame.shape == (357, 12)
    assert list(frame.columns) == FUTURE_SKILLS.all_columns
    assert frame.groupby("job_role_name").size().eq(21).all()
    assert set(frame["future_need_level"]) <= {"LOW", "MEDIUM", "HIGH"}


def test_noisy_option_adds_a_low_region() -> None:
    plain, noisy = datagen.future_skills(), datagen.future_skills(noisy=True)
    assert "LOW" not in set(plain["future_need_level"])
    assert noisy["future_need_level"].value_counts()["LOW"] > 50


def test_churn_has_cell2cell_shape() -> None:
    frame = datagen.churn(rows=5000, seed=1)
    assert list(frame.columns) == CHURN.all_columns
    assert 0.25 < frame["churn"].mean() < 0.33
    missing = frame[["revenue", "mou", "changem", "changer"]].isna().all(axis=1).sum()
    assert 200 < missing < 600
    assert len(CHURN.flags) >= 30 and len(CHURN.numeric) >= 30


def test_generator_is_seeded() -> None:
    pd.testing.assert_frame_equal(datagen.churn(rows=200, seed=3), datagen.churn(rows=200, seed=3))
    assert not datagen.churn(rows=200, seed=3).equals(datagen.churn(rows=200, seed=4))


def test_committed_samples_match_their_schemas() -> None:
    data = PROJECT_ROOT / "data"
    FutureSkillsSchema.validate(pd.read_csv(data / "future_skills_dataset.csv"), lazy=True)
    FutureSkillsSchema.validate(pd.read_csv(data / "future_skills_dataset_noisy.csv"), lazy=True)
    churn = ChurnSchema.validate(pd.read_csv(data / "churn.csv"), lazy=True)
    assert len(churn) >= 2000


def test_large_churn_tables_stay_inside_the_schema() -> None:
    ChurnSchema.validate(datagen.churn(rows=200_000, seed=7), lazy=True)
