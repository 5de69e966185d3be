"""LightGBM: stopped between boosting rounds by a cancel, saved in its own text format and loaded back."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from tests.fits import assert_a_stop_request_ends
from tests.unit.test_model_store import _fitted  # its round trip (predictions) is tested there, per family
from trainyard import cancellation
from trainyard.families import get_family
from trainyard.model_store import save_model


@pytest.fixture(autouse=True)
def _fresh_stop_event(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cancellation, "_STOP", threading.Event())


def test_a_stop_request_ends_a_lightgbm_fit_in_another_thread_quickly() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 8))
    y = (X[:, 0] + rng.normal(scale=0.5, size=len(X)) > 0).astype(int)
    family = get_family("lightgbm")
    estimator = family.build(family.hyperparameters(n_estimators=10_000, learning_rate=0.01).model_dump(), 0, "cpu")
    assert_a_stop_request_ends(lambda: estimator.fit(X, y))


def test_its_model_file_is_lightgbm_text_not_a_pickle(tmp_path: Path) -> None:
    pipeline, _, _ = _fitted("lightgbm")
    saved = save_model(pipeline, "lightgbm", tmp_path / "v1", {})
    text = (tmp_path / "v1" / "model.lgb.txt").read_text()
    assert text.startswith("tree\n") and "Tree=0" in text and saved.sha256
