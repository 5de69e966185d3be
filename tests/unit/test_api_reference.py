"""docs/api.md is what `python -m api.reference` makes of the app's OpenAPI document, for every route."""

from __future__ import annotations

from api.main import create_app
from api.reference import EXAMPLES, render
from trainyard.settings import PROJECT_ROOT


def test_every_operation_has_an_example() -> None:
    spec = create_app().openapi()
    operations = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    assert operations == set(EXAMPLES), operations ^ set(EXAMPLES)


def test_the_committed_reference_is_current() -> None:
    committed = (PROJECT_ROOT / "docs" / "api.md").read_text()
    assert committed == render(create_app().openapi()), "regenerate: .venv/bin/python -m api.reference > docs/api.md"


def test_no_document_points_outside_the_repository() -> None:
    for page in [PROJECT_ROOT / "README.md", *(PROJECT_ROOT / "docs").glob("*.md")]:
        assert "../shared" not in page.read_text(), page


def test_each_operation_documents_its_roles_in_the_openapi_document() -> None:
    spec = create_app().openapi()
    for (method, path), (roles, _, _) in EXAMPLES.items():
        operation = spec["paths"][path][method.lower()]
        documented = ", ".join(operation.get("x-roles", ["anyone"]))
        assert documented == roles, (method, path, documented, roles)
