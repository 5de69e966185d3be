"""The sweep's Optuna study, kept in the registry's database (SQLite on the embedded stack, PostgreSQL when
the registry is there): a sweep run again under the same name (a Retry in the Prefect UI) finds its trials
and goes on from them. A trial whose process died stops beating its heartbeat and is failed by Optuna,
then retried once (Optuna's own ``RetryHeartbeatStaleTrialCallback``)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from trainyard.settings import get_settings

if TYPE_CHECKING:
    import optuna

HEARTBEAT_SECONDS = 5  # a running trial writes a heartbeat this often
GRACE_SECONDS = 20  # one not heard of for this long is failed (its worker died), and retried once


def storage(url: str | None = None) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage on the registry's database (its own tables: ``studies``, ``trials``, …)."""
    import optuna

    url = url or get_settings().resolved_registry_url
    with warnings.catch_warnings():
        # Heartbeats have been "experimental" since Optuna 2.8; they are its one way to find a dead trial.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url,
            heartbeat_interval=HEARTBEAT_SECONDS,
            grace_period=GRACE_SECONDS,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1),
            # SQLite: wait for the other writers (the API, flow runs) as the registry's own engine does.
            engine_kwargs={"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {},
        )


def open_study(name: str, metric_direction: str, *, sampler: str = "tpe", pruner: str = "median",
               seed: int | None = None, url: str | None = None) -> optuna.Study:  # fmt: skip
    """The study called ``name``, made on first use and loaded (with its trials) after."""
    import optuna

    samplers: dict[str, Any] = {"tpe": lambda: optuna.samplers.TPESampler(seed=seed),
                                "random": lambda: optuna.samplers.RandomSampler(seed=seed)}  # fmt: skip
    pruners: dict[str, Any] = {"median": lambda: optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
                               "none": optuna.pruners.NopPruner}  # fmt: skip
    return optuna.create_study(study_name=name, storage=storage(url), direction=metric_direction,
                               sampler=samplers[sampler](), pruner=pruners[pruner](), load_if_exists=True)  # fmt: skip


def finished(study: optuna.Study) -> int:
    """Trials that count towards the sweep's total: complete or pruned (failed ones are counted apart)."""
    import optuna

    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=done))
