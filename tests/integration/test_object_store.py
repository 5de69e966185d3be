"""The artifact store on an S3-compatible server (moto's, on 127.0.0.1): staged tables and models.

Nothing in the product knows the server is moto: it is reached as any S3 endpoint, by URL and options.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prefect.settings import PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK, temporary_settings
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline

from flows.train import train_random_forest
from runtime.result_storage import save_result_storage_block
from tasks import stage
from tests.conftest import artifacts_at
from tests.integration.helpers import task_states
from tests.services import S3Endpoint
from trainyard import datagen
from trainyard.artifact_store import get_store
from trainyard.dataset_files import file_sha256
from trainyard.datasets import get_spec
from trainyard.errors import ArtifactError
from trainyard.model_store import MANIFEST, load_model, local_copy, save_model, verify
from trainyard.params import PARAMS_BY_TYPE, ModelType
from trainyard.preprocessing import build_preprocessor
from trainyard.registry.runs import get_model_version
from trainyard.settings import get_settings

FUTURE_SKILLS = get_spec("future_skills")

pytestmark = pytest.mark.integration


@pytest.fixture
def in_s3(s3_endpoint: S3Endpoint):
    """A fresh prefix of a bucket as this process's artifact store."""
    url = f"{s3_endpoint.bucket('trainyard-store')}/{uuid.uuid4().hex[:8]}"
    with artifacts_at(url, {"endpoint_url": s3_endpoint.url}):
        yield url


def _forest() -> tuple[Pipeline, pd.DataFrame]:
    frame = datagen.future_skills(noisy=True)
    X, y = frame[FUTURE_SKILLS.feature_columns], frame[FUTURE_SKILLS.target]
    preprocess = build_preprocessor(FUTURE_SKILLS, impute=True, scale=False)
    model = RandomForestClassifier(n_estimators=5, random_state=0)
    return Pipeline([("preprocess", preprocess), ("model", model)]).fit(X, y), X


def test_staged_tables_go_to_the_bucket_and_read_back(in_s3: str) -> None:
    frame = pd.DataFrame({"a": np.arange(10), "c": list("abcdefghij")})
    path = stage.stage_path("sha", "raw")
    assert path == f"{in_s3}/stage/sha/raw.arrow"
    with stage.handoff():
        stage.write_stage(frame, path)
    store = get_store()
    assert store.exists(path) and not store.is_local
    pd.testing.assert_frame_equal(stage.read_stage(path), frame)
    assert stage.take_staged(path, np.array([7, 2]), ["c"])["c"].tolist() == ["h", "c"]
    # Nothing of it stayed on this host: the only local trace is the emptied temp folder.
    assert not [p for p in (get_settings().artifacts_dir / ".tmp").glob("*") if p.is_file()]
    assert not stage.is_staged(stage.stage_path("sha", "missing"))


def test_a_model_is_uploaded_manifest_last_and_loads_verified(in_s3: str) -> None:
    pipeline, X = _forest()
    destination = get_store().location("models", "random-forest", "v1")
    saved = save_model(pipeline, ModelType.RANDOM_FOREST, destination, {"note": "s3"})
    assert saved.location == f"{in_s3}/models/random-forest/v1"
    fs = get_store().fs
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.find(saved.location)) == [MANIFEST, "model.skops"]
    assert saved.size_bytes == sum(fs.size(p) for p in fs.find(saved.location))
    reloaded = load_model(saved.location, manifest_sha256=saved.sha256)
    np.testing.assert_array_equal(reloaded.predict(X), pipeline.predict(X))
    with pytest.raises(ArtifactError, match="already exists"):
        save_model(pipeline, ModelType.RANDOM_FOREST, destination, {})


def test_a_tampered_object_is_refused_and_a_wrong_manifest_too(in_s3: str) -> None:
    pipeline, _ = _forest()
    saved = save_model(pipeline, ModelType.RANDOM_FOREST, get_store().location("models", "rf", "v2"), {})
    fs = get_store().fs
    fs.pipe_file(f"{saved.location}/model.skops", fs.cat_file(f"{saved.location}/model.skops") + b"\0")
    with pytest.raises(ArtifactError, match="sha256"):
        load_model(saved.location, manifest_sha256=saved.sha256)
    with pytest.raises(ArtifactError, match="registry's sha256"):
        load_model(saved.location, manifest_sha256="0" * 64)
    # Nothing half-fetched is left in the local cache to be served later.
    cache = get_settings().artifacts_dir / "cache" / "models"
    assert not (cache / saved.sha256).exists() and not list(cache.glob(".*"))


def test_a_failed_upload_leaves_no_model_behind(in_s3: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline, _ = _forest()
    store = get_store()
    calls: list[str] = []
    real_put = store.fs.put_file

    def put_then_fail(local: str, remote: str, **kwargs: object) -> None:
        calls.append(remote)
        if remote.endswith(MANIFEST):
            raise OSError("connection reset while uploading the manifest")
        real_put(local, remote, **kwargs)

    monkeypatch.setattr(store.fs, "put_file", put_then_fail)
    destination = store.location("models", "rf", "v3")
    with pytest.raises(OSError, match="connection reset"):
        save_model(pipeline, ModelType.RANDOM_FOREST, destination, {})
    assert calls[-1].endswith(MANIFEST)  # the manifest is the last object written
    monkeypatch.undo()
    assert not store.fs.find(destination)


def test_the_local_copy_is_fetched_once_and_checked(in_s3: str) -> None:
    pipeline, _ = _forest()
    saved = save_model(pipeline, ModelType.RANDOM_FOREST, get_store().location("models", "rf", "v4"), {})
    first = local_copy(saved.location, saved.sha256)
    assert first.parent == get_settings().artifacts_dir / "cache" / "models" and first.name == saved.sha256
    manifest = verify(first, saved.sha256)
    assert json.loads((first / MANIFEST).read_text()) == manifest
    assert local_copy(saved.location, saved.sha256) == first
    assert isinstance(first, Path)


def test_a_flow_run_keeps_its_model_stage_and_results_in_the_bucket(prefect_api: str, in_s3: str, sandbox: Path,
                                                                     s3_endpoint: S3Endpoint) -> None:  # fmt: skip
    """Through the real Prefect server: nothing of the run stays on this host, and a second run is served
    load/validate/split from the cache records and staged tables in the bucket."""
    frame = pd.read_csv(sandbox / "data" / "churn.csv")
    frame.iloc[:-7].to_csv(sandbox / "data" / "churn_s3.csv", index=False)  # its own sha256: no local cache
    sha256 = file_sha256(sandbox / "data" / "churn_s3.csv")
    store = get_store()
    slug = save_result_storage_block(store, {"endpoint_url": s3_endpoint.url})
    params = PARAMS_BY_TYPE[ModelType.RANDOM_FOREST](dataset="churn_s3.csv", hyperparameters={"n_estimators": 5})
    with temporary_settings(updates={PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK: slug}):
        first = train_random_forest(params)
        second = train_random_forest(params)

    assert first.model_path == f"{in_s3}/models/random-forest/{first.model_version}"
    assert store.fs.find(f"{in_s3}/stage/{sha256}"), "no staged table in the bucket"
    assert store.fs.find(f"{in_s3}/stage/results"), "no Prefect result in the bucket"
    assert not (get_settings().stage_dir / sha256).exists() and not (get_settings().models_dir / "random-forest" /
                                                                     first.model_version).exists()  # fmt: skip
    states = task_states(second.flow_run_id)
    assert {states[step] for step in ("load-dataset", "validate-dataset", "split-dataset")} == {"Cached"}
    version = get_model_version("random-forest", first.model_version)
    assert version is not None and version.path == first.model_path
    load_model(version.path, manifest_sha256=version.sha256)
