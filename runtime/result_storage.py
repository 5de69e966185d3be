"""Prefect's task results (the cache records that let a Retry skip finished steps), kept beside the
staged tables in the artifact store: a local folder, or a RemoteFileSystem block on an object store so
that a retry on another host finds them."""

from __future__ import annotations

from typing import Any

from trainyard.artifact_store import ArtifactStore

BLOCK_NAME = "trainyard-results"
BLOCK_SLUG = f"remote-file-system/{BLOCK_NAME}"


def result_storage_env(store: ArtifactStore, block_name: str = BLOCK_NAME) -> dict[str, str]:
    """The Prefect settings every run's process needs to read and write results there."""
    if store.is_local:
        return {"PREFECT_LOCAL_STORAGE_PATH": store.location("stage", "results")}
    return {"PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK": f"remote-file-system/{block_name}"}


def save_result_storage_block(
    store: ArtifactStore, options: dict[str, Any], block_name: str = BLOCK_NAME
) -> str | None:
    """On an object store, (re)save the block runs resolve by ``BLOCK_SLUG``; its slug (None locally).

    Only client options go into the block (e.g. the endpoint); credentials stay in each host's AWS_*
    variables, out of Prefect's database.
    """
    if store.is_local:
        return None
    from prefect.filesystems import RemoteFileSystem

    RemoteFileSystem(basepath=store.location("stage", "results"), settings=options).save(block_name, overwrite=True)
    return f"remote-file-system/{block_name}"
