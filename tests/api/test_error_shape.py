"""Every error of every route is JSON ``{"error": code, "message": text}``, including the ones Chalice
answers itself (an unsupported method or content type, an unhandled exception), as API Gateway
delivers them to the Lambda function."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.infra.test_lambda_events import LambdaContext, call, deployed, rest_event  # noqa: F401 (fixture)

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def routes() -> list[tuple[str, str]]:
    import app as application

    return sorted((path, method) for path, methods in application.app.routes.items() for method in methods)


def event(method: str, path: str, **extra: Any) -> dict[str, Any]:
    params = {name: f"x-{name}" for name in re.findall(r"\{(\w+)\}", path)}
    concrete = re.sub(r"\{(\w+)\}", lambda m: f"x-{m.group(1)}", path)
    built = rest_event(method, path, concrete, **extra)
    built["pathParameters"] = params or None
    return built


def assert_shape(status: int, body: Any, expected_status: int, code: str, where: str) -> None:
    assert status == expected_status, f"{where}: {status} {body}"
    assert isinstance(body, dict) and set(body) == {"error", "message"}, f"{where}: {body}"
    assert body["error"] == code and body["message"], f"{where}: {body}"


def test_an_unsupported_method_on_every_route_answers_the_one_shape(deployed):  # noqa: F811
    import app as application

    for path, methods in application.app.routes.items():
        method = next(m for m in METHODS if m not in methods)
        status, body, wire = call(deployed, event(method, path))
        assert_shape(status, body, 405, "method_not_allowed", f"{method} {path}")
        assert wire["headers"]["Content-Type"] == "application/json" and wire["headers"]["Allow"]


def test_an_unsupported_content_type_on_every_route_answers_the_one_shape(deployed):  # noqa: F811
    for path, method in routes():
        status, body, wire = call(deployed, event(method, path, headers={"Content-Type": "image/png"}, body="x"))
        assert_shape(status, body, 415, "unsupported_media_type", f"{method} {path}")
        assert "image/png" in body["message"]


def test_trying_a_mapping_without_a_json_content_type_is_a_415_in_the_one_shape(stack):
    response = stack.http.post("/mappings/demo_crm_customer/try", headers={"Content-Type": "text/plain"}, body=b"{}")
    assert response.status_code == 415
    assert response.json_body["error"] == "unsupported_media_type" and "application/json" in response.json_body["message"]


def test_an_unhandled_exception_answers_the_one_shape_and_no_traceback(deployed, monkeypatch):  # noqa: F811
    from chalicelib import configuration

    def broken() -> Any:
        raise RuntimeError("boom inside")

    monkeypatch.setattr(configuration, "current", broken)
    status, body, _ = call(deployed, event("GET", "/health"))
    assert_shape(status, body, 500, "internal_error", "GET /health")
    assert "boom" not in body["message"] and "Traceback" not in body["message"]


@pytest.mark.parametrize(
    ("chalice_body", "expected"),
    [
        ({"Code": "BadRequestError", "Message": "no"}, {"error": "bad_request", "message": "no"}),
        ({"Code": "SomethingNew", "Message": "?"}, {"error": "internal_error", "message": "?"}),
        ({"error": "bad_request", "message": "already ours"}, None),
        ("text", None),
    ],
)
def test_chalice_error_bodies_translate(chalice_body: Any, expected: Any) -> None:
    from chalicelib.api.errors import from_chalice

    assert from_chalice(chalice_body) == expected
