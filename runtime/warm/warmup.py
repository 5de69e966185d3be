"""First-call costs a warm server pays once, so that no forked run pays them.

Importing a library is not all of its start-up: pandera registers its validation backends and builds
a schema object on the first ``validate``, matplotlib loads its font list and renders its first
figure slowly, each Prefect client parses the CA bundle for its TLS context (shared once
``prefect_patches`` is installed, so call this after it), and the registry's engine checks the schema
(tables, added columns) and compiles its first queries (~0.05 s of every run's first step). Each
warm-up runs the real code path on a tiny input, or builds the object once. Nothing here may leave a
thread or a connection open: the server forks after it (the registry's pool is emptied, so each run
opens its own connections on the engine it inherits). Measured, not assumed: rebuilding Prefect's ~260
deferred pydantic models here made each forked run reach Running ~0.2 s later, not sooner, so that is
not done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

logger = logging.getLogger("runtime.warm")


def _pandera() -> None:
    from trainyard import datagen
    from trainyard.datasets import dataset_specs
    from trainyard.datasets.schema import schema_for

    samples = {"churn": datagen.churn(rows=40, seed=1), "future_skills": datagen.future_skills(seed=1).head(40)}
    for name, spec in dataset_specs().items():  # every registered spec's schema, built before the fork
        sample = samples.get(name)
        if sample is not None:
            schema_for(spec).validate(sample, lazy=True, inplace=True)
        else:
            schema_for(spec)


def _matplotlib() -> None:
    from trainyard import plots

    plots.confusion_matrix_png(["a", "b"], [[3, 1], [0, 2]])


def _registry() -> None:
    from trainyard.registry.db import get_engine
    from trainyard.registry.runs import registered_run, version_taken

    registered_run("warm-up")  # read-only: the queries a run's first step makes
    version_taken("warm-up", "warm-up")
    get_engine().dispose()  # closes the pooled connections: none may cross the fork


def _prefect_schemas() -> None:
    # Prefect defers building these pydantic models' validators to their first use, which every run
    # makes (creating and reading its flow run, its artifacts, its events): ~15 ms of each run's own.
    # Only these: rebuilding all of Prefect's ~260 deferred models made each run slower (see above).
    from prefect.artifacts import MarkdownArtifact, TableArtifact
    from prefect.client.schemas.actions import ArtifactCreate, ArtifactUpdate, FlowCreate, FlowRunCreate
    from prefect.client.schemas.objects import Artifact, FlowRun, FlowRunPolicy
    from prefect.events.schemas.events import Event

    for model in (FlowCreate, FlowRunPolicy, FlowRunCreate, FlowRun, ArtifactCreate, ArtifactUpdate, Artifact,
                  Event, TableArtifact, MarkdownArtifact):  # fmt: skip
        model.model_rebuild()


def _sklearn() -> None:
    # scikit-learn validates each public function's arguments, and builds those checks on the first call.
    import numpy as np
    from sklearn.model_selection import train_test_split

    from tasks.evaluate import compute_metrics

    labels = np.array([0, 1] * 4)
    train_test_split(np.arange(len(labels)), test_size=0.5, random_state=0, stratify=labels)
    compute_metrics(labels, labels, np.column_stack([1 - labels, labels]).astype(float), np.array([0, 1]))


def _lineage() -> None:
    from trainyard.lineage import code_version, library_versions

    library_versions()  # the installed libraries' versions: the same in every run this server forks
    code_version()  # the checkout's commit (a git process, ~15 ms): the code this server imported


def _prefect_tls() -> None:
    from runtime.prefect_patches import prefect_client_tls_context

    prefect_client_tls_context()


WARMUPS: dict[str, Callable[[], None]] = {
    "pandera": _pandera,
    "matplotlib": _matplotlib,
    "prefect TLS context": _prefect_tls,
    "prefect schemas": _prefect_schemas,
    "scikit-learn": _sklearn,
    "lineage": _lineage,
    "registry": _registry,
}


def warm_up() -> None:
    """Run every warm-up; one that fails is logged and skipped (the run then pays that cost itself)."""
    started = time.perf_counter()
    for name, step in WARMUPS.items():
        try:
            step()
        except Exception as exc:
            logger.warning("warm server could not warm up %s: %s", name, exc)
    logger.info("warm server warmed up %s in %.2fs", ", ".join(WARMUPS), time.perf_counter() - started)
