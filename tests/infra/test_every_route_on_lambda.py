"""Every route through the Lambda entry point, as API Gateway calls it, survives the runtime's ``json.dumps``.

``chalice local`` and Chalice's test client hand a response's bytes straight to HTTP; the Lambda
runtime serialises the handler's return value as JSON first, so a ``bytes`` body (the Salesforce
SOAP ack and faults once were) fails there and API Gateway answers 502. Here each route gets well
formed and hostile requests through ``app.app(event, context)`` and its answer goes through
``json.dumps``, as on AWS: never a 5xx, always a body the runtime can serialise.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.infra.test_lambda_events import LambdaContext, deployed, http_api_v1_event, rest_event  # noqa: F401 - deployed is a fixture

SALESFORCE_TOKEN = "prod-salesforce-token"
FORGED_CURSOR = "eyJwayI6eyJTIjoxfX0="  # base64 of {"pk":{"S":1}}

SALESFORCE_MESSAGE = b"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00D000000000062</OrganizationId>
   <ActionId>04k000000000001AAA</ActionId>
   <Notification>
    <Id>04l000000000001AAA</Id>
    <sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>001000000000001AAA</sf:Id>
     <sf:Name>Acme Trading</sf:Name>
     <sf:LastModifiedDate>2026-11-01T08:00:00.000Z</sf:LastModifiedDate>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"""

HOSTILE_BODIES = [None, "", "{", "[]", '{"limit": NaN}', '{"connector": {"a": 1}}', '{"x": ' * 50, "\u0000", "null"]


def door_event(connector: str, body: bytes | str, headers: dict[str, str], query: dict[str, str] | None = None) -> dict[str, Any]:
    event = http_api_v1_event(b"", "")
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    event["headers"] = {"host": event["headers"]["host"], **{k.lower(): v for k, v in headers.items()}}
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    event["path"] = event["requestContext"]["path"] = f"/webhooks/{connector}"
    event["pathParameters"] = {"connector": connector}
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    event["body"] = text
    return event


def on_lambda(app: Any, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The handler's answer as the Lambda runtime serialises it; a body that cannot be serialised fails here."""
    wire = json.loads(json.dumps(app(event, LambdaContext())))
    assert isinstance(wire["body"], str), "the runtime needs text (or base64 with isBase64Encoded)"
    return wire["statusCode"], wire


@pytest.fixture()
def prod(deployed, monkeypatch):  # noqa: F811 - the fixture imported above
    from chalicelib.runtime import aws as clients

    ssm = clients.client("ssm")
    ssm.put_parameter(Name="/salesbridge/prod/salesforce/outbound-token", Value=SALESFORCE_TOKEN, Type="SecureString", Overwrite=True)
    ssm.put_parameter(Name="/salesbridge/prod/console-key", Value="prod-console-key-" + "k" * 32, Type="SecureString", Overwrite=True)
    monkeypatch.setenv("CONSOLE_KEY_REF", "ssm:/salesbridge/prod/console-key")
    return deployed


def test_the_salesforce_ack_and_faults_are_text_the_runtime_can_serialise(prod):
    soap = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    status, wire = on_lambda(prod, door_event("salesforce", SALESFORCE_MESSAGE, soap, {"token": SALESFORCE_TOKEN}))
    assert status == 200 and "<Ack>true</Ack>" in wire["body"] and wire["headers"]["Content-Type"].startswith("text/xml")
    refusals = [
        door_event("salesforce", SALESFORCE_MESSAGE, soap),  # no token
        door_event("salesforce", SALESFORCE_MESSAGE, soap, {"token": "guess"}),
        door_event("salesforce", SALESFORCE_MESSAGE.replace(b"00D000000000062", b"00D000000000099"), soap, {"token": SALESFORCE_TOKEN}),
    ]
    answers = {on_lambda(prod, event)[1]["body"] for event in refusals}
    assert len(answers) == 1 and "authentication required" in next(iter(answers)), "one answer for every refusal of the sender"
    status, wire = on_lambda(prod, door_event("salesforce", '<?xml version="1.0" encoding="x"?><a/>', soap, {"token": SALESFORCE_TOKEN}))
    assert status == 400 and "faultstring" in wire["body"]
    status, _ = on_lambda(prod, door_event("salesforce", '<?xml version="1.0" encoding="x"?><a/>', soap))
    assert status == 401, "authenticated before the body is parsed"


def test_every_route_answers_hostile_requests_without_a_5xx_on_lambda(prod):
    import app as application

    checked = 0
    for path, methods in application.app.routes.items():
        for method in methods:
            concrete = path.replace("{connector}", "demo_crm").replace("{name}", "demo_crm_customer")
            concrete = concrete.replace("{qid}", "q_missing").replace("{token}", "forged")
            pairs = zip(path.split("/"), concrete.split("/"), strict=True)
            params = {name.strip("{}"): value for name, value in pairs if name.startswith("{")}
            for body in HOSTILE_BODIES if method in ("POST", "PUT") else [None]:
                for query in (None, {"next": FORGED_CURSOR, "limit": "abc", "day": "2026-13-45", "source": "x/y/z"}):
                    if path == "/webhooks/{connector}":
                        event = door_event("demo_crm", body or "", {"Content-Type": "application/json"}, query)
                    else:
                        event = rest_event(method, path, concrete, query=query, body=body)
                        event["pathParameters"] = params or None
                    status, wire = on_lambda(application.app, event)
                    assert status < 500, (method, concrete, body, query, wire)
                    checked += 1
    assert checked > 100


def test_a_body_sent_base64_encoded_is_read_as_its_bytes(prod):
    from tests.stack import demo_body, demo_signature

    body = demo_body()
    event = http_api_v1_event(body, demo_signature(body, "prod-demo-secret"))
    event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    status, wire = on_lambda(prod, event)
    assert status == 202, wire


# A wrong body for every operator route that reads one: (query, body, the field the 400 must name).
WRONG_BODIES: dict[tuple[str, str], tuple[dict[str, str] | None, dict[str, Any], str]] = {
    ("/quarantine/{qid}/replay", "POST"): (None, {"mapping_file": 7}, "mapping_file"),
    ("/quarantine/{qid}/discard", "POST"): (None, {"reason": ["not", "text"]}, "reason"),
    ("/quarantine/discard", "POST"): (None, {"reason": "test", "code": "unknown_value", "limit": 201}, "limit"),
    ("/quarantine/replay", "POST"): (None, {"dry_run": "yes", "connector": "demo_crm"}, "dry_run"),
    ("/consent", "PUT"): ({"source": "demo_crm/customer/C-1"}, {"category": "shoe_size", "status": "revoked"}, "category"),
    ("/erase", "POST"): ({"source": "demo_crm/customer/C-1"}, {"confirm": "yes"}, "confirm"),
    ("/identity/unmerge", "POST"): ({"entity": "customer#cus_1"}, {"member": ["demo_crm/customer/C-1"]}, "member"),
    ("/identity/merge", "POST"): ({"entity": "customer#cus_1"}, {"with": ["customer#cus_2"]}, "with"),
    ("/customer-links", "POST"): ({"source": "demo_crm/customer/C-1"}, {"days": 7.5}, "days"),
    ("/login-links", "POST"): (None, {"identity": "root"}, "identity"),
    ("/mappings/try", "POST"): (None, {"mapping": "kind: mapping"}, "payload"),
    ("/mappings/{name}/regression", "POST"): (None, {"mapping": "kind: mapping", "limit": 501}, "limit"),
    ("/events/redrive", "POST"): (None, {"limit": "all"}, "limit"),
    ("/actions/redrive", "POST"): (None, {"event": "e_1", "action": {"name": "x"}}, "action"),
}
# Routes whose body is not a request of the operator API: the door's vendor payload, a source record
# to dry-run (any JSON object), and the console's and customer page's HTML forms.
OTHER_BODIES = {("/webhooks/{connector}", "POST"), ("/mappings/{name}/try", "POST"), ("/my-data/{token}", "POST")}


def test_every_operator_body_is_read_by_its_model_on_lambda(prod):
    import app as application

    taking_a_body = {
        (path, method)
        for path, methods in application.app.routes.items()
        for method in methods
        if method in ("POST", "PUT") and not path.startswith("/console")
    }
    assert taking_a_body - OTHER_BODIES == set(WRONG_BODIES), "a new route that reads a body needs its request model and a case here"
    for (path, method), (query, body, field) in WRONG_BODIES.items():
        concrete = path.replace("{qid}", "q_missing").replace("{name}", "demo_crm_customer")
        event = rest_event(method, path, concrete, query=query, body=json.dumps(body))
        event["pathParameters"] = {"qid": "q_missing"} if "{qid}" in path else {"name": "demo_crm_customer"} if "{name}" in path else None
        status, wire = on_lambda(application.app, event)
        reply = json.loads(wire["body"])
        assert status == 400 and reply["error"] == "invalid_body" and field in reply["message"], (method, path, reply)
