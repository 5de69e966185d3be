"""The raw-Prefect baseline: a flow that does nothing."""

from prefect import flow


@flow(name="bench-noop")
def noop() -> None:
    """Return at once."""
