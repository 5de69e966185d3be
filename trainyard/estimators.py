"""A scikit-learn-API wrapper the families share: label encoding around an estimator that wants 0..k-1."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted


class LabelEncodedClassifier(ClassifierMixin, BaseEstimator):
    """Fit ``estimator`` on integer-coded labels and answer in the original labels.

    Gradient boosting and neural nets want classes 0..k-1; datasets carry "HIGH"/"LOW" or 0/1.
    """

    def __init__(self, estimator: Any = None) -> None:
        self.estimator = estimator

    def fit(self, X: Any, y: Any) -> LabelEncodedClassifier:
        self.label_encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.label_encoder_.classes_
        self.estimator_ = clone(self.estimator).fit(X, self.label_encoder_.transform(y))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    @classmethod
    def from_fitted(cls, estimator: Any, classes: list[Any]) -> LabelEncodedClassifier:
        """Rebuild a fitted wrapper around an already fitted (reloaded) ``estimator``."""
        wrapper = cls(estimator=estimator)
        wrapper.label_encoder_ = LabelEncoder()
        wrapper.label_encoder_.classes_ = np.asarray(classes)
        wrapper.classes_ = wrapper.label_encoder_.classes_
        wrapper.estimator_ = estimator
        return wrapper
