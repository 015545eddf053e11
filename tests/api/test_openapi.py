"""/openapi.json: served to anyone, well-formed, and saying exactly what the app serves."""

from __future__ import annotations

import re
from typing import Any

import fastapi.routing

from signoff.api.app import create_api
from tests.api.test_roles import routes_of
from tests.conftest import Api

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


async def _document(api: Api) -> dict[str, Any]:
    r = await api.client.get("/openapi.json")  # no key: the reference is public
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    doc: dict[str, Any] = r.json()
    return doc


def _documented_routes(api: Api) -> set[tuple[str, str]]:
    routes = create_api(api.ctx, max_body_bytes=1).routes
    opened = getattr(fastapi.routing, "iter_route_contexts", None)
    hidden = {
        (method, str(r.path))
        for r in (opened(routes) if opened else routes)
        if not getattr(r, "include_in_schema", True)
        for method in (getattr(r, "methods", None) or ())
    }
    return set(routes_of(routes)) - hidden


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


async def test_the_document_lists_exactly_the_routes_served(api: Api) -> None:
    doc = await _document(api)
    documented = {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }
    assert documented == _documented_routes(api)
    v1 = {path for _, path in documented if path.startswith("/v1/")}
    design = {
        "/v1/loops", "/v1/loops/{loop_id}", "/v1/loops/{loop_id}/requests",
        "/v1/loops/{loop_id}/requests/batch", "/v1/requests", "/v1/requests/{request_id}",
        "/v1/requests/{request_id}/status", "/v1/requests/{request_id}/response",
        "/v1/requests/{request_id}/decisions", "/v1/requests/{request_id}/cancel",
        "/v1/requests/{request_id}/events", "/v1/events", "/v1/users", "/v1/users/{user_id}",
        "/v1/api-keys", "/v1/api-keys/{key_id}", "/v1/webhooks", "/v1/webhooks/{webhook_id}",
        "/v1/webhooks/{webhook_id}/test", "/v1/webhooks/{webhook_id}/deliveries",
    }  # fmt: skip
    assert design <= v1, "DESIGN.md §3 names these paths"
    assert {"/healthz", "/readyz"} <= {path for _, path in documented}


async def test_the_document_is_well_formed(api: Api) -> None:
    doc = await _document(api)
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"])
    assert doc["info"]["title"] == "Signoff"
    assert doc["info"]["version"]
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, f"dangling {ref}"
    operation_ids = []
    for path, item in doc["paths"].items():
        declared_in_path = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            operation_ids.append(operation["operationId"])
            assert operation["responses"], where
            assert all(re.fullmatch(r"[1-5]\d\d|default", code) for code in operation["responses"])
            params = operation.get("parameters", [])
            in_path = {p["name"] for p in params if p["in"] == "path"}
            assert in_path == declared_in_path, where
            assert all(p["required"] for p in params if p["in"] == "path"), where
            if method in ("post", "patch") and "requestBody" in operation:
                assert "application/json" in operation["requestBody"]["content"], where
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"


async def test_the_documented_shapes_carry_the_contracts_field_names(api: Api) -> None:
    doc = await _document(api)
    schemas = doc["components"]["schemas"]

    def body_of(method: str, path: str) -> dict[str, Any]:
        ref = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        return schemas[ref["$ref"].rsplit("/", 1)[1]]  # type: ignore[no-any-return]

    def answer_of(method: str, path: str, code: str) -> dict[str, Any]:
        content = doc["paths"][path][method]["responses"][code]["content"]["application/json"]
        return schemas[content["schema"]["$ref"].rsplit("/", 1)[1]]  # type: ignore[no-any-return]

    created = body_of("post", "/v1/loops/{loop_id}/requests")
    assert set(created["properties"]) == {
        "content", "title", "content_type", "priority", "context", "metadata", "ai_analysis",
        "response", "required_approvals", "requested_by", "timeout_seconds", "timeout_action",
        "callback", "previous_request_id",
    }  # fmt: skip
    assert created["required"] == ["content"]
    assert created.get("additionalProperties") is False
    status = answer_of("get", "/v1/requests/{request_id}/status", "200")
    assert set(status["properties"]) == {"id", "status", "decision"}
    response = answer_of("get", "/v1/requests/{request_id}/response", "200")
    assert set(response["properties"]) == {
        "request_id", "status", "decision", "feedback", "content", "edited", "response_data",
        "decided_by", "completed_at",
    }  # fmt: skip
    request = answer_of("get", "/v1/requests/{request_id}", "200")
    assert {"id", "status", "review_url", "decision"} <= set(request["properties"])
    assert "callback_auth" not in request["properties"]
    loop = body_of("post", "/v1/loops")
    assert {"name", "reviewers", "required_approvals", "allow_self_approval"} <= set(
        loop["properties"]
    )
    assert "key" in answer_of("post", "/v1/api-keys", "201")["properties"]
    page = answer_of("get", "/v1/api-keys", "200")
    listed = schemas[page["properties"]["data"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert "key" not in listed["properties"], "a key's secret is shown once, when it is made"
    assert "id" in listed["properties"]


async def test_the_document_is_the_apps_own(api: Api) -> None:
    served = await _document(api)
    assert served == create_api(api.ctx, max_body_bytes=1).openapi()
