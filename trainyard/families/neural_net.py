"""A torch MLP behind the scikit-learn API, on CUDA when the worker has a GPU; saved as safetensors
weights plus JSON constructor arguments (never a pickled module)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from pydantic import Field
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from trainyard import cancellation, progress
from trainyard.devices import choose
from trainyard.estimators import LabelEncodedClassifier
from trainyard.families.base import Hyperparameters, ModelFamily
from trainyard.families.storage import classes_of, save_preprocessor, with_preprocessor
from trainyard.search_space import Choice, FloatRange, IntRange

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

WEIGHTS_FILE = "model.safetensors"


class NeuralNetHyperparameters(Hyperparameters):
    hidden_layer_sizes: list[Annotated[int, Field(ge=1, le=4096)]] = Field(
        default_factory=lambda: [64, 32], min_length=1, max_length=8
    )
    dropout: float = Field(0.1, ge=0, lt=1)
    learning_rate: float = Field(1e-3, gt=0, le=1)
    weight_decay: float = Field(1e-4, ge=0, le=1)
    epochs: int = Field(30, ge=1, le=1000)
    batch_size: int = Field(256, ge=1, le=65_536)
    # Small-batch MLP steps are latency-bound: on 2 cores, 1 thread trained 3.6x faster than 2.
    num_threads: int = Field(1, ge=1, le=256)


class TorchMLP(BaseEstimator):
    """A feed-forward net (ReLU, dropout, AdamW) on dense float features; the classifier and the
    regressor below differ only in their output layer, loss and answer."""

    def __init__(
        self,
        *,
        hidden_layer_sizes: tuple[int, ...] = (64, 32),
        dropout: float = 0.1,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        epochs: int = 30,
        batch_size: int = 256,
        num_threads: int = 1,
        device: str = "cpu",
        random_state: int | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.device = device
        self.random_state = random_state

    def _build(self, n_features: int, n_outputs: int) -> Any:
        from torch import nn

        layers: list[nn.Module] = []
        width = n_features
        for size in self.hidden_layer_sizes:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(self.dropout)]
            width = size
        layers.append(nn.Linear(width, n_outputs))
        return nn.Sequential(*layers)

    def _train(self, X: Any, targets: np.ndarray, n_outputs: int, loss_fn: Any) -> None:
        """Minibatch AdamW on ``targets`` (what ``loss_fn`` compares the net's outputs with)."""
        import torch

        torch.set_num_threads(self.num_threads)  # process-wide in torch; flows run one net per process
        features = np.asarray(X, dtype=np.float32)
        self.n_features_in_ = features.shape[1]
        generator = torch.Generator().manual_seed(self.random_state or 0)
        torch.manual_seed(self.random_state or 0)
        device = torch.device(self.device)
        module = self._build(self.n_features_in_, n_outputs).to(device)
        optimizer = torch.optim.AdamW(module.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        x_all = torch.from_numpy(features).to(device)
        y_all = torch.from_numpy(targets).to(device)
        module.train()
        for epoch in range(self.epochs):
            order = torch.randperm(len(x_all), generator=generator).to(device)
            for start in range(0, len(order), self.batch_size):
                cancellation.check()
                batch = order[start : start + self.batch_size]
                optimizer.zero_grad(set_to_none=True)
                loss_fn(module(x_all[batch]), y_all[batch]).backward()
                optimizer.step()
            progress.advance(epoch + 1, self.epochs, "epochs")
        self.module_ = module.eval()

    def _outputs(self, X: Any, n_outputs: int, answer: Any) -> np.ndarray:
        """``answer(outputs)`` of the net over ``X``, in chunks (a 1M-row table does not fit a GPU at once)."""
        import torch

        check_is_fitted(self)
        features = torch.from_numpy(np.asarray(X, dtype=np.float32))
        device = next(self.module_.parameters()).device
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(features), 65_536):
                chunks.append(answer(self.module_(features[start : start + 65_536].to(device))).cpu().numpy())
        return np.concatenate(chunks) if chunks else np.empty((0, n_outputs), dtype=np.float32)

    def export(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(JSON-safe constructor args and shapes, state_dict of CPU tensors) for safe persistence."""
        check_is_fitted(self)
        args = {**self.get_params(), "hidden_layer_sizes": list(self.hidden_layer_sizes)}
        args.update(n_features_in=int(self.n_features_in_), **self._fitted_args())
        state = {k: v.detach().cpu().contiguous() for k, v in self.module_.state_dict().items()}
        return args, state

    def _fitted_args(self) -> dict[str, Any]:
        raise NotImplementedError

    def _restore_fitted(self, args: dict[str, Any]) -> int:
        """Set the fitted attributes ``_fitted_args`` wrote; the number of outputs."""
        raise NotImplementedError

    @classmethod
    def restore(cls, args: dict[str, Any], state: dict[str, Any], device: str = "cpu") -> Any:
        """Rebuild a fitted net from ``export()``'s output."""
        known = set(cls().get_params())
        est = cls(**{key: value for key, value in args.items() if key in known and key != "device"}, device=device)
        est.hidden_layer_sizes = tuple(args["hidden_layer_sizes"])
        est.n_features_in_ = args["n_features_in"]
        module = est._build(est.n_features_in_, est._restore_fitted(args))
        module.load_state_dict(state)
        est.module_ = module.to(device).eval()
        return est


class TorchMLPClassifier(ClassifierMixin, TorchMLP):
    """The net with a softmax output, trained on cross-entropy.

    Expects integer labels 0..k-1 (wrap it in ``LabelEncodedClassifier`` for others).
    """

    def fit(self, X: Any, y: Any) -> TorchMLPClassifier:
        import torch

        labels = np.asarray(y, dtype=np.int64)
        self.classes_ = np.unique(labels)
        self._train(X, labels, int(labels.max()) + 1, torch.nn.CrossEntropyLoss())
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        import torch

        return self._outputs(X, len(self.classes_), lambda logits: torch.softmax(logits, dim=1))

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def _fitted_args(self) -> dict[str, Any]:
        return {"classes": [int(c) for c in self.classes_]}

    def _restore_fitted(self, args: dict[str, Any]) -> int:
        self.classes_ = np.asarray(args["classes"])
        return int(max(args["classes"])) + 1


class TorchMLPRegressor(RegressorMixin, TorchMLP):
    """The net with one linear output, trained on squared error of the standardised target (the
    answer is scaled back: a target in the thousands trains as well as one around 1)."""

    def fit(self, X: Any, y: Any) -> TorchMLPRegressor:
        import torch

        values = np.asarray(y, dtype=np.float64)
        self.target_mean_, self.target_scale_ = float(values.mean()), float(values.std()) or 1.0
        scaled = ((values - self.target_mean_) / self.target_scale_).astype(np.float32).reshape(-1, 1)
        self._train(X, scaled, 1, torch.nn.MSELoss())
        return self

    def predict(self, X: Any) -> np.ndarray:
        return self._outputs(X, 1, lambda out: out)[:, 0].astype(np.float64) * self.target_scale_ + self.target_mean_

    def _fitted_args(self) -> dict[str, Any]:
        return {"target_mean": self.target_mean_, "target_scale": self.target_scale_}

    def _restore_fitted(self, args: dict[str, Any]) -> int:
        self.target_mean_, self.target_scale_ = float(args["target_mean"]), float(args["target_scale"])
        return 1


def choose_device(requested: str) -> str:
    import torch

    return choose(requested, torch.cuda.is_available(), "torch")


def _args(hyperparameters: dict[str, Any], random_state: int, device: str) -> dict[str, Any]:
    hidden = tuple(hyperparameters["hidden_layer_sizes"])
    return {**hyperparameters, "hidden_layer_sizes": hidden, "device": device, "random_state": random_state}


def build(hyperparameters: dict[str, Any], random_state: int, device: str) -> Any:
    return LabelEncodedClassifier(TorchMLPClassifier(**_args(hyperparameters, random_state, device)))


def build_regressor(hyperparameters: dict[str, Any], random_state: int, device: str) -> Any:
    return TorchMLPRegressor(**_args(hyperparameters, random_state, device))


def save(pipeline: Pipeline, folder: Path) -> dict[str, Any]:
    from safetensors.torch import save_file

    model = save_preprocessor(pipeline, folder)
    args, state = getattr(model, "estimator_", model).export()
    save_file(state, str(folder / WEIGHTS_FILE))
    return {**classes_of(model), "estimator_args": args}


def load(folder: Path, manifest: dict[str, Any], device: str) -> Pipeline:
    from safetensors.torch import load_file

    state = load_file(str(folder / WEIGHTS_FILE))
    if "classes" not in manifest:
        return with_preprocessor(folder, TorchMLPRegressor.restore(manifest["estimator_args"], state, device=device))
    net = TorchMLPClassifier.restore(manifest["estimator_args"], state, device=device)
    return with_preprocessor(folder, LabelEncodedClassifier.from_fitted(net, manifest["classes"]))


FAMILY = ModelFamily(
    name="neural-net",
    summary="Torch MLP on one dataset; CUDA when the worker has a GPU.",
    hyperparameters=NeuralNetHyperparameters,
    build=build,
    build_regressor=build_regressor,
    save=save,
    load=load,
    pool="gpu",
    choose_device=choose_device,
    scale=True,
    preload=("torch", "safetensors.torch"),
    libraries=("torch", "safetensors"),
    smoke_hyperparameters={"epochs": 3},
    search_space={
        "dropout": FloatRange(0.0, 0.5),
        "learning_rate": FloatRange(1e-4, 3e-2, log=True),
        "weight_decay": FloatRange(1e-6, 1e-2, log=True),
        "epochs": IntRange(10, 100, log=True),
        "batch_size": Choice((64, 128, 256, 512)),
    },
)
