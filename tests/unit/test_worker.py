"""The pools' worker: which events wake it."""

from __future__ import annotations

from types import SimpleNamespace

from runtime.worker import SCHEDULED, EventDrivenProcessWorker, scheduled_in_pool


def _event(name: str, pool: str | None) -> SimpleNamespace:
    related = [{"prefect.resource.id": "prefect.flow.1", "prefect.resource.role": "flow"}]
    if pool is not None:
        related.append({"prefect.resource.id": "prefect.work-pool.2", "prefect.resource.role": "work-pool",
                        "prefect.resource.name": pool})  # fmt: skip
    return SimpleNamespace(event=name, related=related)


def test_only_a_run_scheduled_in_its_own_pool_wakes_the_worker() -> None:
    assert scheduled_in_pool(_event(SCHEDULED, "cpu"), "cpu")
    assert not scheduled_in_pool(_event(SCHEDULED, "gpu"), "cpu")
    assert not scheduled_in_pool(_event("prefect.flow-run.Running", "cpu"), "cpu")
    assert not scheduled_in_pool(_event(SCHEDULED, None), "cpu")  # a run without a pool (flow.serve, in-process)


def test_the_worker_serves_process_pools_without_taking_prefects_process_type() -> None:
    from prefect.utilities.dispatch import lookup_type
    from prefect.workers.base import BaseWorker
    from prefect.workers.process import ProcessWorker

    assert EventDrivenProcessWorker.type == "process"  # what a pool's type is matched against
    assert lookup_type(BaseWorker, "process") is ProcessWorker  # `prefect worker start --type process` unchanged
