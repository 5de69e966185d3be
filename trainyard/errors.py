"""Typed domain errors; only the API layer maps them to HTTP status codes."""

from __future__ import annotations

from enum import StrEnum


class TrainyardError(Exception):
    """Base class of every error trainyard raises on purpose."""


class DatasetError(TrainyardError):
    """A dataset could not be located, read or accepted (bad path, format, size, content)."""


class DatasetNotAllowedError(DatasetError):
    """The dataset path escapes the allowed data roots."""


class SchemaValidationError(DatasetError):
    """The dataset violates its schema; the message names the columns and rows."""

    def __init__(self, message: str, failures: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.failures = failures or []

    @classmethod
    def listing(cls, headline: str, failures: list[str], most: int | None = None) -> SchemaValidationError:
        """``headline``, then a line per failure (the first ``most`` of them)."""
        shown = "\n".join(f"  - {line}" for line in failures[:most])
        more = f"\n  - and {len(failures) - most} more" if most is not None and len(failures) > most else ""
        return cls(f"{headline}:\n{shown}{more}", failures=[{"message": line} for line in failures])


class TrainingError(TrainyardError):
    """Fitting or evaluating a model failed."""


class UnsupportedTaskError(DatasetError):
    """The model family does not train the dataset's task (a classifier-only family on a regression table)."""


class ArtifactError(TrainyardError):
    """A model artifact could not be written, verified or loaded."""


class SpecChangedError(ArtifactError):
    """A model's dataset spec changed incompatibly since it was trained (a column, the target or its classes)."""


class ModelNotFoundError(TrainyardError):
    """A model reference names no registered model: an unknown family, version or alias."""


class RegistryError(TrainyardError):
    """The registry rejected a write (duplicate version, unknown run)."""


class DuplicateVersionError(RegistryError):
    """The model version is already taken for this model type."""


# Errors that say the input is wrong: retrying the same step cannot help.
DETERMINISTIC_ERRORS: tuple[type[Exception], ...] = (DatasetError, DuplicateVersionError)



class ErrorKind(StrEnum):
    """Whose fault a failed run was, recorded with it: the data's (HTTP 400) or training's (500)."""

    DATA = "data"
    TRAINING = "training"


def kind_of(error: BaseException) -> ErrorKind:
    """The kind of a run's error, by its type (never by its message)."""
    return ErrorKind.DATA if isinstance(error, DatasetError) else ErrorKind.TRAINING
