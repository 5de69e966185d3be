"""Scoring with a registered model: a reference (``family@alias`` or ``family:version``) resolved to a
version, the model loaded with every sha256 verified and its dataset spec checked, rows validated against
that spec (the target optional), and predictions that carry the version that made them.

Used by the ``score`` flow (batch), ``POST /predict/{family}`` (online) and ``trainyard models predict``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainyard.datasets import DatasetSpec, get_spec
from trainyard.datasets.registry import resolve_request
from trainyard.errors import DatasetError, ModelNotFoundError, SchemaValidationError, SpecChangedError
from trainyard.families import UnknownFamily, get_family
from trainyard.registry.aliases import ALIAS_PATTERN, CHAMPION

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    from sklearn.pipeline import Pipeline

REF_PATTERN = r"^[a-z][a-z0-9-]{0,31}([@:][A-Za-z0-9_.-]{1,64})?$"
_REF = re.compile(REF_PATTERN)
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ModelRef:
    """``family@alias`` (``<family>@champion``), ``family:version`` (``<family>:v20261203_0912-ab12cd34``),
    or a bare ``family`` (its champion)."""

    family: str
    alias: str | None = None
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        """ValueError naming the expected forms for anything else."""
        if not _REF.fullmatch(text):
            raise ValueError(f"model reference {text!r} is not family@alias, family:version or family "
                             "(lower case, e.g. <family>@champion)")  # fmt: skip
        if ":" in text:
            family, version = text.split(":", 1)
            return cls(family, version=version)
        family, _, alias = text.partition("@")
        if alias and not re.fullmatch(ALIAS_PATTERN, alias):
            raise ValueError(f"alias {alias!r} in {text!r} must match {ALIAS_PATTERN}")
        return cls(family, alias=alias or CHAMPION)

    def __str__(self) -> str:
        return f"{self.family}:{self.version}" if self.version else f"{self.family}@{self.alias}"


@dataclass(frozen=True)
class ResolvedModel:
    """The registered version a reference names now."""

    model_type: str
    version: str
    location: str
    sha256: str  # of its manifest, which lists every other file's


def alias_scope(ref: ModelRef, dataset: str, alias_dataset: str | None = None) -> str | None:
    """Whose alias ``ref`` names when scoring ``dataset``: ``alias_dataset``, else ``dataset`` when it
    is a registered name (a file path is no alias scope), else None (the alias must be held once)."""
    from trainyard.datasets.spec import NAME_PATTERN

    if ref.version is not None:
        return None
    return alias_dataset or (dataset if re.fullmatch(NAME_PATTERN, dataset) else None)


def resolve(ref: ModelRef, dataset: str | None = None) -> ResolvedModel:
    """The version ``ref`` names. An alias is held per dataset: ``dataset`` (a registered name or a file
    in the data roots) chooses which; without it, the alias must be held on exactly one dataset.
    ModelNotFoundError (unknown family, version or alias) or DatasetError (unknown dataset)."""
    from trainyard.registry.aliases import holder, holders
    from trainyard.registry.runs import get_model_version

    try:
        family = get_family(ref.family)
    except UnknownFamily as exc:
        raise ModelNotFoundError(str(exc)) from None
    version = ref.version
    if version is None:
        alias = ref.alias or CHAMPION
        if dataset is not None:
            path, _ = resolve_request(dataset)
            version = holder(family.name, str(path), alias)
            where = f" on dataset {dataset!r}"
        else:
            held = holders(family.name, alias)
            if len(held) > 1:
                raise ModelNotFoundError(f"{family.name}@{alias} is held on {len(held)} datasets; name one "
                                         "(dataset=NAME)")  # fmt: skip
            version, where = next(iter(held.values()), None), ""
        if version is None:
            raise ModelNotFoundError(f"no {family.name} model carries the alias {alias!r}{where}")
    elif not VERSION_PATTERN.fullmatch(version):
        raise ModelNotFoundError(f"{version!r} is not a model version name")
    record = get_model_version(family.name, version)
    if record is None:
        raise ModelNotFoundError(f"no registered {family.name} model version {version!r}")
    return ResolvedModel(family.name, version, record.path, record.sha256)


@dataclass
class Scorer:
    """A loaded, verified model and the spec its input must match."""

    model: ResolvedModel
    pipeline: Pipeline
    spec: DatasetSpec
    classes: list[Any] = field(default_factory=list)  # a classifier's; [] for a regressor

    @property
    def is_regression(self) -> bool:
        return not self.classes


def load_scorer(model: ResolvedModel, device: str = "cpu") -> Scorer:
    """Load ``model`` (every sha256 verified, its spec checked: SpecChangedError when the spec it was
    trained on changed incompatibly or is no longer registered)."""
    from trainyard.model_store import load_model_and_manifest

    pipeline, manifest = load_model_and_manifest(model.location, device=device, manifest_sha256=model.sha256)
    name = (manifest.get("dataset") or {}).get("name")
    try:
        spec = get_spec(name) if name else None
    except DatasetError:
        spec = None
    if spec is None:
        raise SpecChangedError(f"{model.model_type} {model.version} was trained on dataset {name!r}, whose spec is "
                               "no longer registered: its input cannot be checked")  # fmt: skip
    return Scorer(model, pipeline, spec, list(manifest.get("classes", [])))


def check_rows(scorer: Scorer, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` validated against the model's spec (the target may be absent), types coerced;
    SchemaValidationError naming each column and row at fault."""
    import pandera.pandas as pa

    from trainyard.datasets.schema import describe_failures, schema_for

    if frame.empty:
        raise SchemaValidationError("no rows to score")
    try:
        return schema_for(scorer.spec, with_target=False).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        headline = f"the rows do not match the {scorer.spec.kind} schema (rows are 0-based)"
        raise SchemaValidationError.listing(headline, describe_failures(exc.failure_cases)) from None


def prediction_table(scorer: Scorer, frame: pd.DataFrame) -> pa.Table:
    """Validated rows' predictions as an Arrow table: the rows' id columns, ``prediction``, one
    ``proba_<class>`` per class (a classifier), and the ``model_version`` that made them."""
    import numpy as np
    import pyarrow as pa

    predicted, proba = predict(scorer, frame)
    columns: dict[str, Any] = {name: pa.array(frame[name].to_numpy()) for name in scorer.spec.id_columns}
    columns["prediction"] = pa.array(predicted)
    for index, label in enumerate(scorer.classes if proba is not None else []):
        columns[f"proba_{label}"] = pa.array(proba[:, index])  # type: ignore[index]
    columns["model_version"] = pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(frame), dtype=np.int8)),
                                                              pa.array([scorer.model.version]))  # fmt: skip
    return pa.table(columns)


def predict(scorer: Scorer, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """(predicted labels or values, class probabilities or None) of validated rows."""
    import numpy as np

    features = frame[scorer.spec.feature_columns]
    if scorer.is_regression:
        return np.asarray(scorer.pipeline.predict(features), dtype=np.float64), None
    proba = scorer.pipeline.predict_proba(features)
    return np.asarray(scorer.classes, dtype=object)[np.argmax(proba, axis=1)], proba
