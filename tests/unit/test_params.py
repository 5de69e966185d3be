import pytest
from pydantic import ValidationError

from trainyard.families import families, get_family
from trainyard.families.random_forest import RandomForestHyperparameters
from trainyard.params import PARAMS_BY_TYPE, ModelType, TrainAllParams

RandomForestParams = PARAMS_BY_TYPE[ModelType.RANDOM_FOREST]
XGBoostParams = PARAMS_BY_TYPE[ModelType.XGBOOST]
NeuralNetParams = PARAMS_BY_TYPE[ModelType.NEURAL_NET]


def test_unknown_hyperparameter_is_named() -> None:
    with pytest.raises(ValidationError) as info:
        RandomForestParams(hyperparameters={"n_estimators": 10, "learning_rate": 0.1})
    assert "learning_rate" in str(info.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [("n_estimators", 0), ("n_estimators", 1001), ("max_depth", 0), ("max_depth", 101), ("min_samples_split", 1)],
)
def test_seed_ranges_are_enforced(field: str, value: int) -> None:
    with pytest.raises(ValidationError) as info:
        RandomForestHyperparameters(**{field: value})
    assert field in str(info.value)


@pytest.mark.parametrize("version", ["", "a b", "../x", "x" * 65, "v1/2"])
def test_bad_model_versions_are_refused(version: str) -> None:
    with pytest.raises(ValidationError):
        XGBoostParams(model_version=version)


@pytest.mark.parametrize("split", [0.05, 0.55])
def test_test_split_range(split: float) -> None:
    with pytest.raises(ValidationError):
        NeuralNetParams(test_split=split)


@pytest.mark.parametrize("alias", ["random-forest", "random_forest", "Random_Forest"])
def test_model_type_aliases(alias: str) -> None:
    assert ModelType.parse(alias) is ModelType.RANDOM_FOREST


def test_train_all_hands_each_family_its_hyperparameters() -> None:
    params = TrainAllParams(dataset="x.csv", random_forest={"n_estimators": 7}, neural_net={"epochs": 3})
    rf = params.for_model(ModelType.RANDOM_FOREST)
    nn = params.for_model(ModelType.NEURAL_NET)
    assert rf.hyperparameters.n_estimators == 7 and rf.dataset == "x.csv"
    assert nn.hyperparameters.epochs == 3


def test_every_registered_family_has_its_params_its_job_type_and_a_train_all_field() -> None:
    assert [str(t) for t in ModelType] == list(families())
    for name, family in families().items():
        params = PARAMS_BY_TYPE[ModelType(name)](hyperparameters=family.smoke_hyperparameters)
        assert isinstance(params.hyperparameters, family.hyperparameters)
        assert isinstance(getattr(TrainAllParams(), family.attribute), family.hyperparameters)
        assert TrainAllParams().for_model(name).hyperparameters == family.hyperparameters()


def test_an_unknown_family_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown model family 'catboost': one of ") as info:
        ModelType.parse("catboost")
    assert all(name in str(info.value) for name in families())
    assert get_family("logistic_regression").name == "logistic-regression"
