"""The OpenAPI documents say what the apps answer (Schemathesis checks the rest in
tests/integration/test_openapi_schemathesis.py)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from relia_web.openapi import AllowHeader
from tests.unit.policy_engine.pe_fakes import (
    fake_app,
)


def _engine_openapi() -> tuple[TestClient, dict[str, Any]]:
    app = fake_app()
    client = TestClient(app)
    return client, client.get("/openapi.json").json()


def test_engine_writes_declare_their_body_and_every_error() -> None:
    _, doc = _engine_openapi()
    for path in ("/toggle", "/alerts", "/actions"):
        post = doc["paths"][path]["post"]
        assert "application/json" in post["requestBody"]["content"], path
        assert {"400", "401", "403", "413", "415", "422"} <= set(post["responses"]), path
    assert doc["paths"]["/toggle"]["post"]["requestBody"]["required"] is False  # no body: flip
    assert "404" in doc["paths"]["/actions/{action_id}"]["get"]["responses"]
    assert "503" in doc["paths"]["/ready"]["get"]["responses"]
    page = doc["paths"]["/actions"]["get"]["responses"]["200"]["content"]["application/json"]
    assert page["schema"] == {"$ref": "#/components/schemas/ActionPage"}
    items = doc["components"]["schemas"]["ActionPage"]["properties"]["items"]
    assert items["items"] == {"$ref": "#/components/schemas/ActionRecord"}
    error = doc["paths"]["/actions"]["get"]["responses"]["422"]
    assert error["content"]["application/json"]["schema"]["required"] == ["detail"]
    assert "HTTPValidationError" not in str(doc)
    # a manual action's alert has no url parameter: the caller never picks where we POST
    variants = doc["paths"]["/actions"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]["oneOf"]
    alert = next(v for v in variants if v["properties"]["action"]["const"] == "alert")
    assert "url" not in alert["properties"]["params"]["properties"]


def test_metrics_is_text_and_405_lists_every_method() -> None:
    client, doc = _engine_openapi()
    content = doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert "text/plain" in content
    assert "application/json" not in content
    answer = client.put("/actions")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"


def test_allow_header_prefers_a_concrete_path() -> None:
    doc = {"paths": {"/p/{id}": {"get": {}}, "/p/authorize": {"post": {}}}}
    allow = AllowHeader(None, openapi=lambda: doc)
    assert allow.methods("/p/authorize") == {"POST"}
    assert allow.methods("/p/42") == {"GET"}
    assert allow.methods("/q") == set()
