import os
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from trainyard import datagen
from trainyard.datasets import get_spec
from trainyard.errors import ArtifactError
from trainyard.families import get_family
from trainyard.model_store import load_model, save_model
from trainyard.params import ModelType
from trainyard.preprocessing import build_preprocessor

FUTURE_SKILLS = get_spec("future_skills")


def _fitted(model_type: ModelType) -> tuple[Pipeline, object, object]:
    """The family's estimator behind the dataset's preprocessor, fitted as its fit step does (smoke size)."""
    family = get_family(model_type)
    frame = datagen.future_skills(noisy=True)
    X, y = frame[FUTURE_SKILLS.feature_columns], frame[FUTURE_SKILLS.target]
    hyper = family.hyperparameters(**family.smoke_hyperparameters).model_dump()
    preprocess = build_preprocessor(FUTURE_SKILLS, impute=family.impute, scale=family.scale)
    pipeline = Pipeline([("preprocess", preprocess), ("model", family.build(hyper, 0, "cpu"))])
    family.fit(pipeline, X, y)
    return pipeline, X, y


@pytest.mark.parametrize("model_type", list(ModelType))
def test_round_trip_predicts_the_same(tmp_path: Path, model_type: ModelType) -> None:
    pipeline, X, _ = _fitted(model_type)
    saved = save_model(pipeline, model_type, tmp_path / "v1", {"note": "x"})
    path = Path(saved.location)
    assert len(saved.sha256) == 64 and [p.name for p in tmp_path.iterdir()] == ["v1"]
    assert saved.size_bytes == sum(f.stat().st_size for f in path.iterdir())
    reloaded = load_model(path)
    np.testing.assert_array_equal(reloaded.predict(X), pipeline.predict(X))
    np.testing.assert_allclose(reloaded.predict_proba(X), pipeline.predict_proba(X), rtol=1e-5)
    assert not list(path.glob("*.pkl")) and not list(path.glob("*.pt"))


def test_versions_are_never_overwritten(tmp_path: Path) -> None:
    pipeline, _, _ = _fitted(ModelType.RANDOM_FOREST)
    save_model(pipeline, ModelType.RANDOM_FOREST, tmp_path / "v1", {})
    with pytest.raises(ArtifactError, match="already exists"):
        save_model(pipeline, ModelType.RANDOM_FOREST, tmp_path / "v1", {})


def test_tampered_file_is_refused(tmp_path: Path) -> None:
    pipeline, _, _ = _fitted(ModelType.XGBOOST)
    path = Path(save_model(pipeline, ModelType.XGBOOST, tmp_path / "v1", {}).location)
    with open(path / "model.ubj", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ArtifactError, match="sha256"):
        load_model(path)


def test_skops_file_with_foreign_types_is_refused(tmp_path: Path) -> None:
    pipeline, _, _ = _fitted(ModelType.RANDOM_FOREST)
    path = Path(save_model(pipeline, ModelType.RANDOM_FOREST, tmp_path / "v1", {}).location)
    # A user-writable file swapped for one that would instantiate an arbitrary callable.
    sio.dump(Pipeline([("x", FunctionTransformer(os.system))]), path / "model.skops")
    import json

    manifest = json.loads((path / "manifest.json").read_text())
    from trainyard.model_store import sha256_file

    manifest["files"]["model.skops"] = sha256_file(path / "model.skops")
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="outside the allowlist"):
        load_model(path)


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(AttributeError):
        save_model(object(), ModelType.RANDOM_FOREST, tmp_path / "v1", {})  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
