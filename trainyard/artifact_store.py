"""Where shared artifacts live: a local directory (the embedded default) or an object store, by URL.

``TRAINYARD_ARTIFACTS_URL`` names it: unset means ``TRAINYARD_ARTIFACTS_DIR`` on this host;
``s3://bucket/prefix`` is S3, MinIO or any S3-compatible store (through fsspec and s3fs; the endpoint
and other client options come from ``TRAINYARD_ARTIFACTS_OPTIONS``, credentials from the usual
``AWS_*`` variables). Models, staged step outputs and Prefect's task results go there, so a run on
another host writes what the API and a retry elsewhere read.

A location is a string: a filesystem path for the local store, a full URL for an object store.
Writes are whole-object: a file is written locally, then published with one rename (local) or one
PUT (object store; an object is visible complete or not at all).
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainyard.errors import ArtifactError
from trainyard.settings import Settings, get_settings

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem


class ArtifactStore:
    """One artifact root and the fsspec filesystem that reaches it."""

    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        from fsspec.core import url_to_fs
        from fsspec.implementations.local import LocalFileSystem

        options = dict(options or {})
        protocol = url.split("://", 1)[0] if "://" in url else "file"
        if protocol != "file":
            # Other hosts write here: a cached listing would hide their objects.
            options.setdefault("use_listings_cache", False)
        try:
            self.fs: AbstractFileSystem
            self.fs, root = url_to_fs(url, **options)
        except (ImportError, ValueError) as exc:
            raise ArtifactError(f"artifact store {url!r} cannot be opened: {exc}") from exc
        self.is_local = isinstance(self.fs, LocalFileSystem)
        self.root = str(Path(root)) if self.is_local else f"{protocol}://{root.rstrip('/')}"

    def location(self, *parts: str) -> str:
        """The location of ``parts`` under the root (a path locally, a URL otherwise)."""
        if self.is_local:
            return str(Path(self.root, *parts))
        return "/".join([self.root, *parts])

    def exists(self, location: str) -> bool:
        if self.is_local:
            return os.path.exists(location)
        return bool(self.fs.exists(location))

    def publish_file(self, local: Path, location: str) -> None:
        """Make the finished local file ``local`` the object at ``location`` (atomic for readers)."""
        if self.is_local:
            Path(location).parent.mkdir(parents=True, exist_ok=True)
            os.replace(local, location)
        else:
            self.fs.put_file(str(local), location)

    def read_bytes(self, location: str) -> bytes:
        """The whole object (FileNotFoundError when there is none)."""
        if self.is_local:
            return Path(location).read_bytes()
        return bytes(self.fs.cat_file(location))

    def modified(self, location: str) -> datetime:
        if self.is_local:
            return datetime.fromtimestamp(os.stat(location).st_mtime, UTC)
        stamp = self.fs.modified(location)
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)

    def download_folder(self, location: str, into: Path) -> None:
        """Copy every object under ``location`` into the (new) local folder ``into``."""
        into.mkdir(parents=True, exist_ok=True)
        for remote in self.fs.find(location):
            name = remote.rstrip("/").rsplit("/", 1)[-1]
            self.fs.get_file(remote, str(into / name))

    def remove(self, location: str) -> None:
        """Delete ``location`` and everything under it; a missing one is no error."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(location, recursive=True)

    def temp_path(self, location: str) -> Path:
        """A fresh local path to build the file for ``location`` in, before it is published: beside it
        locally (so the rename stays on one filesystem), under this host's artifacts_dir otherwise."""
        name = location.rstrip("/").rsplit("/", 1)[-1]
        folder = Path(location).parent if self.is_local else get_settings().artifacts_dir / ".tmp"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f".{name}.{uuid.uuid4().hex[:8]}"


def store_url(settings: Settings) -> str:
    return settings.artifacts_url or str(settings.artifacts_dir)


@lru_cache(maxsize=4)
def _store(url: str, options_json: str, pid: int) -> ArtifactStore:
    return ArtifactStore(url, json.loads(options_json))


def get_store() -> ArtifactStore:
    """This process's artifact store, from the settings (one instance per URL and options). Keyed by
    process too: a run forked from a warm server must not inherit its parent's client, whose I/O
    thread did not survive the fork."""
    settings = get_settings()
    return _store(store_url(settings), json.dumps(settings.artifacts_options, sort_keys=True), os.getpid())
