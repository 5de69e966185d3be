"""Saving and loading trained pipelines without pickle, atomically, with sha256 per file.

Layout of one model version (a directory):
  manifest.json            format, model type, classes, features, file hashes, estimator args
  preprocessor.skops       the fitted ColumnTransformer (skops; loaded with an explicit type allowlist)
  model.skops | model.ubj | model.safetensors   the estimator: sklearn / XGBoost / torch weights
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from sklearn.pipeline import Pipeline

from trainyard.errors import ArtifactError
from trainyard.estimators import LabelEncodedClassifier, TorchMLPClassifier
from trainyard.params import ModelType

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# Types skops may instantiate beyond its defaults: what our pipelines are made of, nothing else.
SKOPS_ALLOWED_TYPES = frozenset(
    {
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.compose._column_transformer._RemainderColsList",
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.impute._base.SimpleImputer",
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._encoders.OneHotEncoder",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._tree.Tree",
        "numpy.dtype",
        "numpy.float32",
        "numpy.float64",
        "numpy.int64",
        "builtins.slice",
    }
)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(
    pipeline: Pipeline, model_type: ModelType, destination: Path, metadata: dict[str, Any]
) -> tuple[Path, str]:
    """Write ``pipeline`` to the new directory ``destination`` atomically; return (path, sha256).

    The sha256 is that of the manifest, which lists the sha256 of every other file.
    """
    if destination.exists():
        raise ArtifactError(f"model directory {destination} already exists; versions are never overwritten")
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.parent / f".tmp-{destination.name}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        manifest = {"format_version": FORMAT_VERSION, "model_type": str(model_type), **metadata}
        manifest.update(_write_estimator(pipeline, model_type, staging))
        manifest["files"] = {p.name: sha256_file(p) for p in sorted(staging.iterdir())}
        _write_json(staging / MANIFEST, manifest)
        for item in staging.iterdir():
            with open(item, "rb") as handle:
                os.fsync(handle.fileno())
        os.rename(staging, destination)  # atomic on one filesystem: readers see all or nothing
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return destination, sha256_file(destination / MANIFEST)


def _write_estimator(pipeline: Pipeline, model_type: ModelType, folder: Path) -> dict[str, Any]:
    import skops.io as sio

    preprocess, model = pipeline.named_steps["preprocess"], pipeline.named_steps["model"]
    if model_type is ModelType.RANDOM_FOREST:
        sio.dump(pipeline, folder / "model.skops")
        return {"classes": model.classes_.tolist()}
    sio.dump(preprocess, folder / "preprocessor.skops")
    if model_type is ModelType.XGBOOST:
        model.estimator_.save_model(folder / "model.ubj")
        return {"classes": model.classes_.tolist()}
    from safetensors.torch import save_file

    args, state = model.estimator_.export()
    save_file(state, str(folder / "model.safetensors"))
    return {"classes": model.classes_.tolist(), "estimator_args": args}


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        return json.loads((path / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path} has no readable {MANIFEST}: {exc}") from exc


def load_model(path: Path, device: str = "cpu") -> Pipeline:
    """Load a model directory written by ``save_model``, verifying every file's sha256 first."""
    manifest = read_manifest(path)
    for name, expected in manifest.get("files", {}).items():
        if sha256_file(path / name) != expected:
            raise ArtifactError(f"{path / name} does not match its recorded sha256; refusing to load")
    model_type = ModelType(manifest["model_type"])
    if model_type is ModelType.RANDOM_FOREST:
        return _skops_load(path / "model.skops")
    preprocess = _skops_load(path / "preprocessor.skops")
    if model_type is ModelType.XGBOOST:
        import xgboost

        booster = xgboost.XGBClassifier()
        booster.load_model(path / "model.ubj")
        estimator: Any = booster
    else:
        from safetensors.torch import load_file

        state = load_file(str(path / "model.safetensors"))
        estimator = TorchMLPClassifier.restore(manifest["estimator_args"], state, device=device)
    model = LabelEncodedClassifier.from_fitted(estimator, manifest["classes"])
    return Pipeline([("preprocess", preprocess), ("model", model)])


def _skops_load(file: Path) -> Any:
    import skops.io as sio

    untrusted = set(sio.get_untrusted_types(file=file))
    refused = untrusted - SKOPS_ALLOWED_TYPES
    if refused:
        raise ArtifactError(f"{file} contains types outside the allowlist: {sorted(refused)}")
    return sio.load(file, trusted=sorted(untrusted))
