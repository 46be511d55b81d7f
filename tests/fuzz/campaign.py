"""A fuzz campaign in-process: requests through the Lambda entry point, then every accepted input settled and accounted for.

Each request goes to ``app.app(event, context)`` as API Gateway sends it (the door as an HTTP API
payload 1.0 event, operator routes as REST API events) and its answer through ``json.dumps`` as the
Lambda runtime does. Afterwards the queue is drained through the processor's handler: an accepted
input that the handler reports as failed (it would be retried and dead-lettered) is *unaccounted*.
Every refusal at the door must be in the refusal counters.

``python -m tests.fuzz.campaign --requests 100000 --seconds 1800`` (``make fuzz``) runs a long
campaign on its own AWS stand-in and prints requests by status class and every input that was
accepted but not accounted for.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fuzz.calls import ADMIN_TOKEN, Call
from tests.infra.test_lambda_events import LambdaContext, rest_event

DOOR = "/webhooks/{connector}"


def door_event(call: Call) -> dict[str, Any]:
    """An HTTP API (payload format 1.0) event, as the door's API sends it."""
    headers = {"host": "xyz789.execute-api.us-east-1.amazonaws.com", **{k.lower(): v for k, v in call.headers.items()}}
    try:
        body, encoded = call.body.decode("utf-8"), False
    except UnicodeDecodeError:
        body, encoded = base64.b64encode(call.body).decode(), True  # API Gateway sends bytes that are not text this way
    return {
        "version": "1.0",
        "resource": DOOR,
        "path": call.path,
        "httpMethod": call.method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": call.query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in call.query.items()} if call.query else None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "xyz789",
            "httpMethod": call.method,
            "identity": {"sourceIp": "198.51.100.4", "userAgent": "fuzz", "userArn": None},
            "path": call.path,
            "requestId": "fuzz",
            "requestTimeEpoch": int(time.time() * 1000),
            "resourcePath": DOOR,
            "stage": "$default",
        },
        "pathParameters": call.params,
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": encoded,
    }


def operator_event(call: Call) -> dict[str, Any]:
    try:
        body: str | None = call.body.decode("utf-8") if call.body else None
    except UnicodeDecodeError:
        body = call.body.decode("latin-1")
    event = rest_event(call.method, call.resource, call.path, query=call.query or None, body=body, headers=call.headers)
    event["pathParameters"] = call.params or None
    return event


@dataclass
class Campaign:
    """Sends calls, keeps the tallies, settles the queue and checks the accounts."""

    started: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(minutes=1))
    by_class: Counter[str] = field(default_factory=Counter)
    door_refused: Counter[str] = field(default_factory=Counter)  # connector name as counted → refusals
    door_reasons: Counter[tuple[str, str]] = field(default_factory=Counter)  # (connector as counted, error code answered)
    accepted: int = 0
    server_errors: list[str] = field(default_factory=list)
    unaccounted: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)  # accepted door calls, by receipt, for the report

    def send(self, call: Call) -> int:
        import app as application

        event = door_event(call) if call.at_the_door else operator_event(call)
        wire = json.loads(json.dumps(application.app(event, LambdaContext())))  # as the Lambda runtime serialises it
        status = int(wire["statusCode"])
        self.by_class[f"{status // 100}xx"] += 1
        if status >= 500:
            self.server_errors.append(f"{status} {call.describe()} → {str(wire.get('body'))[:300]}")
        elif call.at_the_door and status >= 400:
            self.door_refused[self._counted_as(call)] += 1
            self.door_reasons[(self._counted_as(call), _error_code(wire.get("body")))] += 1
        elif call.at_the_door:
            self.accepted += 1
        return status

    @staticmethod
    def _counted_as(call: Call) -> str:
        """The name the door counts a refusal under: a connector with a webhook, else one name for all the others.

        Not only CONNECTORS: hypothesis also draws names from the project's own string constants
        (``odoo``, ``kingdee``), and those are doors too.
        """
        from chalicelib.configuration import current
        from chalicelib.ingress.door import UNKNOWN_CONNECTOR

        name = call.params["connector"]
        connector = current().connectors.get(name)
        return name if connector is not None and connector.webhook is not None else UNKNOWN_CONNECTOR

    def settle(self) -> int:
        """Run every queued input through the processor's handler; a failure is an input accepted but not accounted for."""
        import app as application
        from chalicelib.runtime import aws
        from local.worker import sqs_event

        sqs = aws.client("sqs")
        url = os.environ["INBOUND_QUEUE_URL"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        handled = 0
        while True:
            received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]).get(
                "Messages", []
            )
            if not received:
                return handled
            result = application.process_inbound(sqs_event(received, arn), LambdaContext()) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            for message in received:
                if message["MessageId"] in failed:
                    self.unaccounted.append(message["Body"][:400])
            for start in range(0, len(received), 10):
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received[start : start + 10])]
                sqs.delete_message_batch(QueueUrl=url, Entries=entries)
            handled += len(received)

    def uncounted_refusals(self) -> dict[str, tuple[int, int]]:
        """Connectors whose refusal counters disagree with the refusals answered: name → (answered, counted)."""
        wrong = {}
        for name, answered in self.door_refused.items():
            counted = sum(self._counters(name).values())
            if counted != answered:
                wrong[name] = (answered, counted)
        return wrong

    def _counters(self, connector: str) -> Counter[str]:
        """The door's refusal counters of one connector since the campaign began, by reason."""
        from chalicelib.store import stats

        counted: Counter[str] = Counter()
        for count in stats.read_refusals(os.environ["STATS_TABLE"], connector, self.started):
            counted[count.reason] += count.refused
        return counted

    def reasons_of(self, connector: str) -> str:
        """Answered and counted refusals of one connector by reason (the error code answered, the reason counted)."""
        answered = {reason: n for (name, reason), n in self.door_reasons.items() if name == connector}
        counted = self._counters(connector)
        return ", ".join(f"{r}: answered {answered.get(r, 0)}, counted {counted.get(r, 0)}" for r in sorted(set(answered) | set(counted)))

    def report(self, seconds: float) -> str:
        lines = [
            f"requests: {sum(self.by_class.values())} in {seconds:.0f} s; by status class: "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.by_class.items())),
            f"door: accepted {self.accepted}, refused {sum(self.door_refused.values())} "
            f"(counted per connector: {dict(self.door_refused)}); uncounted: {self.uncounted_refusals() or 'none'}",
            *(f"  {name}: {self.reasons_of(name)}" for name in self.uncounted_refusals()),
            f"5xx: {len(self.server_errors)}",
            *(f"  {line}" for line in self.server_errors[:50]),
            f"accepted but not accounted for: {len(self.unaccounted)}",
            *(f"  {line}" for line in self.unaccounted[:50]),
        ]
        return "\n".join(lines)


def _error_code(body: Any) -> str:
    """The error code a refusal answered (JSON ``error``), or ``unparsed`` (a SOAP fault, say)."""
    try:
        answer = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        answer = None
    return str(answer.get("error")) if isinstance(answer, dict) and answer.get("error") else "unparsed"


def environment(aws_env: dict[str, str]) -> dict[str, str]:
    """The local stage's settings on a fresh stand-in, with the local secrets in its SSM."""
    return {
        **aws_env,
        "SALESBRIDGE_ADMIN_TOKEN": ADMIN_TOKEN,
        "SALESBRIDGE_PII_KEY": "fuzz-pii-key",
        "SALESBRIDGE_CONSOLE_KEY": "fuzz-console-key-" + "k" * 32,
        "DEMO_CRM_WEBHOOK_SECRET": "demo-secret",
    }


def seed_secrets() -> None:
    from chalicelib.runtime import aws
    from local.seed import LOCAL_PARAMETERS

    ssm = aws.client("ssm")
    for name, value in LOCAL_PARAMETERS.items():
        ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)


def operator_routes() -> list[tuple[str, str]]:
    import app as application

    return [(method, path) for path, methods in application.app.routes.items() for method in methods if path != DOOR]


ROUND = 500  # examples per hypothesis run; the campaign runs rounds with new seeds until it has sent enough or time is up


def run(campaign: Campaign, max_examples: int, seconds: float, seed: int = 0) -> None:
    """Send about ``max_examples`` generated calls (door and operator routes), stopping after ``seconds``."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as with_seed
    from hypothesis import strategies as st

    from tests.fuzz.calls import door_calls, operator_calls

    deadline = time.monotonic() + seconds
    calls = st.one_of(door_calls(), door_calls(), operator_calls(operator_routes()))
    sent = 0
    for number in range(max_examples // ROUND + 1):
        wanted = min(ROUND, max_examples - sent)
        if wanted <= 0 or time.monotonic() >= deadline:
            return

        @with_seed(seed * 1_000_003 + number)
        @settings(max_examples=wanted, deadline=None, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(calls)
        def send(call: Call) -> None:
            if time.monotonic() < deadline:
                campaign.send(call)

        before = sum(campaign.by_class.values())
        send()
        sent += sum(campaign.by_class.values()) - before
        campaign.settle()  # each round's inputs through the processor, so the queue never grows long
        print(
            f"sent {sent}: {dict(campaign.by_class)}, unaccounted {len(campaign.unaccounted)}",
            file=sys.stderr,
            flush=True,
        )


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=1800)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from tests.aws_standin import AwsStandIn

    server = AwsStandIn()
    try:
        os.environ.update(environment(server.reset()))
        from chalicelib.runtime import aws

        aws.reset_clients()
        seed_secrets()
        campaign = Campaign()
        began = time.monotonic()
        run(campaign, args.requests, args.seconds, args.seed)
        print(campaign.report(time.monotonic() - began))
        return 1 if campaign.server_errors or campaign.unaccounted or campaign.uncounted_refusals() else 0
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
