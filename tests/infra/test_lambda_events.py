"""The handler as API Gateway calls it in a deployed stage, with the events' real shapes.

Chalice's test client and ``chalice local`` are not API Gateway: here the Lambda entry point
(``app.app``) gets a REST API proxy event (operator routes, AWS_IAM identity in the request
context) and an HTTP API payload-format-1.0 event (the webhook door), shaped as AWS documents
them, and each response must survive the Lambda runtime's ``json.dumps``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.stack import demo_body, demo_signature

OPERATOR_ARN = "arn:aws:sts::123456789012:assumed-role/SalesbridgeOperator/alice"


class LambdaContext:
    function_name = "salesbridge-prod-api"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    memory_limit_in_mb = 512

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 28_000


def rest_event(
    method: str, resource: str, path: str, *, query: dict[str, str] | None = None, body: str | None = None, **context: Any
) -> dict:
    """A REST API (v1) Lambda proxy event with AWS_IAM authorisation, as API Gateway sends it."""
    identity = {
        "cognitoIdentityPoolId": None,
        "accountId": "123456789012",
        "cognitoIdentityId": None,
        "caller": "AROAEXAMPLE:alice",
        "sourceIp": "203.0.113.7",
        "principalOrgId": None,
        "accessKey": "ASIAEXAMPLE",
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "userArn": OPERATOR_ARN,
        "userAgent": "salesbridge-cli",
        "user": "AROAEXAMPLE:alice",
    }
    identity.update(context.pop("identity", {}))
    headers = {"Host": "abc123.execute-api.us-east-1.amazonaws.com", "Content-Type": "application/json", **context.pop("headers", {})}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "a1b2c3",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": "Zx1Y2FHGoAMF1dw=",
            "requestTime": "25/Nov/2026:08:00:00 +0000",
            "path": f"/api{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "api",
            "domainPrefix": "abc123",
            "requestTimeEpoch": 1795593600000,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": identity,
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "apiId": "abc123",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def http_api_v1_event(body: bytes, signature: str) -> dict:
    """An HTTP API event in payload format 1.0 (the REST shape; lower-case headers, stage $default)."""
    headers = {
        "content-length": str(len(body)),
        "content-type": "application/json",
        "host": "xyz789.execute-api.us-east-1.amazonaws.com",
        "user-agent": "DemoCRM-Webhooks/2.1",
        "x-amzn-trace-id": "Root=1-67891233-abcdef012345678912345678",
        "x-demo-signature": signature,
        "x-forwarded-for": "198.51.100.4",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    return {
        "version": "1.0",
        "resource": "/webhooks/{connector}",
        "path": "/webhooks/demo_crm",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "xyz789",
            "domainName": "xyz789.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "xyz789",
            "extendedRequestId": "Zx1Y2FHGoAMF1dw=",
            "httpMethod": "POST",
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAmr": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": "198.51.100.4",
                "user": None,
                "userAgent": "DemoCRM-Webhooks/2.1",
                "userArn": None,
            },
            "path": "/webhooks/demo_crm",
            "protocol": "HTTP/1.1",
            "requestId": "Zx1Y2FHGoAMF1dw=",
            "requestTime": "25/Nov/2026:08:00:00 +0000",
            "requestTimeEpoch": 1795593600000,
            "resourceId": "POST /webhooks/{connector}",
            "resourcePath": "/webhooks/{connector}",
            "stage": "$default",
        },
        "pathParameters": {"connector": "demo_crm"},
        "stageVariables": None,
        "body": body.decode(),
        "isBase64Encoded": False,
    }


@pytest.fixture()
def deployed(aws, monkeypatch):
    """The app configured as stage prod: IAM for operators, secrets under /salesbridge/prod in SSM."""
    from chalicelib.runtime import aws as clients
    from tests.faults.harness import reset_caches

    ssm = clients.client("ssm")
    ssm.put_parameter(Name="/salesbridge/prod/pii-key", Value="prod-pii-key", Type="SecureString")
    ssm.put_parameter(Name="/salesbridge/prod/demo_crm/webhook-secret", Value="prod-demo-secret", Type="SecureString")
    monkeypatch.setenv("SALESBRIDGE_STAGE", "prod")
    monkeypatch.setenv("SSM_PREFIX", "/salesbridge/prod")
    monkeypatch.setenv("PII_KEY_REF", "ssm:/salesbridge/prod/pii-key")
    monkeypatch.delenv("ADMIN_TOKEN_REF", raising=False)
    reset_caches()
    import app as application

    yield application.app
    reset_caches()


def call(app: Any, event: dict) -> tuple[int, Any, dict]:
    response = app(event, LambdaContext())
    wire = json.loads(json.dumps(response))  # what the Lambda runtime does with the return value
    assert set(wire) >= {"statusCode", "headers", "body"}
    return wire["statusCode"], json.loads(wire["body"]) if wire["body"] else None, wire


def test_the_door_answers_an_http_api_payload_1_0_event(deployed):
    body = demo_body()
    status, reply, _ = call(deployed, http_api_v1_event(body, demo_signature(body, "prod-demo-secret")))
    assert status == 202 and reply["receipt_id"].startswith("rcp_") and reply["records"] == 1
    forged, _, _ = call(deployed, http_api_v1_event(body, demo_signature(body, "demo-secret")))  # the local stage's secret
    assert forged == 401


def test_operator_routes_take_the_actor_from_the_verified_iam_identity(deployed):
    from tests.stack import drain

    body = demo_body()
    call(deployed, http_api_v1_event(body, demo_signature(body, "prod-demo-secret")))
    drain()
    source = {"source": "demo_crm/customer/C-1001"}
    status, state, _ = call(deployed, rest_event("GET", "/state", "/state", query=source))
    assert status == 200 and state["fields"]["name"] == "Acme Trading"
    revoke = json.dumps({"category": "contact_personal", "status": "revoked"})
    claimed = {"X-Salesbridge-Actor": "mallory"}
    status, _, _ = call(deployed, rest_event("PUT", "/consent", "/consent", query=source, body=revoke, headers=claimed))
    assert status == 200
    status, trail, _ = call(
        deployed, rest_event("GET", "/audit", "/audit", query={"entity": "consent#" + state["entity"].split("#", 1)[1]})
    )
    assert [(e["action"], e["actor"]) for e in trail["entries"]] == [("consent_revoked", f"iam:{OPERATOR_ARN}")]


def test_a_deployed_stage_refuses_the_local_token_and_calls_without_an_iam_identity(deployed, monkeypatch):
    monkeypatch.setenv("SALESBRIDGE_ADMIN_TOKEN", "local-admin-token")
    unsigned = rest_event("GET", "/events", "/events", identity={"userArn": None}, headers={"Authorization": "Bearer local-admin-token"})
    status, reply, _ = call(deployed, unsigned)
    assert status == 401 and reply["error"] == "unauthorized"


def test_every_operator_route_is_iam_protected_and_only_the_door_health_and_pages_are_public():
    """A route added without the authorizer would be open on the REST API: this fails first.

    The console and the customer pages are public at the gateway: a browser cannot sign with SigV4,
    so they authenticate with their own signed session or link (chalicelib/console).
    """
    import app as application

    public = {("/webhooks/{connector}", "POST"), ("/health", "GET")}
    for path, methods in application.app.routes.items():
        for method, entry in methods.items():
            if (path, method) in public or path.startswith(("/console", "/my-data/")):
                assert entry.authorizer is None, (path, method)
            else:
                assert entry.authorizer is application.OPERATOR, f"{method} {path} has no IAM authorizer"


class ShortOfTime(LambdaContext):
    """An invocation with 5 s left: less than an erasure needs to start another page."""

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 5_000


def test_an_erasure_stops_by_the_lambda_contexts_time_and_the_next_invocation_finishes_it(deployed):
    from tests.stack import drain

    body = demo_body()
    call(deployed, http_api_v1_event(body, demo_signature(body, "prod-demo-secret")))
    drain()
    erase = rest_event("POST", "/erase", "/erase", query={"source": "demo_crm/customer/C-1001"}, body='{"confirm": true}')
    wire = json.loads(json.dumps(deployed(erase, ShortOfTime())))  # what the Lambda runtime does with the return value
    stopped = json.loads(wire["body"])
    assert wire["statusCode"] == 200 and stopped["complete"] is False and stopped["swept"] == ["inputs"], stopped
    status, erased, _ = call(deployed, erase)  # 28 s left: the rest in one invocation
    assert status == 200 and erased["complete"] is True and erased["removed"]["state"]["deleted"]["golden"] == 1, erased
    tombstone = rest_event("GET", "/audit", "/audit", query={"entity": erased["tombstone"]})
    status, trail, _ = call(deployed, tombstone)
    assert status == 200 and [(e["action"], e["actor"]) for e in trail["entries"]] == [("erased", f"iam:{OPERATOR_ARN}")]


def test_a_replay_stops_by_the_lambda_contexts_time_and_goes_on_after_its_next(deployed, monkeypatch):
    from chalicelib.api import admin
    from tests.stack import drain

    monkeypatch.setattr(admin, "REPLAY_PAGE", 1)
    for customer in ("C-1", "C-2"):
        body = demo_body(customer, tier="Titanium")
        call(deployed, http_api_v1_event(body, demo_signature(body, "prod-demo-secret")))
    drain()
    replay = rest_event("POST", "/quarantine/replay", "/quarantine/replay", body='{"connector": "demo_crm"}')
    wire = json.loads(json.dumps(deployed(replay, ShortOfTime())))  # 5 s left: one page, then it answers
    first = json.loads(wire["body"])
    assert wire["statusCode"] == 200 and first["replayed"] == 1 and first["complete"] is False and first["next"], first
    onwards = json.dumps({"connector": "demo_crm", "after": first["next"]})
    rest = rest_event("POST", "/quarantine/replay", "/quarantine/replay", body=onwards)
    status, second, _ = call(deployed, rest)  # 28 s left: the rest
    assert status == 200 and second["complete"] is True and second["next"] is None, second
    taken = [r["id"] for r in first["results"] + second["results"]]
    assert len(taken) == len(set(taken)) == 2 and {r["status"] for r in second["results"]} == {"quarantined"}  # each once
