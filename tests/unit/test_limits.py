"""Request and error-body bounds, on a real ASGI app in-process."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from api.limits import MAX_ERRORS, BodySizeLimit, bounded_errors, excerpt


def _client(limit: int) -> TestClient:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict:
        return {"size": len(await request.body())}

    @app.post("/model")
    def model(body: dict) -> dict:  # FastAPI parses this body itself (and turns its read errors into 400s)
        return {"keys": len(body)}

    app.add_middleware(BodySizeLimit, max_bytes=limit)
    return TestClient(app)


def test_bodies_up_to_the_limit_pass_and_larger_ones_get_413() -> None:
    client = _client(100)
    assert client.post("/echo", content=b"x" * 100).json() == {"size": 100}
    refused = client.post("/echo", content=b"x" * 101)
    assert refused.status_code == 413 and "100 bytes" in refused.json()["detail"]


def test_a_chunked_body_is_counted_as_it_arrives() -> None:
    for route in ("/echo", "/model"):
        refused = _client(100).post(route, content=iter([b'{"a": "', b"x" * 60, b"x" * 60, b'"}']))
        assert refused.status_code == 413, (route, refused.text)


def test_a_malformed_content_length_is_refused() -> None:
    assert _client(100).post("/echo", content=b"x", headers={"Content-Length": "abc"}).status_code in {400, 413}


def test_errors_are_capped_and_inputs_cut_short() -> None:
    errors = [{"type": "extra_forbidden", "loc": ["body", f"k{i}"], "msg": "Extra inputs", "input": "v" * 1000}
              for i in range(50)]  # fmt: skip
    kept = bounded_errors(errors)
    assert len(kept) == MAX_ERRORS + 1 and kept[-1]["msg"] == "30 more errors not shown"
    assert all(len(e["input"]) < 120 for e in kept[:-1]) and kept[0]["input"].endswith("(1000 characters)")
    assert excerpt(3) == 3 and excerpt(None) is None and excerpt({"a": 1}) == '{"a": 1}'
