"""Models held in the API process for online prediction: each loaded and verified once, found again by
its reference, and replaced when its alias moves (no restart).

An alias is resolved again once it is ``alias_seconds`` old, so a moved alias answers from the new
version within that (plus the new model's load). A model whose dataset spec file was edited is loaded
again, so an incompatible change is refused (409) at once. A request only ever gets a model that finished
loading: the new one is loaded beside the old, which keeps answering until the swap.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from trainyard.datasets import get_spec
from trainyard.errors import DatasetError
from trainyard.scoring import ModelRef, ResolvedModel, Scorer, load_scorer, resolve

MAX_MODELS = 8  # least recently used beyond this are dropped


class Predictors:
    def __init__(self, alias_seconds: float = 1.0) -> None:
        self.alias_seconds = alias_seconds
        self._refs: dict[tuple[str, str | None], tuple[ResolvedModel, float]] = {}
        self._models: OrderedDict[tuple[str, str, str], Scorer] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, str, str], threading.Lock] = {}

    def get(self, ref: ModelRef, dataset: str | None = None) -> Scorer:
        """The loaded model ``ref`` names now (ModelNotFoundError, SpecChangedError, DatasetError)."""
        model = self._resolve(ref, dataset)
        key = (model.model_type, model.version, model.sha256)
        with self._lock:
            if (scorer := self._models.get(key)) is not None and _spec_unchanged(scorer):
                self._models.move_to_end(key)
                return scorer
            self._models.pop(key, None)  # its spec was edited: loaded again, and checked (409 if incompatible)
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # one load per model; other requests for it wait, requests for others do not
            with self._lock:
                scorer = self._models.get(key)
            if scorer is None:
                scorer = load_scorer(model)
                with self._lock:
                    self._models[key] = scorer
                    while len(self._models) > MAX_MODELS:
                        self._models.popitem(last=False)
        with self._lock:
            self._loading.pop(key, None)
        return scorer

    def _resolve(self, ref: ModelRef, dataset: str | None) -> ResolvedModel:
        key = (str(ref), dataset)
        now = time.monotonic()
        with self._lock:
            cached = self._refs.get(key)
        if cached is not None and (ref.version is not None or now - cached[1] < self.alias_seconds):
            return cached[0]
        model = resolve(ref, dataset)
        with self._lock:
            self._refs[key] = (model, now)
        return model


def _spec_unchanged(scorer: Scorer) -> bool:
    """The spec file the model was loaded with is still the registered one (a stat, memoised by mtime)."""
    try:
        return get_spec(scorer.spec.kind).sha256 == scorer.spec.sha256
    except DatasetError:
        return False
