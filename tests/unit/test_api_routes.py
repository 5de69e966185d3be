"""Every route has an auth rule, and the state mapping is the only status source."""

from fastapi.routing import APIRoute

from api.deps import Allow
from api.main import create_app
from api.routers import audit, auth, datasets, jobs, schedules, scoring, training
from api.routers.auth import PUBLIC_PATHS

ROUTERS = (auth.router, jobs.router, training.router, datasets.router, scoring.router, schedules.router,
           audit.router)
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _rules(route: APIRoute) -> list[Allow]:
    return [dep.dependency for dep in route.dependencies if isinstance(dep.dependency, Allow)]


def test_every_route_has_an_auth_rule_or_is_public() -> None:
    routes = [r for router in ROUTERS for r in router.routes]
    assert routes
    for route in routes:
        assert isinstance(route, APIRoute)
        assert route.path in PUBLIC_PATHS or _rules(route), f"{route.path} has no auth rule"


def test_no_route_escapes_the_guarded_routers() -> None:
    guarded = {r.path for router in ROUTERS for r in router.routes}
    served = set(create_app().openapi()["paths"])
    assert served <= guarded | DOCS


def test_writes_need_a_training_role() -> None:
    for router in (jobs.router, training.router, scoring.router, schedules.router):
        for route in router.routes:
            if {"POST", "PATCH", "DELETE"} & route.methods:
                assert all("manager" not in rule.roles for rule in _rules(route)), route.path
