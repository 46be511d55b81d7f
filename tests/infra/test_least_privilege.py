"""Least privilege, proven: each function's policy allows every call it makes, and little else.

The whole suite already fails a test whose handler makes a call its function's policy does not
allow (tests/least_privilege.py). Here: that check really bites (erasure without
``dynamodb:BatchWriteItem``), one workload drives every function through every kind of call it
makes and every grant is shown to be used, and no statement reaches another stage's resources.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests import least_privilege
from tests.console.pages import Browser
from tests.least_privilege import LEDGER, allows
from tests.stack import ADMIN, ADMIN_TOKEN, demo_body, demo_signature, drain, get_json, post_demo

SOURCE = "source=demo_crm/customer/C-1001"

# Granted, and not exercised by the workload below, each for a reason.
NOT_EXERCISED = {
    # No shipped connector names a Secrets Manager secret; one that does must still be readable.
    *(
        (function, "secretsmanager:GetSecretValue")
        for function in ("APIHandler", "WebhookHandler", "ProcessInbound", "DispatchEvents", "ScheduledSync")
    ),
    # The processor reads only the masking key from SSM; the local stage takes it from the environment
    # (.chalice/config.json, which Chalice's test client applies), so only a deployed stage reads it.
    ("ProcessInbound", "ssm:GetParameter"),
    # Raw inputs over 300 KB go to the payload bucket (claim check): tests/pipeline/test_large_payloads.py
    # sends one through the door, shows, replays and erases it, under the same check. This workload's one
    # large record is pulled by the sync (which writes it) and read by erasure; it names no customer erased.
    ("ProcessInbound", "s3:PutObject"),
    ("APIHandler", "s3:PutObject"),
    ("APIHandler", "s3:DeleteObject"),
    # Erasure reads the raw copy of an input quarantined while its sweep ran (a sweep spanning several
    # requests): tests/api/test_erasure_sweep.py quarantines one between two requests, under the same check.
    ("APIHandler", "dynamodb:GetItem"),
}


def admin(stack: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    response = getattr(stack.http, method)(path, headers={**ADMIN, "Content-Type": "application/json"}, body=json.dumps(body or {}))
    return response.status_code, json.loads(response.body or b"null")


def test_a_call_the_policy_does_not_allow_fails(stack, monkeypatch):
    """Erasure needs dynamodb:BatchWriteItem; without it the call is refused as AWS would refuse it."""
    post_demo(stack, demo_body())
    drain()
    granted = least_privilege.policies()
    without = [dict(s, Action=[a for a in s["Action"] if a != "dynamodb:BatchWriteItem"]) for s in granted["APIHandler"]]
    monkeypatch.setattr(least_privilege, "policies", lambda: {**granted, "APIHandler": without})
    status, _ = admin(stack, "post", f"/erase?{SOURCE}", {"confirm": True})
    denied = LEDGER.take_denied()
    assert status == 500
    assert [(d.function, d.action) for d in denied] == [("APIHandler", "dynamodb:BatchWriteItem")]
    assert denied[0].resource.endswith(":table/salesbridge-inputs")  # the sweep deletes the raw inputs first


def test_statements_reach_only_this_stages_resources():
    """Resolved for stage prod, no statement allows anything on stage staging's resources."""
    from infra import permissions, resources
    from infra.template import conditions, stage_parameters
    from tests.infra.cfn import Resolver

    def resolver(stage: str) -> Resolver:
        def physical(logical_id: str) -> str:
            kinds = (*resources.TABLES, *resources.QUEUES, *resources.BUCKETS, resources.BUS)
            base = next(r.name for r in kinds if r.logical_id == logical_id)
            head, _, rest = base.partition("-")
            return f"{head}-{stage}-{rest}"

        def arn(logical_id: str, attribute: str) -> str:
            if logical_id.endswith("LogGroup"):
                return f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/salesbridge-{stage}-{logical_id}"
            name = physical(logical_id)
            if logical_id.endswith("Table"):
                table = f"arn:aws:dynamodb:us-east-1:123456789012:table/{name}"
                return table + "/stream/2026-01-01T00:00:00.000" if attribute == "StreamArn" else table
            if logical_id.endswith("Queue"):
                return f"arn:aws:sqs:us-east-1:123456789012:{name}"
            if logical_id.endswith("Bucket"):
                return f"arn:aws:s3:::{name}"
            return f"arn:aws:events:us-east-1:123456789012:event-bus/{name}"

        return Resolver(stage_parameters(stage), physical, arn, conditions())

    staging = resolver("staging")
    others: list[tuple[str, str]] = []
    for logical_id in [t.logical_id for t in resources.TABLES]:
        others += [
            (f"dynamodb:{a}", staging.attributes(logical_id, "Arn"))
            for a in ("GetItem", "PutItem", "UpdateItem", "Query", "BatchWriteItem", "BatchGetItem")
        ]
        others.append(("dynamodb:Query", staging.attributes(logical_id, "Arn") + "/index/all"))
    for queue in resources.QUEUES:
        others += [(f"sqs:{a}", staging.attributes(queue.logical_id, "Arn")) for a in ("SendMessage", "ReceiveMessage", "DeleteMessage")]
    others.append(("events:PutEvents", staging.attributes(resources.BUS.logical_id, "Arn")))
    for bucket in resources.BUCKETS:
        others += [(f"s3:{a}", staging.attributes(bucket.logical_id, "Arn") + "/quarantine/q_1") for a in ("PutObject", "GetObject")]
    others.append(("ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/salesbridge/staging/pii-key"))
    others.append(("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:123456789012:secret:salesbridge/staging/x-AbCdEf"))
    others.append(("logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/salesbridge-staging-api:log-stream:x"))
    prod = resolver("prod")
    for function in permissions.functions():
        statements = prod(permissions.policy_document(function))["Statement"]
        reached = [(action, arn) for action, arn in others if allows(statements, action, arn)]
        assert not reached, f"{function} reaches stage staging: {reached}"
        assert allows(statements, "logs:PutLogEvents", f"{prod.attributes(function + 'LogGroup', 'Arn')}:log-stream:x")


def test_policies_pass_parliament():
    """parliament's IAM checks: known actions, resources of the type each action takes, no needless '*'."""
    from parliament import analyze_policy_string

    from infra import permissions
    from infra.template import conditions, stage_parameters
    from tests.infra.cfn import Resolver

    def arn(logical_id: str, attribute: str) -> str:
        # parliament splits ARNs on ':', so a stream label here has none (real ones are timestamps).
        if attribute == "StreamArn":
            return f"arn:aws:dynamodb:us-east-1:123456789012:table/salesbridge-prod-{logical_id}/stream/label"
        if logical_id.endswith("Bucket"):
            return f"arn:aws:s3:::salesbridge-prod-{logical_id}"
        kind = {"Table": "dynamodb:us-east-1:123456789012:table/", "Queue": "sqs:us-east-1:123456789012:", "Group": "logs:x"}
        for suffix, prefix in kind.items():
            if logical_id.endswith(suffix):
                if suffix == "Group":
                    return f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/salesbridge-prod-{logical_id}"
                return f"arn:aws:{prefix}salesbridge-prod-{logical_id}"
        return f"arn:aws:events:us-east-1:123456789012:event-bus/salesbridge-prod-{logical_id}"

    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    resolve = Resolver(stage_parameters("prod") | {"KmsKeyArn": key}, lambda x: x, arn, conditions())
    for function in permissions.functions():
        findings = analyze_policy_string(json.dumps(resolve(permissions.policy_document(function)))).findings
        assert not findings, (function, [(f.issue, f.detail) for f in findings])


@pytest.fixture()
def salesforce_server():
    from tests.vendor_servers.salesforce import SalesforceServer

    server = SalesforceServer(12)
    yield server
    server.stop()


def workload_config(tmp_path: Path, vendor_url: str, subscriber_url: str) -> Path:
    """The shipped files, a Salesforce stream on the loopback vendor, an HTTP subscriber; secrets in SSM."""
    from tests.sync.test_scheduled_sync import config_dir

    root = config_dir(tmp_path, vendor_url)
    salesforce = root / "connectors" / "salesforce.yaml"
    salesforce.write_text(
        salesforce.read_text().replace("{env: SF_CLIENT_SECRET}", "{ssm: salesforce/client-secret}")
        + "webhook:\n  scheme: salesforce_outbound\n  organization_ids: [00D000000000062EAA]\n"
        + "  shared_secret: {query: token, secrets: [{ssm: salesforce/outbound-token}]}\n"
    )
    subscribers = root / "connectors" / "subscribers.yaml"
    subscribers.write_text(
        subscribers.read_text()
        + f"  - name: alerts\n    kind: http\n    url: {subscriber_url}\n    types: [customer.grade_changed]\n"
        + "    secret: {ssm: subscribers/alerts}\n"
    )
    return root


def new_container() -> None:
    """Each function runs in its own Lambda container: nothing it reads is cached from another one."""
    from chalicelib import configuration as loader
    from chalicelib.runtime.secrets import default_resolver

    loader.reset()
    default_resolver().clear()


def test_every_function_uses_what_it_is_granted(stack, salesforce_server, tmp_path, monkeypatch):
    """One workload through all six functions; every application grant is used (or listed above, with why)."""
    import os

    import app as application
    from chalicelib import configuration as loader
    from chalicelib.runtime import aws, clock, settings
    from local.worker import StreamPoller, _Context
    from tests.faults.harness import Fault, arm, client_error, disarm
    from tests.recorder import Recorder
    from tests.rules.outbound import post as post_salesforce

    subscriber = Recorder(answers=[(500, {"busy": True})] * 3 + [(200, {"ok": True})])
    root = workload_config(tmp_path, salesforce_server.url, subscriber.url)
    ssm = aws.client("ssm")
    for name, value in {"salesforce/client-secret": "s3cr3t", "subscribers/alerts": "whsec_c2VjcmV0"}.items():
        ssm.put_parameter(Name=f"/salesbridge/{name}", Value=value, Type="SecureString", Overwrite=True)
    monkeypatch.setenv("SALESBRIDGE_CONFIG_DIR", str(root))
    settings.reset_settings()
    loader.reset()
    start = len(LEDGER.requests)

    # The door: accepted, refused (audited), and a record the mapping cannot take yet.
    assert post_demo(stack, demo_body(tier="Gold", updated_at="2026-11-01T08:00:00+08:00")).status_code == 202
    assert post_demo(stack, demo_body(tier="Platinum", updated_at="2026-11-02T08:00:00+08:00")).status_code == 202
    assert post_demo(stack, demo_body(tier="Titanium", updated_at="2026-11-03T08:00:00+08:00")).status_code == 202
    assert post_demo(stack, demo_body(customer_id="C-4", tier="Adamantium")).status_code == 202
    forged = demo_body(customer_id="C-3")
    assert post_demo(stack, forged, signature=demo_signature(forged, "wrong")).status_code == 401
    # The scheduled sync pulls a vendor API into the queue; the processor takes everything.
    schedule = {"version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events", "account": "1"}
    schedule |= {"time": "2026-11-25T00:00:00Z", "region": "us-east-1", "resources": [], "detail": {}}
    big = sorted(salesforce_server.dataset.records)[5]
    salesforce_server.dataset.records[big]["name"] = "N" * 1_100_000  # too large for a queue message: the sync quarantines it
    new_container()
    runs = application.scheduled_sync(schedule, _Context("scheduled_sync"))["runs"]
    assert next(r for r in runs if r["connector"] == "salesforce")["status"] == "synced"  # the others have no credentials here
    new_container()
    drain()
    # A new lead nobody calls: the schedule fires its response deadline (the timers index, the item, the event).
    lead_created = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: lead_created)
    when = lead_created.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    post_salesforce(stack, "Lead", Id="00QHs00001XyZaBMAV", Status="Open - Not Contacted", CreatedDate=when, LastModifiedDate=when)
    new_container()
    drain()
    monkeypatch.setattr(clock, "now", lambda: lead_created + timedelta(minutes=30))
    new_container()
    assert application.fire_timers(schedule, _Context("fire_timers"))["fired"] == 1
    # Dispatch from the events stream: the bus refuses and the subscriber answers 500 until the stream gives up.
    refusals = arm(Fault("events", "PutEvents", client_error("InternalException", "PutEvents"), times=3))
    stream = StreamPoller(os.environ["EVENTS_TABLE"])
    new_container()
    stream.poll_once(application.dispatch_events)
    disarm(refusals)
    queue_url = os.environ["DISPATCH_FAILURE_QUEUE_URL"]
    aws.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps({"DDBStreamBatchInfo": {"batchSize": 1}}))

    # The operator surface.
    new_container()
    _, quarantined = get_json(stack, "/quarantine?connector=demo_crm")
    titanium, adamantium = sorted(
        (r["id"] for r in quarantined["records"]), key=lambda q: "Adamantium" in get_json(stack, f"/quarantine/{q}")[1]["message"]
    )
    qid = titanium
    _, state = get_json(stack, f"/state?{SOURCE}")
    _, trail = get_json(stack, f"/audit?{SOURCE}")
    for path in (
        f"/audit?correlation={trail['entries'][0]['correlation_id']}",
        f"/audit?day={trail['entries'][0]['at'][:10]}",
        f"/audit/verify?{SOURCE}",
        "/events",
        "/events?type=customer.grade_changed",
        f"/events?subject={state['entity']}",
        "/quarantine?connector=demo_crm",
        f"/quarantine/{qid}",
        f"/usage?{SOURCE}",
    ):
        assert get_json(stack, path)[0] == 200, path
    assert admin(stack, "post", "/mappings/demo_crm_customer/try", json.loads(demo_body(tier="Silver")))[0] == 200
    mapping = root / "mappings" / "demo_crm_customer.yaml"
    mapping.write_text(mapping.read_text().replace("Platinum: S,", "Platinum: S, Titanium: B,"))
    assert admin(stack, "post", "/mappings/demo_crm_customer/regression", {"mapping": mapping.read_text()})[0] == 200
    loader.reset()
    status, replayed = admin(stack, "post", f"/quarantine/{qid}/replay")
    assert status == 200 and replayed["status"] == "applied" and replayed["events"], replayed
    assert admin(stack, "post", f"/quarantine/{adamantium}/replay")[1]["status"] == "quarantined"  # still unknown
    assert admin(stack, "post", f"/quarantine/{adamantium}/discard", {"reason": "no such tier"})[1]["status"] == "discarded"
    new_container()
    stream.poll_once(application.dispatch_events)  # the replay's event reaches the bus
    new_container()
    assert admin(stack, "put", f"/consent?{SOURCE}", {"category": "contact_personal", "status": "revoked"})[0] == 200
    status, redriven = admin(stack, "post", "/events/redrive", {"limit": 10})
    assert status == 200 and redriven["delivered"] >= 1 and redriven["failure_reports_removed"] == 1, redriven
    console = Browser(stack)  # the console's overview reads the hourly counts
    assert console.login(ADMIN_TOKEN)[0] == 303
    assert console.get("/console")[0] == 200
    status, erased = admin(stack, "post", f"/erase?{SOURCE}", {"confirm": True})
    assert status == 200, erased
    subscriber.close()

    used = LEDGER.requests[start:]
    assert any(r.function == "APIHandler" and r.action == "dynamodb:BatchWriteItem" for r in used), "erasure's BatchWriteItem"
    unused = set()
    for function, statements in least_privilege.policies().items():
        for statement in statements:
            if statement.get("Sid"):
                continue  # the platform's own statements (event sources, logs, traces, KMS): not calls the code makes
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in statement["Action"]:
                for resource in resources:
                    if not any(
                        r.function == function and r.action == action and least_privilege.matches(resource, r.resource) for r in used
                    ):
                        unused.add((function, action, resource.split(":")[-1]))
    assert {(f, a) for f, a, _ in unused} == NOT_EXERCISED, "\n".join(map(str, sorted(unused)))
