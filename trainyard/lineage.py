"""Lineage facts recorded with every run: library versions and the code version."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

from trainyard import __version__
from trainyard.settings import PROJECT_ROOT, get_settings

TRACKED_LIBRARIES = ("trainyard", "prefect", "scikit-learn", "xgboost", "torch", "pandas", "numpy", "pandera",
                     "skops", "safetensors")  # fmt: skip


@lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in TRACKED_LIBRARIES:
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
