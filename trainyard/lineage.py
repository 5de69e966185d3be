"""Lineage facts recorded with every run: library versions and the code version."""

from __future__ import annotations

import hashlib
import json
import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

from trainyard import __version__
from trainyard.params import TrainingParams
from trainyard.settings import PROJECT_ROOT, get_settings

TRACKED_LIBRARIES = ("trainyard", "prefect", "scikit-learn", "pandas", "numpy", "pandera", "skops")


@lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """Versions of the libraries every run uses and of every registered family's (its ``libraries``)."""
    from trainyard.families import families

    names = TRACKED_LIBRARIES + tuple(lib for family in families().values() for lib in family.libraries)
    found: dict[str, str] = {}
    for name in dict.fromkeys(names):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


@lru_cache(maxsize=1)
def code_version() -> str:
    """The configured code version, else the git commit of the checkout, else the package version."""
    configured = get_settings().code_version
    if configured:
        return configured
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return commit or __version__


SIGNATURE_FIELDS = {"hyperparameters", "test_split", "random_state", "use_cv", "cv_folds"}


def training_signature(model_type: str, dataset_sha256: str, spec_sha256: str, params: TrainingParams) -> str:
    """Identity of a training: same model type, data, dataset spec, parameters and code give the same model
    (an edited spec, a widened range or a column made a category, trains again)."""
    payload = {
        "model_type": model_type,
        "dataset_sha256": dataset_sha256,
        "spec_sha256": spec_sha256,
        "params": params.model_dump(mode="json", include=SIGNATURE_FIELDS),
        "code_version": code_version(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
