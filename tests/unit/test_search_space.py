"""Each family's search space (declared in its own module) stays inside its hyperparameters' bounds, and an
override that leaves them, names an unknown or a fixed hyperparameter, or targets a family without a space,
is refused naming the hyperparameter."""

from __future__ import annotations

import dataclasses
import re

import pytest

from trainyard.families import families, get_family
from trainyard.search_space import Choice, FloatRange, IntRange, SearchSpaceError, check, narrowed


@pytest.mark.parametrize("name", list(families()))
def test_every_family_declares_a_space_inside_its_bounds(name: str) -> None:
    family = get_family(name)
    assert family.search_space, f"{name} declares no search space"
    check(family)
    for hyperparameter, dimension in family.search_space.items():  # each end is a value its own model takes
        ends = dimension.options if isinstance(dimension, Choice) else (dimension.low, dimension.high)
        for value in ends:
            family.hyperparameters.model_validate({hyperparameter: value})


def test_an_override_narrows_a_range_and_may_widen_it_inside_the_bounds() -> None:
    xgboost = get_family("xgboost")
    space = narrowed(xgboost, {"learning_rate": {"low": 0.01, "high": 0.5}, "max_depth": {"high": 20}})
    assert space["learning_rate"] == FloatRange(0.01, 0.5, log=True) and space["max_depth"] == IntRange(2, 20)
    assert space["subsample"] == xgboost.search_space["subsample"]  # the others as declared


@pytest.mark.parametrize(
    ("overrides", "named", "says"),
    [
        ({"learning_rate": {"high": 2.0}}, "learning_rate", "outside its bounds (> 0 and <= 1)"),
        ({"max_depth": {"low": 0}}, "max_depth", "outside its bounds (>= 1 and <= 20)"),
        ({"max_depth": {"low": 2.5}}, "max_depth", "integers"),
        ({"learning_rate": {"low": 0.2, "high": 0.1}}, "learning_rate", "above high"),
        ({"reg_lambda": {"low": 0.0}}, "reg_lambda", "log scale needs low > 0"),
        ({"no_such": {"low": 1}}, "no_such", "has no hyperparameter 'no_such'"),
        ({"tree_method": {"choices": ["hist"]}}, "tree_method", "fixed in xgboost's sweeps"),
        ({"subsample": {"step": 0.1}}, "subsample", "unknown override step"),
    ],
)
def test_a_bad_override_names_the_hyperparameter(overrides: dict, named: str, says: str) -> None:
    with pytest.raises(SearchSpaceError, match=re.escape(says)) as caught:
        narrowed(get_family("xgboost"), overrides)
    assert caught.value.hyperparameter == named


def test_choices_must_be_values_the_family_takes() -> None:
    forest = get_family("random-forest")
    assert narrowed(forest, {"max_features": {"choices": ["sqrt"]}})["max_features"] == Choice(("sqrt",))
    with pytest.raises(SearchSpaceError, match="'auto' is not a valid value") as caught:
        narrowed(forest, {"max_features": {"choices": ["sqrt", "auto"]}})
    assert caught.value.hyperparameter == "max_features"


def test_a_family_without_a_space_cannot_be_swept() -> None:
    bare = dataclasses.replace(get_family("logistic-regression"), search_space={})
    with pytest.raises(SearchSpaceError, match="declares no search space") as caught:
        narrowed(bare, {})
    assert caught.value.hyperparameter is None


def test_a_declared_space_outside_the_bounds_is_found() -> None:
    wrong = dataclasses.replace(get_family("lightgbm"), search_space={"learning_rate": FloatRange(0.01, 3.0)})
    with pytest.raises(SearchSpaceError, match=r"learning_rate: 3\.0 is outside its bounds"):
        check(wrong)


def test_the_spaces_become_optuna_distributions() -> None:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    space = get_family("random-forest").search_space
    assert space["max_features"].to_optuna() == CategoricalDistribution(("sqrt", "log2", None))
    assert space["n_estimators"].to_optuna() == IntDistribution(50, 500, log=True)
    assert FloatRange(0.1, 1.0).to_optuna() == FloatDistribution(0.1, 1.0)
