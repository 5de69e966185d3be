import numpy as np
import pytest

from tasks.evaluate import compute_metrics


def test_binary_metrics_by_hand() -> None:
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0, 1, 1, 1])
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7]])
    metrics = compute_metrics(y_true, y_pred, proba, np.array([0, 1]))
    assert metrics.accuracy == pytest.approx(0.75)
    assert metrics.roc_auc == pytest.approx(1.0)
    assert metrics.per_class["1"] == {"precision": pytest.approx(2 / 3), "recall": 1.0, "accuracy": 1.0,
                                      "f1_score": pytest.approx(0.8), "support": 2}  # fmt: skip
    assert metrics.confusion_matrix == {"labels": ["0", "1"], "matrix": [[1, 1], [0, 2]]}


def test_multiclass_per_class_and_macro() -> None:
    classes = np.array(["HIGH", "LOW", "MEDIUM"])
    y_true = np.array(["HIGH", "LOW", "MEDIUM", "MEDIUM"])
    y_pred = np.array(["HIGH", "MEDIUM", "MEDIUM", "MEDIUM"])
    proba = np.eye(3)[[0, 2, 2, 2]]
    metrics = compute_metrics(y_true, y_pred, proba, classes)
    assert metrics.per_class["LOW"]["recall"] == 0.0
    assert metrics.recall_macro == pytest.approx((1 + 0 + 1) / 3)
    assert metrics.roc_auc is not None


def test_auc_is_null_when_test_rows_hold_one_class() -> None:
    metrics = compute_metrics(np.array([1, 1]), np.array([1, 1]), np.array([[0.2, 0.8]] * 2), np.array([0, 1]))
    assert metrics.roc_auc is None
