"""Where dataset specs live: the built-in tables' files in ``<repo>/datasets``, and every spec a team
registers in ``TRAINYARD_DATASETS_DIR`` (the same folder by default). One ``<name>.yaml`` each."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from trainyard.datasets.spec import NAME_PATTERN, DatasetSpec, parse
from trainyard.errors import DatasetError
from trainyard.settings import PROJECT_ROOT, get_settings

BUILTIN_DIR = PROJECT_ROOT / "datasets"
BUILTIN = ("future_skills", "churn")


class UnknownDataset(DatasetError):
    """No spec of that name; the message names the registered ones."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown dataset {name!r}: one of {', '.join(dataset_specs())}")
        self.name = name


def spec_dirs() -> list[Path]:
    """The folders searched, the registered datasets' first."""
    registered = get_settings().datasets_dir
    return [registered] + ([BUILTIN_DIR] if registered.resolve() != BUILTIN_DIR.resolve() else [])


def spec_path(name: str) -> Path:
    """Where the spec ``name`` is written when it is registered."""
    return get_settings().datasets_dir / f"{name}.yaml"


def _read(path: Path) -> DatasetSpec:
    stat = path.stat()
    return _parsed(path, stat.st_mtime_ns, stat.st_size)  # an edited file is read again


@lru_cache(maxsize=256)
def _parsed(path: Path, _mtime_ns: int, _size: int) -> DatasetSpec:
    spec = parse(path.read_text(), source=str(path))
    if spec.kind != path.stem:
        raise DatasetError(f"{path} holds the spec {spec.kind!r}: a spec's file is named after it")
    return replace(spec, source=path)


def dataset_specs() -> dict[str, DatasetSpec]:
    """Every spec by name (a registered one shadows no built-in: names are unique across folders)."""
    found: dict[str, DatasetSpec] = {}
    for folder in spec_dirs():
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            found.setdefault(path.stem, _read(path))
    return found


def get_spec(name: str) -> DatasetSpec:
    """The spec called ``name``; UnknownDataset (naming the registered ones) if there is none."""
    if not re.fullmatch(NAME_PATTERN, name):  # never a path: no separator, dot or NUL reaches the filesystem
        raise UnknownDataset(name)
    for folder in spec_dirs():
        path = folder / f"{name}.yaml"
        if path.is_file():
            return _read(path)
    raise UnknownDataset(name)


def _builtins_first() -> list[DatasetSpec]:
    """Every spec, the built-in tables' first: a registered variant of one never takes over its files."""
    return sorted(dataset_specs().values(), key=lambda spec: spec.kind not in BUILTIN)


def _resolve(requested: str) -> Path:
    from trainyard.dataset_files import resolve_dataset_path

    settings = get_settings()
    return resolve_dataset_path(requested, settings.data_roots, settings.max_dataset_bytes)


def detect_spec(columns: list[str]) -> DatasetSpec | None:
    """The spec of a table given its header: the one with exactly these columns, else the first whose
    target it has (so validation can name what is missing or extra); the built-in tables' specs first."""
    specs = _builtins_first()
    present = set(columns)
    exact = [spec for spec in specs if set(spec.all_columns) == present]
    if exact:
        return exact[0]
    return next((spec for spec in specs if spec.target in present), None)


def resolve_request(requested: str) -> tuple[Path, DatasetSpec | None]:
    """What a run's ``dataset`` names: a registered dataset (its file, and its spec), or a file inside the
    data roots (its spec is then told from its header when it is read)."""
    if re.fullmatch(NAME_PATTERN, requested):  # a name; anything else is a path (with its own checks)
        spec = get_spec(requested)
        return _resolve(spec.default_file), spec
    path = _resolve(requested)
    return path, _spec_of_file(path)


def request_spec(requested: str) -> tuple[Path, DatasetSpec | None]:
    """``resolve_request``, with a path's spec told from its header as the load step will tell it."""
    from trainyard.dataset_files import read_columns

    path, spec = resolve_request(requested)
    return path, spec or detect_spec(read_columns(path))


def _spec_of_file(path: Path) -> DatasetSpec | None:
    """The spec whose own table ``path`` is (its ``file``), if any: the built-ins first."""
    for spec in _builtins_first():
        try:
            if _resolve(spec.default_file) == path:
                return spec
        except DatasetError:
            continue
    return None


def specs_fingerprint() -> str:
    """One digest of every spec file: in the load step's cache key, so an edited spec reloads."""
    import hashlib

    joined = "|".join(f"{name}:{spec.sha256}" for name, spec in sorted(dataset_specs().items()))
    return hashlib.sha256(joined.encode()).hexdigest()
