"""What operators see: a processed record's JSON log line with its ids, and EMF metrics CloudWatch accepts."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stack import demo_body, demo_signature, drain, post_demo

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def log_lines():
    """The JSON log handler the functions install, writing to a buffer; the logging setup is restored after."""
    from chalicelib.runtime import observability

    root, app_logger = logging.getLogger(), logging.getLogger("salesbridge")
    saved = (list(root.handlers), root.level, list(app_logger.handlers), app_logger.propagate, app_logger.level)
    buffer = io.StringIO()
    observability.configure_logging(buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.handlers, root.level = saved[0], saved[1]
    app_logger.handlers, app_logger.propagate, app_logger.level = saved[2], saved[3], saved[4]


def emf_lines(text: str) -> list[dict]:
    found = []
    for line in text.splitlines():
        if line.startswith('{"_aws"'):
            found.append(json.loads(line))
    return found


def check_emf(document: dict) -> None:
    """The embedded metric format's rules (the parts CloudWatch rejects a line for)."""
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert isinstance(document["_aws"]["Timestamp"], int)
    assert directive["Namespace"] == "salesbridge"
    for dimension_set in directive["Dimensions"]:
        assert 1 <= len(dimension_set) <= 30 and all(isinstance(document[d], str) for d in dimension_set)
    for metric in directive["Metrics"]:
        assert metric["Unit"] in ("Count", "Seconds") and all(isinstance(v, float) for v in document[metric["Name"]])


def test_a_processed_record_logs_one_json_line_with_its_correlation_id(stack, log_lines, capsys):
    response = post_demo(stack, demo_body())
    receipt = json.loads(response.body)["receipt_id"]
    drain()
    lines = [line for line in log_lines() if line["message"].startswith("record ")]
    assert len(lines) == 1
    (line,) = lines
    assert line["level"] == "INFO" and line["message"] == "record applied" and line["outcome"] == "applied"
    assert line["correlation_id"] == line["receipt_id"] == receipt
    assert line["connector"] == "demo_crm" and line["function"] and line["entity"].startswith("customer#")


def test_metrics_are_written_as_emf_per_invocation(harness, capsys):
    capsys.readouterr()
    body = demo_body()
    assert harness.post("demo_crm", body) == 202
    harness.drain()
    harness.enqueue_late_copy(body)  # the same input again, after SQS's dedupe window: a duplicate
    assert harness.post("demo_crm", demo_body(customer_id="C-9", tier="Titanium")) == 202  # quarantined
    assert harness.post("demo_crm", body, signature=demo_signature(body, "wrong")) == 401  # refused at the door
    harness.drain()
    documents = emf_lines(capsys.readouterr().out)
    for document in documents:
        check_emf(document)
    totals: dict[tuple[str, str], float] = {}
    for document in documents:
        detail = document.get("connector") or document.get("reason") or ""
        for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            totals[(metric["Name"], detail)] = totals.get((metric["Name"], detail), 0) + sum(document[metric["Name"]])
    assert totals[("RecordsReceived", "demo_crm")] == 3
    assert totals[("RecordsApplied", "demo_crm")] == 1
    assert totals[("RecordsDuplicate", "demo_crm")] == 1
    assert totals[("RecordsQuarantined", "demo_crm")] == 1
    assert totals[("DoorRefusals", "bad_signature")] == 1
    per_connector = next(d for d in documents if "RecordsApplied" in d)
    assert per_connector["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["connector", "service"], ["service"]]


def test_an_accepted_webhook_and_health_import_no_observability_library(aws):
    """Cold start: Powertools is imported only when a line is logged or a metric counted, not on the door's happy path."""
    import os

    body = demo_body().decode()
    probe = f"""
import json, sys
sys.path.insert(0, '.')
import app
from chalice.test import Client
from tests.stack import demo_signature
client = Client(app.app, stage_name='local')
client.__enter__()
health = client.http.get('/health').status_code
body = {body!r}.encode()
headers = {{'Content-Type': 'application/json', 'X-Demo-Signature': demo_signature(body)}}
door = client.http.post('/webhooks/demo_crm', headers=headers, body=body)
loaded = sorted(m for m in sys.modules if m.startswith('aws_lambda_powertools'))
print(json.dumps({{'health': health, 'door': door.status_code, 'loaded': loaded}}))
"""
    env = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "SALESBRIDGE_")) or k.endswith(("_TABLE", "_URL", "_NAME"))}
    env.update(PATH="/usr/bin:/bin", SALESBRIDGE_PII_KEY="k", AWS_LAMBDA_FUNCTION_NAME="salesbridge-test-webhooks", SALESBRIDGE_LOCAL="1")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"health": 200, "door": 202, "loaded": []}
