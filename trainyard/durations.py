"""Durations as people write them on a command line or in an env var: ``90d``, ``12h``, ``30m``, ``45s``, ``2w``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    """``"90d"`` → 90 days; a number with one unit of s, m, h, d or w, above zero."""
    match = _DURATION.fullmatch(text.lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration: write a number and a unit, e.g. 90d, 12h, 30m, 45s, 2w")
    value = timedelta(**{_UNITS[match[2]]: float(match[1])})
    if value <= timedelta(0):
        raise ValueError(f"{text!r}: a duration must be longer than zero")
    return value
