"""Test helpers shared by the unit and integration suites: a fit stopped from another thread, a table
the project never saw in development."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from trainyard import cancellation


def assert_a_stop_request_ends(fit: Callable[[], object]) -> None:
    """Run ``fit`` in a thread, ask for a stop a second in, and check it ended within 3 s by TrainingStopped."""
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            fit()
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(1.0)
    assert thread.is_alive(), "the fit must still be running when the stop arrives"
    asked = time.monotonic()
    cancellation.request_stop()
    thread.join(timeout=10)
    assert not thread.is_alive() and time.monotonic() - asked < 3
    assert len(outcome) == 1 and isinstance(outcome[0], cancellation.TrainingStopped), outcome


def unseen_table(rows: int = 300, seed: int = 11) -> pd.DataFrame:
    """Names and types the project never saw: a text identifier, a category, floats, a 0/1 flag, counts, a
    nullable sensor reading, and a yes/no target."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "badge_uuid": [f"b-{i:05d}" for i in range(rows)],
        "site": rng.choice(["Lyon", "Porto", "Gdansk"], rows),
        "shift_hours": np.round(rng.uniform(4, 12, rows), 1),
        "overtime": rng.integers(0, 2, rows),
        "incidents": rng.integers(0, 9, rows),
        "sensor_drift": np.where(rng.random(rows) < 0.15, np.nan, rng.normal(0, 1, rows)),
    })  # fmt: skip
    frame["needs_review"] = np.where(frame.incidents + rng.normal(0, 1, rows) > 4, "yes", "no")
    return frame


def unseen_regression_table(rows: int = 400, seed: int = 5) -> pd.DataFrame:
    """A regression table the project never saw: a plant's hourly output (a float in the thousands) from
    its line, temperature, crew size and a maintenance flag."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "batch_id": [f"lot-{i:06d}" for i in range(rows)],
        "line": rng.choice(["north", "south", "east"], rows),
        "temperature_c": np.round(rng.normal(21, 4, rows), 2),
        "crew": rng.integers(2, 12, rows),
        "maintenance": rng.integers(0, 2, rows),
    })  # fmt: skip
    bonus = frame.line.map({"north": 300.0, "south": 0.0, "east": -200.0})
    frame["units_per_hour"] = np.round(1500 + 180 * frame.crew + bonus - 25 * (frame.temperature_c - 21) ** 2 / 4
                                       - 400 * frame.maintenance + rng.normal(0, 60, rows), 2)  # fmt: skip
    return frame
