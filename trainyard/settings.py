"""The one settings object: every knob comes from `TRAINYARD_*` environment variables."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from trainyard.durations import parse_duration

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Runtime configuration; embedded defaults, production switches by environment."""

    model_config = SettingsConfigDict(env_prefix="TRAINYARD_", env_file=None, extra="ignore")

    data_roots: list[Path] = Field(
        default_factory=lambda: [PROJECT_ROOT / "data"],
        description="Directories datasets may be read from (JSON list in the env var).",
    )
    datasets_dir: Path = Field(
        PROJECT_ROOT / "datasets",
        description="Where `trainyard datasets add` writes dataset specs (one <name>.yaml each); the built-in "
        "tables' specs are read from <repo>/datasets as well.",
    )
    artifacts_dir: Path = Field(
        PROJECT_ROOT / "artifacts",
        description="This host's working directory: logs, Prefect's home, the default SQLite registry, and (when "
        "artifacts_url is unset) the artifact store itself.",
    )
    artifacts_url: str | None = Field(
        None,
        description="Where models, staged step outputs and Prefect's task results go: unset for artifacts_dir, "
        "or an fsspec URL such as s3://bucket/prefix (S3, MinIO, any S3-compatible store).",
    )
    artifacts_options: dict[str, Any] = Field(
        default_factory=dict,
        description='The store\'s client options as JSON, e.g. {"endpoint_url": "http://minio:9000"} for s3://; '
        "credentials come from the AWS_* environment variables, not from here.",
    )
    registry_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite file in artifacts_dir.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_dataset_bytes: int = 2 * 1024**3
    max_request_bytes: int = Field(1024**2, gt=0, description="Larger request bodies are refused with 413 unread.")
    sync_wait_seconds: float = Field(120.0, ge=0)
    code_version: str | None = None
    prefect_ui_url: str = "http://127.0.0.1:4200"
    reconcile_interval_seconds: float = Field(
        5.0,
        ge=0,
        description="How often the API checks live runs' processes; 0 turns it off (needed when process "
        "workers run on other hosts than the API).",
    )
    cancel_grace_seconds: float = Field(
        45.0, gt=0, description="A run Cancelling this long whose process still runs is killed by the reconciler."
    )
    token_cache_seconds: float = Field(
        30.0,
        ge=0,
        description="How long the API remembers which user a token belongs to (by its digest); a token removed "
        "from the registry or a changed role takes effect within this. 0 checks the registry on every request.",
    )
    token_lifetime: timedelta | None = Field(
        None,
        description="How long a token issued by `POST /api-token-auth/` is valid (90d, 12h, 30m; or seconds). "
        "Unset (the default): tokens never expire, as before; `trainyard tokens create --expires` sets one token's.",
    )
    login_failures_per_user: int = Field(
        5, gt=0, description="Failed logins for one user name from one address, within login_window_seconds, "
        "before that pair is refused with 429."
    )
    login_failures_per_address: int = Field(
        20, gt=0, description="Failed logins from one address for any user names before the address is refused."
    )
    login_failures_per_user_total: int = Field(
        50, gt=0, description="Failed logins for one user name from all addresses before every address that failed "
        "for it is refused (an address that has not failed for it, the real user's, still logs in)."
    )
    login_window_seconds: float = Field(
        300.0, gt=0, description="Failures older than this (with no newer one) are forgotten."
    )
    login_delay_seconds: float = Field(
        2.0, gt=0, description="The first refusal's Retry-After; each further failure past a limit doubles it."
    )
    login_max_delay_seconds: float = Field(900.0, gt=0, description="The longest Retry-After a refusal gives.")
    login_throttle_max_entries: int = Field(
        10_000, ge=100, description="Rows the throttle keeps in the registry at most (the least recent go first)."
    )
    api_workers: int = Field(
        1, ge=1, le=64, description="uvicorn worker processes `trainyard up` runs the API with; they share the "
        "login throttle through the registry."
    )
    warm_start: bool = Field(
        True,
        description="`trainyard up` starts a warm server per pool that forks flow runs with Prefect and the ML "
        "libraries already imported; false starts every run as a fresh `python -m prefect.engine`.",
    )
    status_cache_seconds: float = Field(
        30.0,
        ge=0,
        description="The API caches Prefect reads and drops them on Prefect's flow-run events and logs; this "
        "bounds an entry's age should an event be missed. 0 reads Prefect on every request.",
    )
    promotion_metric: (
        Literal["accuracy", "precision", "recall", "f1_score", "f1_macro", "roc_auc", "rmse", "mae", "r2"] | None
    ) = Field(
        None,
        description="The hold-out metric a retraining run must improve on to become its model type's and "
        "dataset's champion (the champion is scored on the new run's held-out split). Unset: each dataset "
        "spec's `primary_metric`; a metric of the other task (a classification metric on a regression "
        "table) leaves that table on its spec's. RMSE and MAE must fall, the others rise.",
    )
    promotion_margin: float = Field(
        0.0,
        ge=0,
        le=1,
        description="How much a challenger must beat the champion's metric by (strictly more than this), in "
        "the metric's own unit.",
    )

    @field_validator("token_lifetime", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip():
            text = value.strip()
            if text.replace(".", "", 1).isdigit():
                return timedelta(seconds=float(text))
            try:
                return parse_duration(text)
            except ValueError:
                return text  # pydantic's own forms (ISO 8601: P90D), or its error
        return value or None

    @property
    def models_dir(self) -> Path:
        """Models of the local store (artifacts_url unset)."""
        return self.artifacts_dir / "models"

    @property
    def stage_dir(self) -> Path:
        """Staged tables of the local store (artifacts_url unset)."""
        return self.artifacts_dir / "stage"

    @property
    def resolved_registry_url(self) -> str:
        return self.registry_url or f"sqlite:///{self.artifacts_dir / 'registry.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Build the settings once per process, on first use (never at import time)."""
    return Settings()
