"""The Prefect client side of the gateway: trigger, read, list, cancel, logs."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
from cachetools import TTLCache
from prefect import get_client
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterType,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterParentFlowRunId,
    FlowRunFilterParentTaskRunId,
    FlowRunFilterState,
    FlowRunFilterStateType,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun, StateType, WorkPool
from prefect.client.schemas.sorting import FlowRunSort, LogSort
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.states import Cancelled, Cancelling, Crashed

from api.gateway.cache import ViewCache
from api.gateway.errors import IdempotencyConflict, JobNotFound, outage_guarded
from api.gateway.streams import follow_streams
from deployments import schedules
from trainyard.datasets.schedules import Schedule, dataset_of
from trainyard.families import families
from trainyard.states import TERMINAL_JOB_STATUSES, JobStatus, default_state_name, job_status

# The deployment each job type runs (every registered family, and "all"), and the flow name that
# identifies a job's type.
DEPLOYMENTS: dict[str, str] = {**{name: f.deployment for name, f in families().items()}, "all": "train-all/all",
                               "score": "score/score"}
FLOW_TYPES: dict[str, str] = {d.split("/")[0]: t for t, d in DEPLOYMENTS.items()}
STATE_TYPES_BY_STATUS: dict[JobStatus, list[StateType]] = {
    status: [s for s in StateType if job_status(s) is status] for status in JobStatus
}
NOT_STARTED = {StateType.SCHEDULED}
POOL_STATUS_SECONDS = 2.0
PROGRESS_SECONDS = 1.0  # runs publish progress at most once a second (trainyard.progress.FLUSH_SECONDS)
TRIGGER_ATTEMPTS = 8  # jittered backoff 0.25 s .. 8 s: ~30 s at most before a 503 reaches the client
TERMINAL = frozenset(s for s in StateType if job_status(s) in TERMINAL_JOB_STATUSES)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """A run's progress as it published it: the fraction done and the step it is in."""

    fraction: float
    step: str


@dataclass(frozen=True)
class JobView:
    """What the API needs of a flow run."""

    id: str
    model_type: str
    state_type: StateType
    state_name: str
    message: str | None
    started_at: datetime | None
    ended_at: datetime | None
    parent_task_run_id: str | None
    work_pool: str | None = None

    @property
    def status(self) -> JobStatus:
        return job_status(self.state_type)


class PrefectGateway:
    """Wraps one long-lived ``SyncPrefectClient`` (thread-safe: httpx.Client underneath)."""

    def __init__(
        self, client: SyncPrefectClient, flow_names: dict[str, str] | None = None, cache: ViewCache | None = None
    ) -> None:
        self.client = client
        self.flow_types = flow_names or FLOW_TYPES
        self.cache = cache or ViewCache(max_age=0)  # off unless ``follow`` keeps it true
        self._deployment_ids: dict[str, UUID] = {}
        self._flow_types: dict[UUID, str | None] = {}  # flow ids never change: one read per flow
        self._pools: TTLCache[str, WorkPool] = TTLCache(maxsize=64, ttl=POOL_STATUS_SECONDS)
        self._pools_lock = threading.Lock()
        self._progress: TTLCache[str, Progress | None] = TTLCache(maxsize=1024, ttl=PROGRESS_SECONDS)
        self._progress_lock = threading.Lock()
        self._schedules_lock = threading.Lock()

    @classmethod
    @contextmanager
    def connect(cls, cache: ViewCache | None = None) -> Iterator[PrefectGateway]:
        """A gateway on a client for ``PREFECT_API_URL``, closed on exit."""
        with get_client(sync_client=True) as client:
            yield cls(client, cache=cache)

    def _model_type(self, flow_id: UUID) -> str | None:
        """The job type a flow's runs are, or None for flows that are not trainyard's."""
        if flow_id not in self._flow_types:
            self._flow_types[flow_id] = self.flow_types.get(self.client.read_flow(flow_id).name)
        return self._flow_types[flow_id]

    @outage_guarded
    def trigger(self, model_type: str, parameters: dict[str, Any], idempotency_key: str | None) -> JobView:
        """Create a flow run of the type's deployment; the same idempotency key returns the same run.

        A SQLite-backed Prefect server answers 503 ("database is locked") under bursts of writes,
        past what Prefect's client retries. The key (generated when the caller gave none) makes
        retrying safe: a create that did land is returned, never duplicated. Prefect returns the
        first run made under a key whatever the parameters; a different request is refused instead.
        """
        name = DEPLOYMENTS[model_type]
        key = idempotency_key or f"trainyard-{uuid4()}"
        for attempt in range(TRIGGER_ATTEMPTS):
            try:
                if name not in self._deployment_ids:
                    self._deployment_ids[name] = self.client.read_deployment_by_name(name).id
                run = self.client.create_flow_run_from_deployment(
                    self._deployment_ids[name], parameters=parameters, idempotency_key=key
                )
                if idempotency_key and run.parameters != parameters:
                    raise IdempotencyConflict(f"Idempotency-Key already used for job {run.id} with other parameters")
                self.cache.run_changed(str(run.id))  # listings show it now, before Prefect's event arrives
                return self._view(run, model_type)
            except PrefectHTTPStatusError as exc:
                if exc.response.status_code != 503 or attempt == TRIGGER_ATTEMPTS - 1:
                    raise
                time.sleep(min(8.0, 0.25 * 2**attempt) * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")

    @outage_guarded
    def get(self, job_id: str) -> JobView:
        try:
            run = self.cache.get(("run", job_id), lambda: self.client.read_flow_run(UUID(job_id)))
        except (ValueError, ObjectNotFound) as exc:
            raise JobNotFound(job_id) from exc
        model_type = self._model_type(run.flow_id)
        if model_type is None:
            raise JobNotFound(job_id)
        return self._view(run, model_type)

    @outage_guarded
    def list(self, limit: int, statuses: list[JobStatus], model_types: list[str]) -> tuple[list[JobView], int]:
        """Top-level jobs (not sub-jobs), newest first, and how many match in total.

        Runs a schedule created ahead of time are not jobs until they are due: Prefect's scheduler
        keeps weeks of future runs of a nightly deployment, which would otherwise fill every page.
        """
        flows = FlowFilter(name=FlowFilterName(any_=[f for f, t in self.flow_types.items() if t in model_types]))
        run_filter = FlowRunFilter(
            parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=True),
            expected_start_time=FlowRunFilterExpectedStartTime(before_=datetime.now(UTC)),
        )
        if statuses:
            wanted = [state for status in statuses for state in STATE_TYPES_BY_STATUS[status]]
            run_filter.state = FlowRunFilterState(type=FlowRunFilterStateType(any_=wanted))
        runs, total = self.cache.get(
            ("list", limit, tuple(statuses), tuple(model_types)),
            lambda: (
                self.client.read_flow_runs(flow_filter=flows, flow_run_filter=run_filter,
                                           sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=limit),
                self.client.count_flow_runs(flow_filter=flows, flow_run_filter=run_filter),
            ),
        )  # fmt: skip
        return [self._view(run, self._model_type(run.flow_id) or "unknown") for run in runs], total

    @outage_guarded
    def children(self, job_id: str) -> list[JobView]:
        runs = self.cache.get(
            ("children", job_id),
            lambda: self.client.read_flow_runs(
                flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[UUID(job_id)])),
                sort=FlowRunSort.START_TIME_ASC,
                limit=20,
            ),
        )
        return [self._view(run, self._model_type(run.flow_id) or "unknown") for run in runs]

    @outage_guarded
    def cancel(self, job: JobView, *, has_own_process: bool = True) -> JobStatus:
        """Prefect cancellation: a run not yet started is Cancelled at once, a live one Cancelling
        (the worker then terminates its process and the run ends Cancelled). A sub-job runs inside
        its parent's process, which the parent's cancellation ends: it is Cancelled directly."""
        direct = job.state_type in NOT_STARTED or not has_own_process
        state = Cancelled(message="parent job cancelled" if not has_own_process else None) if direct else Cancelling()
        self.client.set_flow_run_state(UUID(job.id), state=state, force=True)
        self.cache.run_changed(job.id)
        return job_status(state.type)

    @outage_guarded
    def parent_state(self, job: JobView) -> StateType | None:
        """State of the flow run a sub-job runs inside, or None for a top-level job."""
        if job.parent_task_run_id is None:
            return None
        parent_task = self.client.read_task_run(UUID(job.parent_task_run_id))
        parent = self.client.read_flow_run(parent_task.flow_run_id)
        return parent.state.type if parent.state else None

    @outage_guarded
    def active_runs(self) -> list[tuple[JobView, str | None, datetime | None]]:
        """Runs that may hold a process: (view, ``host:pid`` recorded by the worker, state timestamp)."""
        live = [StateType.PENDING, StateType.RUNNING, StateType.CANCELLING]
        runs = self.client.read_flow_runs(
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=live))),
            sort=FlowRunSort.START_TIME_ASC,
            limit=200,
        )
        return [
            (self._view(run, self._model_type(run.flow_id) or "unknown"),
             str(run.infrastructure_pid) if run.infrastructure_pid else None,
             run.state.timestamp if run.state else None)
            for run in runs
        ]  # fmt: skip

    @outage_guarded
    def mark(self, job_id: str, state_type: StateType, message: str) -> None:
        """Force a terminal state the run's own process can no longer report."""
        state = Crashed(message=message) if state_type is StateType.CRASHED else Cancelled(message=message)
        self.client.set_flow_run_state(UUID(job_id), state=state, force=True)
        self.cache.run_changed(job_id)

    @outage_guarded
    def logs(self, job_id: str, limit: int = 20) -> list[str]:
        entries = self.cache.get(
            ("logs", job_id, limit),
            lambda: self.client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(job_id)])),
                limit=limit,
                sort=LogSort.TIMESTAMP_DESC,
            ),
        )
        return [f"{e.timestamp.isoformat()} {e.message}" for e in reversed(entries)]

    @outage_guarded
    def waiting_reason(self, job: JobView) -> str | None:
        """Why a job that has not started yet cannot start now (its pool is paused or has no live
        worker), or None. Pool reads are kept for ``POOL_STATUS_SECONDS``: no event announces them."""
        if job.state_type not in NOT_STARTED or job.work_pool is None:
            return None
        with self._pools_lock:  # cachetools caches are not thread-safe; routes run in a thread pool
            pool = self._pools.get(job.work_pool)
        if pool is None:
            try:
                pool = self.client.read_work_pool(job.work_pool)
            except ObjectNotFound:
                return f"work pool {job.work_pool!r} does not exist: no worker will start this job"
            with self._pools_lock:
                self._pools[job.work_pool] = pool
        if pool.is_paused:
            return f"work pool {job.work_pool!r} is paused: the job starts when an operator resumes it"
        if pool.status is not None and pool.status.value != "READY":
            return (f"no live worker polls work pool {job.work_pool!r} (status {pool.status.value}): the job "
                    "starts when one does")  # fmt: skip
        return None

    @outage_guarded
    def progress(self, job: JobView) -> Progress:
        """The job's progress artifact (fraction, step); read at most once per ``PROGRESS_SECONDS`` a
        job (no event announces its updates). A job not started yet is 0 and a completed one 1; one
        that failed or was cancelled shows where it stopped."""
        if job.state_type in NOT_STARTED or job.state_type is StateType.PENDING:
            return Progress(0.0, "waiting to start")
        if job.status is JobStatus.COMPLETED:
            return Progress(1.0, "done")
        with self._progress_lock:
            found = self._progress.get(job.id, False)
        if found is False:
            artifacts = self.client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(job.id)]),
                                               type=ArtifactFilterType(any_=["progress"])),
                limit=1,
            )  # fmt: skip
            found = None
            if artifacts:
                found = Progress(round(float(artifacts[0].data or 0) / 100, 4), artifacts[0].description or "")
            with self._progress_lock:
                self._progress[job.id] = found
        return found if found is not None else Progress(0.0, job.state_name.lower())

    # --- schedules: the spec files and Prefect's deployment schedules, through deployments.schedules ---
    @outage_guarded
    def schedules(self, dataset: str | None = None) -> list[schedules.Listed]:
        """Every declared schedule (of ``dataset``) with Prefect's state of it: a pause in the UI shows here."""
        return schedules.listing(self.client, dataset)

    def check_schedule(self, schedule: Schedule) -> None:
        """``ScheduleError`` (its ``field`` at fault) unless the schedule can run: read from the specs and the
        registry, nothing from Prefect."""
        schedules.check(schedule)

    @outage_guarded
    def add_schedule(self, schedule: Schedule) -> tuple[schedules.Listed, bool]:
        """Declare a schedule in its spec and in Prefect; whether it is new (``ScheduleError`` if it cannot be)."""
        with self._schedules_lock:  # one writer here at a time: two equal requests make one Prefect schedule
            _, created = schedules.add(self.client, schedule)
        return self._listed(schedule.id), created

    @outage_guarded
    def set_schedule_active(self, schedule_id: str, active: bool) -> schedules.Listed:
        with self._schedules_lock:
            schedules.set_active(self.client, schedule_id, active)
        return self._listed(schedule_id)

    @outage_guarded
    def remove_schedule(self, schedule_id: str) -> schedules.Listed:
        """Remove a schedule from its spec and from Prefect; what it was."""
        listed = self._listed(schedule_id)
        with self._schedules_lock:
            schedules.remove(self.client, schedule_id)
        return listed

    def _listed(self, schedule_id: str) -> schedules.Listed:
        found = [entry for entry in self.schedules(dataset_of(schedule_id)) if entry.schedule.id == schedule_id]
        if not found:
            schedules.find(schedule_id)  # raises ScheduleError naming the dataset's schedules
        return found[0]

    def wait(self, job_id: str, timeout: float, poll: float = 0.5) -> JobView:
        """Poll until the job is terminal or ``timeout`` passes; returns the last view."""
        deadline = time.monotonic() + timeout
        job = self.get(job_id)
        while job.state_type not in TERMINAL and time.monotonic() < deadline:
            time.sleep(poll)
            job = self.get(job_id)
        return job

    def follow(self, stop: threading.Event) -> threading.Thread:
        """Keep ``self.cache`` true from Prefect's flow-run event and log streams (a daemon thread).

        Prefect publishes logs to its stream only with ``PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED`` and
        ``..._STREAM_PUBLISHING_ENABLED`` (``trainyard up`` sets both); without them the log stream
        connects but stays silent, so logs are then read from Prefect on every request.
        """
        logs = self.server_streams_logs()
        if not logs:
            logger.warning("the Prefect server does not stream logs out: job logs are read through, not cached")
        return follow_streams(self.cache, stop, logs=logs)

    def server_streams_logs(self) -> bool:
        """Whether the Prefect server publishes run logs to its log stream (read from its settings)."""
        try:
            response = self.client.request("GET", "/admin/settings")
            response.raise_for_status()
            logs = response.json()["server"]["logs"]
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            logger.warning("could not read the Prefect server's log-stream settings (%s)", exc)
            return False
        return bool(logs.get("stream_out_enabled") and logs.get("stream_publishing_enabled"))

    @staticmethod
    def _view(run: FlowRun, model_type: str) -> JobView:
        state = run.state
        return JobView(
            id=str(run.id),
            model_type=model_type,
            state_type=state.type if state else StateType.PENDING,
            state_name=state.name if state else default_state_name(StateType.PENDING),
            message=state.message if state else None,
            started_at=run.start_time if run.run_count > 0 else None,  # a run cancelled while queued never started
            ended_at=run.end_time,
            parent_task_run_id=str(run.parent_task_run_id) if run.parent_task_run_id else None,
            work_pool=run.work_pool_name,
        )
