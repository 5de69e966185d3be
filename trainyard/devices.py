"""Choosing cpu or cuda for torch and XGBoost from what the machine really has."""

from __future__ import annotations

import ctypes
from functools import lru_cache
from typing import Literal

from trainyard.settings import get_settings

Device = Literal["cpu", "cuda"]


@lru_cache(maxsize=1)
def cuda_device_count() -> int:
    """Visible CUDA devices, asked of the driver itself (no torch import, no silent fallback)."""
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    count = ctypes.c_int(0)
    if driver.cuInit(0) != 0 or driver.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return count.value


def _choose(requested: str, available: bool, library: str) -> Device:
    # A run's "auto" defers to the worker's setting, so a GPU pool can insist on cuda.
    if requested == "auto":
        requested = get_settings().device
    if requested == "cuda" and not available:
        raise RuntimeError(f"device 'cuda' requested but {library} cannot use a CUDA device on this worker")
    return "cuda" if requested == "cuda" or (requested == "auto" and available) else "cpu"


def torch_device(requested: str) -> Device:
    """``auto`` picks cuda when torch sees a GPU; ``cuda`` without one is an error, not a fallback."""
    import torch

    return _choose(requested, torch.cuda.is_available(), "torch")


def xgboost_device(requested: str) -> Device:
    """Same rule for XGBoost: its build must have CUDA and the driver must report a device.

    (XGBoost itself only warns and falls back to the CPU when told ``cuda`` without a GPU.)
    """
    import xgboost

    available = bool(xgboost.build_info().get("USE_CUDA")) and cuda_device_count() > 0
    return _choose(requested, available, "XGBoost")
