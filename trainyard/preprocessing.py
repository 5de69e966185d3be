"""Feature preprocessing per dataset, as a scikit-learn ColumnTransformer."""

from __future__ import annotations

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from trainyard.datasets import DatasetSpec


def build_preprocessor(spec: DatasetSpec, *, impute: bool, scale: bool) -> ColumnTransformer:
    """One-hot the categoricals; impute (median) and optionally scale the numeric columns.

    Each family says which it needs (``ModelFamily.impute``, ``.scale``): gradient boosting takes NaN
    itself, a net or a linear model wants scaled inputs.
    """
    numeric = [c.name for c in spec.numeric] + list(spec.flags)
    numeric_steps = ([SimpleImputer(strategy="median")] if impute else []) + ([StandardScaler()] if scale else [])
    transformers = []
    if spec.categorical:
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype="float32")
        transformers.append(("categorical", encoder, list(spec.categorical)))
    transformers.append(("numeric", make_pipeline(*numeric_steps) if numeric_steps else "passthrough", numeric))
    return ColumnTransformer(transformers, sparse_threshold=0.0, verbose_feature_names_out=False)
