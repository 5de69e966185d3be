"""The registry of model families: every module of this package that defines ``FAMILY``, then the
families third-party packages register under the ``trainyard.families`` entry-point group.

A third-party family is a module with ``FAMILY = ModelFamily(...)`` and, in its package's
``pyproject.toml``::

    [project.entry-points."trainyard.families"]
    catboost = "my_package.catboost_family:FAMILY"
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from functools import cache
from importlib.metadata import entry_points

from trainyard.families.base import ModelFamily

logger = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "trainyard.families"
NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
RESERVED = {"all"}  # the job type that trains every family
TRAIN_ALL_POOL = "gpu"  # where train-all runs: its sub-jobs fit in its process, the GPU families among them


class UnknownFamily(ValueError):
    """No family of that name is registered; the message names the ones that are."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown model family {name!r}: one of {', '.join(families())}")
        self.name = name


@cache
def families() -> dict[str, ModelFamily]:
    """Every registered family by name, the built-ins first, each in name order."""
    import trainyard.families as package

    found: list[ModelFamily] = []
    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        family = getattr(importlib.import_module(f"{package.__name__}.{module.name}"), "FAMILY", None)
        if isinstance(family, ModelFamily):
            found.append(family)
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        family = entry.load()
        if not isinstance(family, ModelFamily):
            raise TypeError(f"entry point {entry.name!r} of {ENTRY_POINT_GROUP} is not a ModelFamily: {family!r}")
        found.append(family)
    registered: dict[str, ModelFamily] = {}
    for family in found:
        if not NAME.match(family.name) or family.name in RESERVED:
            raise ValueError(f"model family name {family.name!r} must be lower-case words joined by '-', not 'all'")
        if family.name in registered:
            raise ValueError(f"two model families are named {family.name!r}")
        registered[family.name] = family
    return registered


def get_family(name: str) -> ModelFamily:
    """The family called ``name`` (its underscore spelling, ``random_forest``, too); UnknownFamily if none."""
    canonical = name.strip().lower().replace("_", "-")
    try:
        return families()[canonical]
    except KeyError:
        raise UnknownFamily(name) from None


def families_in_pool(pool: str) -> list[ModelFamily]:
    return [family for family in families().values() if family.pool == pool]
