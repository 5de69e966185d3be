"""The only code in the API that talks to Prefect: the client calls, their cache, and the streams
that keep the cache true. Routers, jobs logic and the reconciler import from here."""

from api.gateway.cache import ViewCache
from api.gateway.client import DEPLOYMENTS, TERMINAL, JobView, PrefectGateway, Progress
from api.gateway.errors import IdempotencyConflict, JobNotFound, PrefectUnavailable
from deployments.schedules import Listed as ListedSchedule

__all__ = [
    "DEPLOYMENTS",
    "TERMINAL",
    "IdempotencyConflict",
    "JobNotFound",
    "JobView",
    "ListedSchedule",
    "PrefectGateway",
    "PrefectUnavailable",
    "Progress",
    "ViewCache",
]
