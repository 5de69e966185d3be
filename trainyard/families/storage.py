"""Save/load building blocks the families share: skops files with a type allowlist (no pickle), and
the usual layout of a preprocessor in skops beside the estimator in its library's own format."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainyard import skops_files
from trainyard.errors import ArtifactError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# Types any skops file of trainyard may hold: the preprocessing pipeline's parts and numpy scalars.
# A family adds its own estimator's types (``ModelFamily.skops_types``); nothing else is ever built.
BASE_SKOPS_TYPES = frozenset(
    {
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.compose._column_transformer._RemainderColsList",
        "sklearn.impute._base.SimpleImputer",
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._encoders.OneHotEncoder",
        "sklearn.preprocessing._data.StandardScaler",
        "numpy.dtype",
        "numpy.float32",
        "numpy.float64",
        "numpy.int64",
        "builtins.slice",
    }
)
PIPELINE_FILE = "model.skops"
PREPROCESSOR_FILE = "preprocessor.skops"


def skops_load(file: Path, allowed: frozenset[str] = frozenset()) -> Any:
    """``skops.io.load`` trusting only BASE_SKOPS_TYPES and ``allowed``; ArtifactError for anything else."""
    import skops.io as sio

    untrusted = set(sio.get_untrusted_types(file=file))
    refused = untrusted - BASE_SKOPS_TYPES - allowed
    if refused:
        raise ArtifactError(f"{file} contains types outside the allowlist: {sorted(refused)}")
    return sio.load(file, trusted=sorted(untrusted))


def save_skops_pipeline(pipeline: Pipeline, folder: Path) -> dict[str, Any]:
    """The whole fitted pipeline as one skops file (for scikit-learn estimators)."""
    skops_files.dump(pipeline, folder / PIPELINE_FILE)
    return classes_of(pipeline.named_steps["model"])


def classes_of(model: Any) -> dict[str, Any]:
    """The manifest's ``classes`` of a classifier; nothing for a regressor."""
    classes = getattr(model, "classes_", None)
    return {} if classes is None else {"classes": classes.tolist()}


def skops_pipeline_loader(allowed: frozenset[str]) -> Any:
    """A ``ModelFamily.load`` for models saved by ``save_skops_pipeline``."""

    def load(folder: Path, manifest: dict[str, Any], device: str) -> Pipeline:
        return skops_load(folder / PIPELINE_FILE, allowed)

    return load


def save_preprocessor(pipeline: Pipeline, folder: Path) -> Any:
    """Write the pipeline's preprocessor as skops; its fitted model step, for the caller to write."""
    skops_files.dump(pipeline.named_steps["preprocess"], folder / PREPROCESSOR_FILE)
    return pipeline.named_steps["model"]


def with_preprocessor(folder: Path, model: Any) -> Pipeline:
    """The saved preprocessor, then ``model``, as one pipeline."""
    from sklearn.pipeline import Pipeline

    return Pipeline([("preprocess", skops_load(folder / PREPROCESSOR_FILE)), ("model", model)])
