"""A model family is one module: the registry finds it, everything else is derived, nothing else names it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from deployments.families import out_of_date
from trainyard.families import families
from trainyard.settings import PROJECT_ROOT

ADDED_AS_ONE_MODULE = {"lightgbm": "trainyard/families/lightgbm.py",
                       "logistic": "trainyard/families/logistic_regression.py"}  # fmt: skip


def test_the_deployment_files_match_the_registry() -> None:
    assert out_of_date() == [], "run `trainyard models deployments --write`"


def _product_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "*.py", "*.yaml", "*.toml"], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, check=True).stdout.split()  # fmt: skip
    skipped = ("tests/", "bench/", "docs/")
    return [PROJECT_ROOT / f for f in listed
            if not f.startswith(skipped) and not (f.startswith("prefect") and f.endswith(".yaml"))]  # fmt: skip


@pytest.mark.parametrize("name", list(ADDED_AS_ONE_MODULE))
def test_a_family_added_as_one_module_is_named_by_no_other_product_file(name: str) -> None:
    # pyproject.toml names the library it needs (a dependency, not code); the generated deployment
    # files are written by `trainyard models deployments --write`.
    own = PROJECT_ROOT / ADDED_AS_ONE_MODULE[name]
    naming = [str(p.relative_to(PROJECT_ROOT)) for p in _product_files()
              if p != own and p.name != "pyproject.toml" and name in p.read_text().lower()]  # fmt: skip
    assert naming == []


def test_every_family_has_what_the_rest_derives_from_it() -> None:
    for name, family in families().items():
        assert family.hyperparameters(**family.smoke_hyperparameters), name  # defaults and bounds validate
        assert family.pool in ("cpu", "gpu") and family.summary.endswith("."), name


FAMILY_MODULE = '''
from sklearn.dummy import DummyClassifier

from trainyard.families.base import Hyperparameters, ModelFamily
from trainyard.families.storage import save_skops_pipeline, skops_pipeline_loader

class Params(Hyperparameters):
    strategy: str = "prior"

FAMILY = ModelFamily(
    name="majority-vote", summary="Predicts the most frequent class.", hyperparameters=Params,
    build=lambda params, seed, device: DummyClassifier(**params, random_state=seed),
    save=save_skops_pipeline,
    load=skops_pipeline_loader(frozenset({"sklearn.dummy.DummyClassifier"})),
)
'''
CHECK = '''
from flows.train import FLOWS, train_majority_vote
from trainyard.params import PARAMS_BY_TYPE, ModelType, TrainAllParams
from deployments.families import blocks
from api.gateway.client import DEPLOYMENTS
print(ModelType.MAJORITY_VOTE, train_majority_vote.name, DEPLOYMENTS["majority-vote"],
      TrainAllParams().majority_vote.strategy, "flows.train:train_majority_vote" in "".join(blocks().values()))
'''


def test_a_third_party_family_registered_by_entry_point_gets_a_flow_a_deployment_and_a_job_type(
        tmp_path: Path) -> None:  # fmt: skip
    (tmp_path / "majority_family.py").write_text(FAMILY_MODULE)
    dist = tmp_path / "majority_family-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: majority-family\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[trainyard.families]\nmajority-vote = majority_family:FAMILY\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(PROJECT_ROOT)])}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(CHECK)], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["majority-vote", "train-majority-vote", "train-majority-vote/majority-vote",
                                     "prior", "True"]  # fmt: skip
