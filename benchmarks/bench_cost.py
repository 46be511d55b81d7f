"""What a million records cost on AWS: a mixed workload through the real handlers, every billable unit counted.

The workload, on the local stand-in (local/aws_standin.py, as ``make run`` starts it):
- webhooks carrying one record (demo CRM customers: new, updated, grade changes, stale
  updates, vendor retries of the same delivery; orders from a JSON ERP), webhooks carrying
  many (HubSpot property-change arrays, signed v3),
- the scheduled sync pulling pages of accounts from a loopback Salesforce API,
- every queued record through the processor (the SQS handler, both lanes, as Lambda's event
  source calls it), every outbox record through the dispatcher (the stream handler, batches
  of 25) to the EventBridge bus and one signed HTTP subscriber on a loopback server.

Counted exactly, with botocore hooks on the handlers' own clients: API Gateway requests;
Lambda invocations and their measured busy time × the memory configured for each function
(.chalice/config.json, stage prod); SQS requests in 64 KB chunks (sends, the event source's
receives and deletes); DynamoDB read and write units including every index write
(benchmarks/capacity.py); EventBridge entries in 64 KB chunks; CloudWatch Logs bytes (what
the handlers log at Lambda's levels, plus Lambda's START/END/REPORT lines); X-Ray traces at
the configured sampling (Lambda's default rule: 5 % beyond a 1-per-second reservoir; the
reservoir is a fixed monthly amount, left out per record); KMS requests (each SecureString
read from SSM and each Secrets Manager read decrypts once) and SSM requests.

Priced at the list prices in benchmarks/prices.py and printed in dollars per million
records, by service, with the ratio to Airbyte Cloud's $15 per million rows. Busy times are
measured on this machine against the stand-in: compare runs on the same machine.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import io
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.standin import start_standin  # noqa: E402

FIXTURES = ROOT / "tests" / "faults" / "fixtures"  # the test-only JSON ERP connector and its order mapping
STAGE = "prod"
CHUNK = 64 * 1024
DEMO_SECRET = "demo-secret"  # local/seed.py
HUBSPOT_SECRET = "local-hubspot-secret"  # local/seed.py
HUBSPOT_URL = "https://hooks.example.com/webhooks/hubspot"  # connectors/hubspot.yaml
SUBSCRIBER_SECRET = "whsec_" + base64.b64encode(b"bench-subscriber-signing-key-32b").decode()
STREAM_BATCH = 25  # app.py: dispatch_events batch_size
DRAIN_EVERY = 10  # deliveries between two runs of the queue handlers
SAMPLED_SHARE = Decimal("0.05")  # X-Ray's default sampling rule beyond the reservoir

# The workload (records): one-record webhooks, many-record webhooks, sync pages.
NEW_CUSTOMERS, UPDATES, GRADE_CHANGES, STALE, RETRIES = 150, 30, 30, 10, 15
ORDERS = 40
HUBSPOT_DELIVERIES, HUBSPOT_EVENTS_EACH = 15, 10
SYNCED_ACCOUNTS, SYNC_PAGE = 200, 200


# ---------------------------------------------------------------------------- the environment


def write_config(root: Path, salesforce_url: str, subscriber_url: str) -> Path:
    """The shipped connectors and mappings, plus the test ERP, a Salesforce API stream and an HTTP subscriber."""
    from tests.vendor_servers.configs import salesforce_connector_file

    shutil.copytree(ROOT / "mappings", root / "mappings")
    shutil.copytree(ROOT / "connectors", root / "connectors")
    shutil.copy(FIXTURES / "demo_erp.yaml", root / "connectors")
    shutil.copy(FIXTURES / "demo_erp_order.yaml", root / "mappings")
    (root / "connectors" / "salesforce.yaml").write_text(salesforce_connector_file(salesforce_url, page_size=SYNC_PAGE))
    (root / "connectors" / "subscribers.yaml").write_text(f"""
kind: subscribers
max_attempts: 5
targets:
  - name: eventbridge
    kind: eventbridge
    types: ["*"]
  - name: bench-http
    kind: http
    url: {subscriber_url}/salesbridge
    types: ["*"]
    secret: {{env: BENCH_SUBSCRIBER_SECRET}}
""")
    return root


def lambda_settings() -> dict[str, tuple[int, str]]:
    """Memory (MB) and architecture per function, as ``chalice package --stage prod`` writes them."""
    from chalice.config import Config

    disk = json.loads((ROOT / ".chalice" / "config.json").read_text())
    settings = {}
    for function in ("api_handler", "process_inbound", "dispatch_events", "scheduled_sync"):
        config = Config(chalice_stage=STAGE, function_name=function, config_from_disk=disk)
        settings[function] = (int(config.lambda_memory_size or 128), "x86_64")  # Chalice's default 128 MB; x86_64 (infra/package.py)
    return settings


def tracing_configured() -> bool:
    from chalice.config import Config

    disk = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return bool(Config(chalice_stage=STAGE, config_from_disk=disk).xray_enabled)


def door_kind() -> str:
    """REST, unless the generated template puts the door behind an HTTP API (infra/template.py)."""
    from infra.template import WEBHOOK_ROUTES

    return "HTTP API" if ("POST", "/webhooks/{connector}") in WEBHOOK_ROUTES else "REST"


# ---------------------------------------------------------------------------- the meters
@dataclass
class Invocation:
    function: str
    ms: float
    log_bytes: int
    log_events: int


@dataclass
class Meter:
    memory: dict[str, tuple[int, str]]
    invocations: list[Invocation] = field(default_factory=list)
    api_requests: int = 0
    sqs_requests: Counter[str] = field(default_factory=Counter)  # operation -> billed requests (64 KB chunks)
    sqs_uncounted: Counter[str] = field(default_factory=Counter)  # the local worker's own calls, not Lambda's
    eventbridge_events: int = 0
    ssm_requests: int = 0
    secrets_requests: int = 0
    kms_requests: int = 0
    log: io.StringIO = field(default_factory=io.StringIO)
    capturing: bool = False
    capacity: Any = None

    def attach(self) -> Any:
        """Hooks on the handlers' cached clients (chalicelib.runtime.aws); returns the DynamoDB capacity meter."""
        import boto3

        from benchmarks.capacity import CapacityMeter, lookup_with
        from chalicelib.runtime import aws

        capacity = self.capacity = CapacityMeter(lookup_with(boto3.session.Session().client("dynamodb")))
        capacity.attach(aws.client("dynamodb"))
        aws.client("sqs").meta.events.register("before-parameter-build.sqs", self._sqs_params)
        aws.client("sqs").meta.events.register("after-call.sqs", self._sqs)
        aws.client("events").meta.events.register("before-parameter-build.eventbridge.PutEvents", self._events)
        aws.client("ssm").meta.events.register("before-parameter-build.ssm.GetParameter", self._ssm)
        aws.client("secretsmanager").meta.events.register("before-parameter-build.secrets-manager.GetSecretValue", self._secrets)
        return capacity

    @staticmethod
    def _sqs_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_params"] = params

    def _sqs(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        operation, params = model.name, context.get("bench_params", {})
        if operation == "SendMessageBatch":
            sizes = [len(e.get("MessageBody", "").encode()) for e in params.get("Entries", [])]
            self.sqs_requests[operation] += max(1, math.ceil(sum(sizes) / CHUNK))
        elif operation == "SendMessage":
            self.sqs_requests[operation] += 1
        elif operation == "ReceiveMessage":
            messages = parsed.get("Messages", [])
            if messages:  # Lambda's event source: one receive per batch it hands over
                self.sqs_requests[operation] += max(1, math.ceil(sum(len(m["Body"].encode()) for m in messages) / CHUNK))
            else:
                self.sqs_uncounted["empty ReceiveMessage"] += 1
        elif operation == "DeleteMessageBatch":
            self.sqs_requests[operation] += 1
        else:
            self.sqs_uncounted[operation] += 1

    def _events(self, params: dict[str, Any], **_: Any) -> None:
        for entry in params.get("Entries", []):
            size = (
                14
                + sum(len(str(entry.get(k, "")).encode()) for k in ("Source", "DetailType", "Detail"))
                + sum(len(r.encode()) for r in entry.get("Resources", []))
            )
            self.eventbridge_events += max(1, math.ceil(size / CHUNK))

    def _ssm(self, params: dict[str, Any], **_: Any) -> None:
        self.ssm_requests += 1
        self.kms_requests += 1 if params.get("WithDecryption") else 0  # SecureString: one KMS Decrypt on our behalf

    def _secrets(self, **_: Any) -> None:
        self.secrets_requests += 1
        self.kms_requests += 1

    # ------------------------------------------------------------------ an invocation
    @contextlib.contextmanager
    def invoke(self, function: str) -> Iterator[None]:
        """One Lambda invocation of ``function``: its busy time and what it logs, as CloudWatch receives it."""
        self.log.seek(0)
        self.log.truncate()
        self.capturing = True
        metering = self.capacity.lookup_seconds if self.capacity is not None else 0.0
        started = time.perf_counter()
        try:
            with contextlib.redirect_stdout(self.log), contextlib.redirect_stderr(self.log):
                yield
        finally:
            metering = (self.capacity.lookup_seconds if self.capacity is not None else 0.0) - metering
            elapsed = (time.perf_counter() - started - metering) * 1000  # the meter's own reads are not the function's
            self.capturing = False
            lines = [line for line in self.log.getvalue().splitlines() if line]
            self.invocations.append(Invocation(function, elapsed, sum(len(line.encode()) + 1 for line in lines), len(lines)))


class LambdaLogHandler(logging.Handler):
    """Lambda's Python runtime: root logger records (WARNING and up) as tab-separated lines."""

    def __init__(self, meter: Meter) -> None:
        super().__init__(logging.WARNING)
        self.meter = meter
        self.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\tbench-request-id-0000000000000000000\t%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if self.meter.capturing:
            self.meter.log.write(self.format(record) + "\n")


def capture_logs(meter: Meter) -> None:
    """Handlers' logs reach the meter as they would reach CloudWatch (Chalice's app logger writes to stdout)."""
    import app as application

    logging.getLogger().addHandler(LambdaLogHandler(meter))
    logging.getLogger().setLevel(logging.WARNING)
    for handler in application.app.log.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(_Forward(meter))


class _Forward(io.TextIOBase):
    def __init__(self, meter: Meter) -> None:
        self.meter = meter

    def write(self, text: str) -> int:
        if self.meter.capturing:
            self.meter.log.write(text)
        return len(text)


# ---------------------------------------------------------------------------- the workload
def demo_delivery(cid: str, tier: str, at: str, event_id: str, credit: str = "50000.00") -> bytes:
    customer = {
        "id": cid,
        "name": f"Customer {cid}",
        "tier": tier,
        "email": f"{cid.lower()}@example.com",
        "credit_limit": credit,
        "updated_at": at,
    }
    return json.dumps({"event_id": event_id, "customer": customer}).encode()


def demo_deliveries() -> list[tuple[str, bytes]]:
    """(connector, body): the demo CRM's customers and the JSON ERP's orders, one record each."""
    t0, t1, t2, t3 = ("2026-10-30T08:00:00+08:00", "2026-11-01T08:00:00+08:00", "2026-11-02T08:00:00+08:00", "2026-11-03T08:00:00+08:00")
    out = [("demo_crm", demo_delivery(f"C-{n}", "Gold", t1, f"new-{n}")) for n in range(NEW_CUSTOMERS)]
    out += [("demo_crm", demo_delivery(f"C-{n}", "Gold", t2, f"upd-{n}", credit="60000.00")) for n in range(UPDATES)]
    out += [
        ("demo_crm", demo_delivery(f"C-{n}", "Platinum" if n % 2 else "Silver", t3, f"grade-{n}")) for n in range(50, 50 + GRADE_CHANGES)
    ]
    out += [("demo_crm", demo_delivery(f"C-{n}", "Bronze", t0, f"stale-{n}")) for n in range(100, 100 + STALE)]
    out += [out[n * 7] for n in range(RETRIES)]  # the vendor re-sends deliveries it got no answer for
    for n in range(ORDERS):
        placed = f"2026-11-03T10:{n % 60:02d}:00+08:00"
        total = "100.00" if n >= ORDERS - 2 else f"{100 + n}.00"  # the last two: the same order twice (an anomaly)
        order = {
            "id": f"O-{n}",
            "number": f"SO-{n}",
            "customer": "C-3" if n >= ORDERS - 2 else f"C-{n}",
            "placed_at": "2026-11-03T10:58:00+08:00" if n >= ORDERS - 2 else placed,
            "updated_at": placed,
            "status": "open",
            "currency": "CNY",
            "total": total,
            "lines": [{"id": "1", "sku": "SKU-A" if n >= ORDERS - 2 else f"SKU-{n}", "qty": "1", "price": total}],
        }
        out.append(("demo_erp", json.dumps({"event_id": f"erp-{n}", "order": order}).encode()))
    return out


def hubspot_deliveries() -> list[bytes]:
    """HubSpot deliveries: arrays of company property changes (name, industry, tier)."""
    now_ms = int(time.time() * 1000)
    deliveries = []
    for d in range(HUBSPOT_DELIVERIES):
        events = []
        for e in range(HUBSPOT_EVENTS_EACH):
            company = 9000 + d * HUBSPOT_EVENTS_EACH + e
            prop, value = [("name", f"Company {company}"), ("industry", "RETAIL"), ("customer_tier", "Gold")][e % 3]
            events.append(
                {
                    "eventId": 1_000_000 + d * 100 + e,
                    "subscriptionId": 25,
                    "portalId": 33,
                    "appId": 1160452,
                    "occurredAt": now_ms - 60_000 + e,
                    "subscriptionType": "company.propertyChange",
                    "attemptNumber": 0,
                    "objectId": company,
                    "propertyName": prop,
                    "propertyValue": value,
                    "changeSource": "CRM",
                }
            )
        deliveries.append(json.dumps(events).encode())
    return deliveries


def post_demo(client: Any, connector: str, body: bytes) -> int:
    signature = "sha256=" + hmac.new(DEMO_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Demo-Signature": signature}
    return _accepted(client.http.post(f"/webhooks/{connector}", headers=headers, body=body))


def post_hubspot(client: Any, body: bytes) -> int:
    from chalicelib.ingress.verify.hubspot import v3_signature

    timestamp = str(int(time.time() * 1000))
    headers = {
        "Content-Type": "application/json",
        "Host": "hooks.example.com",
        "X-HubSpot-Request-Timestamp": timestamp,
        "X-HubSpot-Signature-v3": v3_signature(HUBSPOT_SECRET, "POST", HUBSPOT_URL, body, timestamp),
    }
    return _accepted(client.http.post("/webhooks/hubspot", headers=headers, body=body))


def _accepted(response: Any) -> int:
    if response.status_code != 202:
        raise SystemExit(f"the door refused a bench delivery: {response.status_code} {response.body[:300]!r}")
    return int(json.loads(response.body)["records"])


# ---------------------------------------------------------------------------- Lambda's side: handlers as their event sources call them
class _Context:
    function_name = "salesbridge-bench"
    aws_request_id = "bench"
    memory_limit_in_mb = 512

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 120_000


def drain_queues(meter: Meter) -> int:
    """The SQS event sources: batches of up to 10, the webhook lane first, until both lanes are empty."""
    import app as application
    from chalicelib.runtime.queue import LANES
    from local.worker import poll_lanes_once

    def handler(event: Any, context: Any) -> Any:
        with meter.invoke("process_inbound"):
            return application.process_inbound(event, context)

    lanes = [os.environ[lane.queue_env] for lane in LANES]
    handled = 0
    while True:
        n = poll_lanes_once(handler, lanes, wait_seconds=0)
        if not n:
            return handled
        handled += n


def drain_stream(meter: Meter, iterators: dict[str, str]) -> int:
    """The events table's stream source: batches of 25 records, every record type (no event filter)."""
    import app as application
    from chalicelib.runtime import aws

    streams = aws.client("dynamodbstreams")
    arn = aws.client("dynamodb").describe_table(TableName=os.environ["EVENTS_TABLE"])["Table"]["LatestStreamArn"]
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        if shard["ShardId"] not in iterators:
            iterators[shard["ShardId"]] = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
    delivered = 0
    for shard_id, iterator in list(iterators.items()):
        while True:
            response = streams.get_records(ShardIterator=iterator, Limit=STREAM_BATCH)
            iterator = response.get("NextShardIterator") or iterator
            records = response.get("Records", [])
            if not records:
                break
            for r in records:
                r["eventSourceARN"] = arn
            with meter.invoke("dispatch_events"):
                application.dispatch_events({"Records": records}, _Context())
            delivered += len(records)
        iterators[shard_id] = iterator
    return delivered


def run_schedule(meter: Meter) -> int:
    import app as application

    event = {"version": "0", "id": "bench", "detail-type": "Scheduled Event", "source": "aws.events", "account": "1",
             "time": datetime.now(UTC).isoformat(), "region": "us-east-1", "resources": [], "detail": {}}  # fmt: skip
    with meter.invoke("scheduled_sync"):
        result = application.scheduled_sync(event, _Context())
    return sum(run["records"] for run in result["runs"])


# ---------------------------------------------------------------------------- pricing
@dataclass(frozen=True)
class Line:
    service: str
    quantity: str
    dollars: Decimal


def price(meter: Meter, capacity: Any, records: int, door: str) -> list[Line]:
    from benchmarks import prices as p

    lambda_requests = len(meter.invocations)  # the door's requests included: it runs in the API handler function
    gb_seconds = Decimal(0)
    for inv in meter.invocations:
        memory, _ = meter.memory[inv.function]
        gb_seconds += Decimal(math.ceil(inv.ms)) / 1000 * Decimal(memory) / 1024
    door_rate = p.API_GATEWAY_HTTP_PER_REQUEST if door == "HTTP API" else p.API_GATEWAY_REST_PER_REQUEST
    platform_lines = sum(_platform_log_bytes(inv, meter.memory[inv.function][0]) for inv in meter.invocations)
    log_bytes = sum(inv.log_bytes + 26 * inv.log_events for inv in meter.invocations) + platform_lines
    traced = meter.api_requests + sum(1 for inv in meter.invocations if inv.function != "api_handler")
    traces = Decimal(traced) * SAMPLED_SHARE if tracing_configured() else Decimal(0)
    sqs = sum(meter.sqs_requests.values())
    units = capacity.units
    ssm_and_secrets = meter.ssm_requests * p.SSM_PARAMETER_STANDARD_PER_REQUEST + meter.secrets_requests * p.SECRETS_MANAGER_PER_REQUEST
    return [
        Line(f"API Gateway ({door})", f"{meter.api_requests} requests", meter.api_requests * door_rate),
        Line("Lambda requests", f"{lambda_requests} invocations", lambda_requests * p.LAMBDA_PER_REQUEST),
        Line("Lambda compute", f"{gb_seconds:.3f} GB-s", gb_seconds * p.LAMBDA_PER_GB_SECOND["x86_64"]),
        Line("SQS FIFO", f"{sqs} requests", sqs * p.SQS_FIFO_PER_REQUEST),
        Line("DynamoDB writes", f"{units.writes} + {units.index_writes} index WRU", units.total_writes * p.DYNAMODB_PER_WRITE_UNIT),
        Line("DynamoDB reads", f"{units.reads:.1f} RRU", Decimal(str(units.reads)) * p.DYNAMODB_PER_READ_UNIT),
        Line("EventBridge", f"{meter.eventbridge_events} events", meter.eventbridge_events * p.EVENTBRIDGE_PER_EVENT),
        Line("CloudWatch Logs", f"{log_bytes} bytes", Decimal(log_bytes) / Decimal(1024**3) * p.CLOUDWATCH_LOGS_PER_GB),
        Line("X-Ray", f"{traces:.1f} traces", traces * p.XRAY_PER_TRACE),
        Line("KMS", f"{meter.kms_requests} requests", meter.kms_requests * p.KMS_PER_REQUEST),
        Line("SSM + Secrets Manager", f"{meter.ssm_requests} + {meter.secrets_requests} requests", ssm_and_secrets),
    ]


# fmt: skip


def _platform_log_bytes(inv: Invocation, memory: int) -> int:
    """Lambda's own START, END and REPORT lines for one invocation (+26 bytes of event overhead each)."""
    request_id = "8f507cfc-0c3a-4697-b07a-ac58fc914c95"
    start = f"START RequestId: {request_id} Version: $LATEST"
    end = f"END RequestId: {request_id}"
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {inv.ms:.2f} ms\tBilled Duration: {math.ceil(inv.ms)} ms\t"
        f"Memory Size: {memory} MB\tMax Memory Used: 120 MB\t"
    )
    return sum(len(line) + 1 + 26 for line in (start, end, report))


# ---------------------------------------------------------------------------- the run
def main() -> None:
    from tests.vendor_servers.base import LoopbackServer, Response
    from tests.vendor_servers.salesforce import SalesforceServer

    class Subscriber(LoopbackServer):
        def handle(self, request: Any) -> Response:
            return Response(200, b"{}", {"Content-Type": "application/json"})

    standin, endpoint = start_standin()
    salesforce, subscriber = SalesforceServer(SYNCED_ACCOUNTS), Subscriber()
    work = Path(tempfile.mkdtemp(prefix="bench-cost-"))
    try:
        run(endpoint, write_config(work, salesforce.url, subscriber.url), subscriber)
    finally:
        salesforce.stop()
        subscriber.stop()
        standin.terminate()
        standin.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def run(endpoint: str, config: Path, subscriber: Any) -> None:
    import boto3

    from local.aws_standin import FAKE_CREDENTIALS

    os.environ.update(FAKE_CREDENTIALS)
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        SALESBRIDGE_CONFIG_DIR=str(config),
        SF_CLIENT_SECRET="s3cr3t",
        DEMO_CRM_WEBHOOK_SECRET=DEMO_SECRET,
        BENCH_SUBSCRIBER_SECRET=SUBSCRIBER_SECRET,
        # What the stack's template adds to every function's environment (infra/template.py): secrets from the stage's SSM.
        SSM_PREFIX=f"/salesbridge/{STAGE}",
        PII_KEY_REF=f"ssm:/salesbridge/{STAGE}/pii-key",
    )
    from infra import resources
    from local.seed import LOCAL_PARAMETERS, seed_parameters

    session = boto3.session.Session()
    os.environ.update(resources.create_all(session))
    seed_parameters(session)
    ssm = session.client("ssm")
    for name in ("/salesbridge/prod/admin-token", "/salesbridge/prod/pii-key"):  # the prod stage reads its secrets from SSM
        ssm.put_parameter(Name=name, Value=f"bench-{name.rsplit('/', 1)[-1]}", Type="SecureString", Overwrite=True)
    for name, value in LOCAL_PARAMETERS.items():  # the connectors' secrets, under the stage's prefix
        ssm.put_parameter(Name=f"/salesbridge/{STAGE}{name.removeprefix('/salesbridge')}", Value=value, Type="SecureString", Overwrite=True)

    from chalice.test import Client

    import app as application

    meter = Meter(lambda_settings())
    capacity = meter.attach()
    capture_logs(meter)
    records = 0
    stream_iterators: dict[str, str] = {}
    with Client(application.app, stage_name=STAGE, project_dir=str(ROOT)) as client:
        started = time.perf_counter()
        deliveries: list[tuple[str, bytes]] = demo_deliveries()
        for n, body in enumerate(hubspot_deliveries()):  # the many-record deliveries arrive among the others
            deliveries.insert(n * len(deliveries) // HUBSPOT_DELIVERIES, ("hubspot", body))
        for n, (connector, body) in enumerate(deliveries, start=1):
            with meter.invoke("api_handler"):
                records += post_hubspot(client, body) if connector == "hubspot" else post_demo(client, connector, body)
            meter.api_requests += 1
            if n % DRAIN_EVERY == 0:  # the queues' event sources keep up as deliveries arrive: batches of about 10
                drain_queues(meter)
            if n % (5 * DRAIN_EVERY) == 0:
                drain_stream(meter, stream_iterators)
        drain_queues(meter)
        records += run_schedule(meter)
        drain_queues(meter)
        drain_stream(meter, stream_iterators)
        drain_stream(meter, stream_iterators)  # the dispatcher's own updates, as the stream delivers them
        seconds = time.perf_counter() - started
    report(meter, capacity, records, subscriber, seconds)


def report(meter: Meter, capacity: Any, records: int, subscriber: Any, seconds: float) -> None:
    from benchmarks import prices as p
    from chalicelib.runtime import aws

    door = door_kind()
    lines = price(meter, capacity, records, door)
    scale = Decimal(1_000_000) / Decimal(records)
    per_million = [(line, line.dollars * scale) for line in lines]
    total = sum((d for _, d in per_million), Decimal(0))
    events = aws.client("dynamodb").scan(TableName=os.environ["EVENTS_TABLE"], Select="COUNT")["Count"]
    delivered = sum(1 for r in subscriber.log if r.method == "POST")
    by_function = Counter(inv.function for inv in meter.invocations)
    busy = Counter[str]()
    for inv in meter.invocations:
        busy[inv.function] += inv.ms
    mean_ms = ", ".join(f"{name} {n} × {busy[name] / n:.0f} ms" for name, n in by_function.items())
    other_door = Line("API Gateway (HTTP API)", "", meter.api_requests * p.API_GATEWAY_HTTP_PER_REQUEST * scale)
    if door == "HTTP API":
        other_door = Line("API Gateway (REST)", "", meter.api_requests * p.API_GATEWAY_REST_PER_REQUEST * scale)
    print(
        f"cost workload: {records} records ({meter.api_requests} webhook requests, {SYNCED_ACCOUNTS} synced; {RETRIES} vendor retries, "
        f"{STALE} stale), {events} events ({events / records:.1%} of records) to EventBridge and {delivered} HTTP deliveries; "
        f"invocations (mean busy time): {mean_ms}; {seconds:.0f} s on the local stand-in, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        "cost by service, $ per million records: "
        + "; ".join(f"{line.service} {d:.3f} ({line.quantity})" for line, d in per_million)
        + f"; door alternative: {other_door.service} {other_door.dollars:.3f}"
    )
    total_alternative = total - per_million[0][1] + other_door.dollars
    alternative = other_door.service.removeprefix("API Gateway ").strip("()")
    airbyte = p.AIRBYTE_CLOUD_PER_MILLION_ROWS
    print(
        f"cost: ${total:.2f} per million records at us-east-1 list prices ({p.AS_OF}, benchmarks/prices.py) — "
        f"ratio to Airbyte Cloud's ${airbyte}: {total / airbyte:.2f} (${total_alternative:.2f}, {total_alternative / airbyte:.2f} "
        f"with the door on {alternative}); goal ≤ $5: {'met' if total <= 5 else 'NOT met'}"
    )
    units = capacity.units
    writes = units.total_writes * p.provisioned_per_unit(p.DYNAMODB_PER_WCU_HOUR) * scale
    reads = Decimal(str(units.reads)) * p.provisioned_per_unit(p.DYNAMODB_PER_RCU_HOUR) * scale
    on_demand = sum((d for line, d in per_million if line.service.startswith("DynamoDB")), Decimal(0))
    provisioned = total - on_demand + writes + reads
    # Capacity paid for but idle (a flow that varies faster than auto scaling follows) costs in proportion:
    # the lowest average utilisation at which the whole still costs $5.
    room = 5 - (total - on_demand)
    lowest = (writes + reads) * p.PROVISIONED_UTILISATION / room if room > 0 else None
    print(
        f"cost with provisioned tables (TableBillingMode=PROVISIONED, auto scaling at {p.PROVISIONED_UTILISATION:.0%} utilisation, "
        f"a steady flow): ${provisioned:.2f} per million records (DynamoDB writes {writes:.2f}, reads {reads:.2f}) — "
        f"ratio to Airbyte Cloud's ${airbyte}: {provisioned / airbyte:.2f}; goal ≤ $5: {'met' if provisioned <= 5 else 'NOT met'}"
        + (f" down to an average utilisation of {lowest:.0%}" if lowest is not None and lowest <= 1 else "")
    )


if __name__ == "__main__":
    main()
