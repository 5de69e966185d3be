"""Choosing cpu or cuda from what the machine really has (each GPU family says what its library sees)."""

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


def choose(requested: str, available: bool, library: str) -> Device:
    """``auto`` picks cuda when ``available``; ``cuda`` without it is an error, not a fallback.

    A run's ``auto`` defers to the worker's setting (``TRAINYARD_DEVICE``), so a GPU pool can insist
    on cuda.
    """
    if requested == "auto":
        requested = get_settings().device
    if requested == "cuda" and not available:
        raise RuntimeError(f"device 'cuda' requested but {library} cannot use a CUDA device on this worker")
    return "cuda" if requested == "cuda" or (requested == "auto" and available) else "cpu"
