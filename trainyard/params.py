"""Flow parameter models, shared by the flows, the Prefect UI form and the API request bodies."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from trainyard.families import ModelFamily, families, get_family

MODEL_VERSION_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
ModelVersion = Annotated[str, Field(pattern=MODEL_VERSION_PATTERN)]


def _member(name: str) -> str:
    return name.upper().replace("-", "_")


class _FamilyNames(StrEnum):
    @classmethod
    def parse(cls, value: str) -> ModelType:
        """Accept the canonical spelling or its underscore alias (``random_forest``); UnknownFamily
        (a ValueError naming the known families) otherwise."""
        return cls(get_family(value).name)


# One member per registered family (trainyard.families): ModelType("random-forest") is ModelType.RANDOM_FOREST.
ModelType = _FamilyNames("ModelType", {_member(name): name for name in families()})  # type: ignore[call-overload]


class _Strict(BaseModel):
    # No coercion: ``"n_jobs": false`` or ``"epochs": "10"`` is refused with the key named, not guessed at.
    model_config = ConfigDict(extra="forbid", strict=True)


class TrainingParams(_Strict):
    """What every training flow takes: a dataset reference, the split, and bookkeeping."""

    dataset: str = Field(
        "churn.csv",
        min_length=1,
        max_length=1024,
        description="A registered dataset's name (GET /datasets, `trainyard datasets list`), or a CSV or Parquet "
        "file relative to a data root or absolute inside one.",
    )
    test_split: float = Field(0.2, ge=0.1, le=0.5)
    random_state: int = Field(42, ge=0, le=2**32 - 1)
    use_cv: bool = False
    cv_folds: int = Field(5, ge=2, le=20)
    model_version: ModelVersion | None = None
    notes: str = Field("", max_length=10_000)
    trained_by: str | None = Field(None, max_length=150)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    promote: bool = Field(
        False,
        description="Compete for champion: the model becomes its type's and dataset's champion only if it beats "
        "the current one on this run's held-out rows (TRAINYARD_PROMOTION_METRIC, _MARGIN). Scheduled "
        "retraining sets it. The first model of a type and dataset is champion either way.",
    )


def _params_for(family: ModelFamily) -> type[TrainingParams]:
    hyper = family.hyperparameters
    title = "".join(part.title() for part in family.name.split("-"))
    return create_model(f"{title}Params", __base__=TrainingParams, __module__=__name__,
                        hyperparameters=(hyper, Field(default_factory=hyper)))  # fmt: skip


# A family's flow parameters: the common ones plus its hyperparameters (the Prefect UI's form, the API's body).
PARAMS_BY_TYPE: dict[ModelType, type[TrainingParams]] = {
    ModelType(name): _params_for(family) for name, family in families().items()
}


class _TrainAllBase(TrainingParams):
    def for_model(self, model_type: ModelType | str) -> TrainingParams:
        """The single-model parameters this run hands to the flow of ``model_type``."""
        family = get_family(str(model_type))
        common = self.model_dump(exclude={f.attribute for f in families().values()})
        return PARAMS_BY_TYPE[ModelType(family.name)](**common, hyperparameters=getattr(self, family.attribute))


# train-all's parameters: the common ones plus one hyperparameters field per family (``random_forest``, ...).
TrainAllParams: type[_TrainAllBase] = create_model(
    "TrainAllParams", __base__=_TrainAllBase, __module__=__name__,
    **{f.attribute: (f.hyperparameters, Field(default_factory=f.hyperparameters)) for f in families().values()},
)  # fmt: skip


class ScoreParams(_Strict):
    """What the ``score`` flow takes: the model, the table to score, and where its alias is held."""

    model: str = Field(
        min_length=1,
        max_length=200,
        description="family@alias (FAMILY@champion), family:version, or a family alone (its champion).",
    )
    dataset: str = Field(
        min_length=1,
        max_length=1024,
        description="The rows to score: a registered dataset's name, or a CSV or Parquet file inside a data root. "
        "Checked against the model's own dataset spec; its target column may be absent.",
    )
    alias_dataset: str | None = Field(
        None,
        max_length=1024,
        description="The dataset whose alias the model reference names (aliases are per dataset). Default: "
        "`dataset` when it is a registered name, else the only dataset that alias is held on.",
    )
    output_format: Literal["parquet", "csv"] = "parquet"
    chunk_rows: int = Field(100_000, ge=1_000, le=5_000_000,
                            description="Rows predicted at a time (a cancel lands between chunks)")
    requested_by: str | None = Field(None, max_length=150)
