"""One direction of travel: cli → runtime → (api | flows) → tasks → trainyard (the core). Every import of
the product's packages, at module level or inside a function, is checked against the allowed arrows."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What each package may import of the others (the core imports none of them).
ALLOWED = {
    "trainyard": set(),
    "tasks": {"trainyard"},
    "flows": {"tasks", "trainyard"},
    "api": {"trainyard", "deployments"},  # it reaches flows through Prefect only (api.gateway)
    "deployments": {"trainyard"},
    "runtime": {"flows", "tasks", "trainyard", "deployments"},
    "cli": {"runtime", "flows", "tasks", "trainyard", "deployments"},
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(ALLOWED)


def test_no_package_imports_against_the_direction_of_travel() -> None:
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for imported in _imports(path) - allowed - {package}:
                wrong.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not wrong, "\n".join(wrong)


def test_only_the_gateway_of_the_api_imports_deployments() -> None:
    """The API talks to Prefect through api.gateway alone; deployments.schedules is Prefect-facing code."""
    wrong = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "api").rglob("*.py"))
             if "deployments" in _imports(path) and "gateway" not in path.relative_to(ROOT).parts]  # fmt: skip
    assert not wrong, wrong


def test_the_core_holds_no_runtime_or_command_line_module() -> None:
    names = {path.stem for path in (ROOT / "trainyard").rglob("*.py")}
    runtime = {"stack", "processes", "supervisor", "worker", "image", "prefect_server", "store_lock", "warm"}
    assert not names & runtime and not {name for name in names if name.startswith("cli")}
