"""A family's hyperparameter search space, for sweeps: which hyperparameters a search may vary,
over what range, on what scale. Declared in the family's own module (``ModelFamily.search_space``), checked
against the family's hyperparameter bounds, narrowed by a request's overrides, and handed to Optuna as its
own distributions (``to_optuna``: Optuna is imported only there, by the sweep that samples)."""

from __future__ import annotations

import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import annotated_types

from trainyard.errors import TrainyardError

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from pydantic.fields import FieldInfo

    from trainyard.families.base import ModelFamily


class SearchSpaceError(TrainyardError):
    """A search space or an override that cannot be: names the ``hyperparameter`` (None: the family's)."""

    def __init__(self, message: str, hyperparameter: str | None = None) -> None:
        super().__init__(message)
        self.hyperparameter = hyperparameter


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    log: bool = False

    def to_optuna(self) -> BaseDistribution:
        from optuna.distributions import FloatDistribution

        return FloatDistribution(self.low, self.high, log=self.log)


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    log: bool = False

    def to_optuna(self) -> BaseDistribution:
        from optuna.distributions import IntDistribution

        return IntDistribution(self.low, self.high, log=self.log)


@dataclass(frozen=True)
class Choice:
    options: tuple[Any, ...]

    def to_optuna(self) -> BaseDistribution:
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(self.options)


Dimension = FloatRange | IntRange | Choice
SearchSpace = Mapping[str, Dimension]


def check(family: ModelFamily) -> None:
    """Every dimension of ``family``'s space names one of its hyperparameters and stays inside its bounds."""
    for name, dimension in family.search_space.items():
        _inside(family, name, dimension)


def narrowed(family: ModelFamily, overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Dimension]:
    """``family``'s space with ``overrides`` applied: ``{"learning_rate": {"low": 0.01, "high": 0.1}}``,
    ``{"max_depth": {"choices": [4, 6]}}`` or ``{"log": false}``; each must stay inside the hyperparameter's
    bounds (not only the declared range: a team may search wider than our default within what is valid)."""
    if not family.search_space:
        raise SearchSpaceError(f"{family.name} declares no search space: it cannot be swept")
    space = dict(family.search_space)
    fields = family.hyperparameters.model_fields
    for name, override in overrides.items():
        if name not in fields:
            raise SearchSpaceError(f"{family.name} has no hyperparameter {name!r}; its search space: "
                                   f"{', '.join(space)}", name)  # fmt: skip
        if name not in space:
            raise SearchSpaceError(f"{name} is fixed in {family.name}'s sweeps (set it in hyperparameters); "
                                   f"the searched ones: {', '.join(space)}", name)  # fmt: skip
        space[name] = _override(family, name, space[name], dict(override))
    return space


def _override(family: ModelFamily, name: str, dimension: Dimension, override: dict[str, Any]) -> Dimension:
    unknown = set(override) - ({"choices"} if isinstance(dimension, Choice) else {"low", "high", "log"})
    if unknown:
        allowed = "choices" if isinstance(dimension, Choice) else "low, high, log"
        raise SearchSpaceError(f"{name}: unknown override {', '.join(sorted(unknown))} (it takes {allowed})", name)
    if isinstance(dimension, Choice):
        options = tuple(override.get("choices", dimension.options))
        if not options:
            raise SearchSpaceError(f"{name}: choices must not be empty", name)
        narrowed_dimension: Dimension = Choice(options)
    else:
        low, high = override.get("low", dimension.low), override.get("high", dimension.high)
        narrowed_dimension = type(dimension)(low, high, bool(override.get("log", dimension.log)))
    _inside(family, name, narrowed_dimension)
    return narrowed_dimension


def _inside(family: ModelFamily, name: str, dimension: Dimension) -> None:
    fields = family.hyperparameters.model_fields
    if name not in fields:
        raise SearchSpaceError(f"{family.name}'s search space names {name!r}, which is no hyperparameter of it", name)
    field = fields[name]
    if isinstance(dimension, Choice):
        allowed = _literal_options(field)
        bad = [option for option in dimension.options if not _valid(family, name, option)]
        if bad:
            shown = f"; it takes {', '.join(map(repr, allowed))}" if allowed else ""
            raise SearchSpaceError(f"{name}: {', '.join(map(repr, bad))} is not a valid value{shown}", name)
        return
    if isinstance(dimension, IntRange) and not all(isinstance(v, int) and not isinstance(v, bool)
                                                   for v in (dimension.low, dimension.high)):  # fmt: skip
        raise SearchSpaceError(f"{name}: low and high must be integers", name)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
               for v in (dimension.low, dimension.high)):  # fmt: skip
        raise SearchSpaceError(f"{name}: low and high must be finite numbers", name)
    if dimension.low > dimension.high:
        raise SearchSpaceError(f"{name}: low {dimension.low} is above high {dimension.high}", name)
    if dimension.log and dimension.low <= 0:
        raise SearchSpaceError(f"{name}: a log scale needs low > 0 (got {dimension.low})", name)
    lower, upper = _bounds(field)
    for end in (dimension.low, dimension.high):
        if not _valid(family, name, end):
            raise SearchSpaceError(f"{name}: {end} is outside its bounds ({_describe(lower, upper)})", name)


def _valid(family: ModelFamily, name: str, value: Any) -> bool:
    """Whether the family's own hyperparameter model accepts ``value`` for ``name`` (its bounds, its types)."""
    from pydantic import ValidationError

    try:
        family.hyperparameters.model_validate({name: value})
    except ValidationError:
        return False
    return True


def _bounds(field: FieldInfo) -> tuple[str | None, str | None]:
    lower = upper = None
    for rule in field.metadata:
        if isinstance(rule, annotated_types.Ge):
            lower = f">= {rule.ge}"
        elif isinstance(rule, annotated_types.Gt):
            lower = f"> {rule.gt}"
        elif isinstance(rule, annotated_types.Le):
            upper = f"<= {rule.le}"
        elif isinstance(rule, annotated_types.Lt):
            upper = f"< {rule.lt}"
    return lower, upper


def _describe(lower: str | None, upper: str | None) -> str:
    return " and ".join(bound for bound in (lower, upper) if bound) or "its type"


def _literal_options(field: FieldInfo) -> tuple[Any, ...]:
    options: list[Any] = []
    for arg in typing.get_args(field.annotation) or (field.annotation,):
        if typing.get_origin(arg) is typing.Literal:
            options += typing.get_args(arg)
        elif arg is type(None):
            options.append(None)
    return tuple(options)
