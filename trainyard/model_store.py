"""Saving and loading trained pipelines without pickle, atomically, with sha256 per file.

Layout of one model version (a directory):
  manifest.json            format, model type, classes, features, file hashes, estimator args
  the family's files       written by its ``save`` in a safe format (skops with a type allowlist, the
                           library's own model format, safetensors): ``trainyard.families``

The directory lives in the artifact store (``trainyard.artifact_store``). In a local store it is
built beside its place and renamed into it; in an object store every file is uploaded and the
manifest last, and only then is the version registered, so no half-written model is ever listed.
A model in an object store is loaded from a local copy (under ``artifacts_dir/cache``, named by its
manifest's sha256) whose files were checked against the manifest when it was fetched.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.pipeline import Pipeline

from trainyard.artifact_store import get_store
from trainyard.datasets import get_spec
from trainyard.datasets.spec import interface_changes
from trainyard.errors import ArtifactError, DatasetError, SpecChangedError
from trainyard.families import UnknownFamily, get_family
from trainyard.settings import get_settings

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
def sha256_file(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SavedModel:
    location: str  # a directory path (local store) or URL (object store)
    sha256: str  # of the manifest, which lists the sha256 of every other file
    size_bytes: int


def save_model(
    pipeline: Pipeline, model_type: str, destination: str | Path, metadata: dict[str, Any]
) -> SavedModel:
    """Write ``pipeline`` as the new model directory ``destination`` of the artifact store."""
    store = get_store()
    destination = str(destination)
    if store.exists(f"{destination.rstrip('/')}/{MANIFEST}") or (store.is_local and store.exists(destination)):
        raise ArtifactError(f"model directory {destination} already exists; versions are never overwritten")
    staging = store.temp_path(destination)
    staging.mkdir()
    try:
        manifest = {"format_version": FORMAT_VERSION, "model_type": str(model_type), **metadata}
        manifest.update(get_family(str(model_type)).save(pipeline, staging))
        manifest["files"] = {p.name: sha256_file(p) for p in sorted(staging.iterdir())}
        _write_json(staging / MANIFEST, manifest)
        size = sum(item.stat().st_size for item in staging.iterdir())
        sha256 = sha256_file(staging / MANIFEST)
        if store.is_local:
            for item in staging.iterdir():
                with open(item, "rb") as handle:
                    os.fsync(handle.fileno())
            os.rename(staging, destination)  # atomic on one filesystem: readers see all or nothing
        else:
            _upload(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return SavedModel(location=destination, sha256=sha256, size_bytes=size)


def _upload(folder: Path, destination: str) -> None:
    """Every file, then the manifest: a directory without its manifest is never read as a model."""
    store = get_store()
    try:
        for item in sorted(folder.iterdir(), key=lambda p: p.name == MANIFEST):
            store.fs.put_file(str(item), f"{destination}/{item.name}")
    except BaseException:
        store.remove(destination)
        raise


def delete_model(location: str) -> None:
    """Remove a model directory (one that could not be registered)."""
    store = get_store()
    if store.is_local:
        shutil.rmtree(location, ignore_errors=True)
    else:
        store.remove(location)


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        return json.loads((path / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path} has no readable {MANIFEST}: {exc}") from exc


def verify(path: Path, manifest_sha256: str | None = None) -> dict[str, Any]:
    """The manifest of the local model directory ``path`` once its own sha256 (when given) and every
    file's sha256 match; ArtifactError otherwise."""
    if manifest_sha256 is not None and sha256_file(path / MANIFEST) != manifest_sha256:
        raise ArtifactError(f"{path / MANIFEST} does not match the registry's sha256; refusing to load")
    manifest = read_manifest(path)
    for name, expected in manifest.get("files", {}).items():
        if sha256_file(path / name) != expected:
            raise ArtifactError(f"{path / name} does not match its recorded sha256; refusing to load")
    return manifest


def local_copy(location: str | Path, manifest_sha256: str | None = None) -> Path:
    """A local directory holding the model at ``location``: the directory itself in a local store; in an
    object store, a verified copy under ``artifacts_dir/cache`` (fetched once per manifest sha256)."""
    store = get_store()
    location = str(location)
    if "://" not in location:
        return Path(location)
    try:
        manifest_bytes = store.read_bytes(f"{location}/{MANIFEST}")
    except FileNotFoundError as exc:
        raise ArtifactError(f"{location} has no {MANIFEST}") from exc
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    if manifest_sha256 is not None and digest != manifest_sha256:
        raise ArtifactError(f"{location}/{MANIFEST} does not match the registry's sha256; refusing to load")
    cached = get_settings().artifacts_dir / "cache" / "models" / digest
    if cached.is_dir():
        return cached
    fetching = cached.with_name(f".{digest}.{uuid.uuid4().hex[:8]}")
    try:
        store.download_folder(location, fetching)
        verify(fetching, digest)
        os.rename(fetching, cached)
    except FileExistsError:
        pass  # another request fetched it first
    except OSError as exc:
        raise ArtifactError(f"{location} could not be fetched: {exc}") from exc
    finally:
        shutil.rmtree(fetching, ignore_errors=True)
    return cached


def load_model(location: str | Path, device: str = "cpu", manifest_sha256: str | None = None) -> Pipeline:
    """Load a model directory written by ``save_model``, verifying every file's sha256 first."""
    return load_model_and_manifest(location, device, manifest_sha256)[0]


def load_model_and_manifest(location: str | Path, device: str = "cpu",
                            manifest_sha256: str | None = None) -> tuple[Pipeline, dict[str, Any]]:  # fmt: skip
    """``load_model``, and the verified manifest it read (its classes, dataset and lineage)."""
    path = local_copy(location, manifest_sha256)
    manifest = verify(path, manifest_sha256)
    try:
        family = get_family(manifest["model_type"])
    except UnknownFamily as exc:
        raise ArtifactError(f"{path} holds a model of a family this installation lacks: {exc}") from None
    check_spec(manifest, path)
    return family.load(path, manifest, device), manifest


def check_spec(manifest: dict[str, Any], path: Path) -> None:
    """SpecChangedError when the spec of the model's dataset changed incompatibly since it was trained
    (a feature added, removed or of another kind; another target, task or classes). An edited range
    or nullability is compatible; a removed spec leaves nothing to compare with."""
    recorded = manifest.get("dataset") or {}
    interface, name = recorded.get("interface"), recorded.get("name")
    if not interface or not name:
        return  # written before models recorded their spec's interface
    try:
        spec = get_spec(name)
    except DatasetError:
        return
    if spec.sha256 == recorded.get("spec_sha256"):
        return
    if changes := interface_changes(interface, spec.interface()):
        raise SpecChangedError(f"{path} was trained on dataset {name!r}, whose spec changed incompatibly since: "
                               f"{'; '.join(changes)}. Train a new version on the current spec.")  # fmt: skip
