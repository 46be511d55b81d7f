"""The configuration files reach the Lambda: build the real package and load them from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    from infra.package import build

    out = tmp_path_factory.mktemp("pkg") / "out"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return build(out, lint=True)  # lint: cfn-lint must pass on the generated template


def test_configuration_loads_from_the_deployment_package(package, tmp_path):
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        names = archive.namelist()
        assert any(n.startswith("connectors/") and n.endswith(".yaml") for n in names)
        assert any(n.startswith("mappings/") and n.endswith(".yaml") for n in names)
        assert not any(n.startswith(("tests/", "local/", "moto/")) for n in names), "test tools must not ship"
        archive.extractall(tmp_path)
    probe = (
        "import json; from pathlib import Path; from chalicelib.configuration import load_configuration; "
        "c = load_configuration(Path('.')); import chalicelib; "
        "print(json.dumps({'connectors': sorted(c.connectors), 'mappings': len(c.mappings.mappings), 'from': chalicelib.__file__}))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, '.'); {probe}"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert "demo_crm" in loaded["connectors"] and loaded["mappings"] >= 1
    assert loaded["from"].startswith(str(tmp_path))


def test_template_wires_queue_stream_and_partial_batch_responses(package):
    sam = json.loads((package / "sam.json").read_text())
    resources = sam["Resources"]
    for logical_id in ("StateTable", "AuditTable", "EventsTable", "InboundQueue", "InboundDeadLetterQueue", "EventBus"):
        assert logical_id in resources
    sqs = resources["ProcessInbound"]["Properties"]["Events"]["ProcessInboundSqsEventSource"]["Properties"]
    assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert sqs["Queue"] == {"Fn::Sub": "${InboundQueue.Arn}"}
    env = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert env["STATE_TABLE"] == {"Ref": "StateTable"} and env["INBOUND_QUEUE_URL"] == {"Ref": "InboundQueue"}
    assert env["BULK_QUEUE_URL"] == {"Ref": "BulkQueue"} and env["BULK_DLQ_URL"] == {"Ref": "BulkDeadLetterQueue"}


def test_the_bulk_lane_feeds_the_same_processor_with_its_own_dead_letter_queue(package):
    resources = json.loads((package / "sam.json").read_text())["Resources"]
    bulk = resources["ProcessInbound"]["Properties"]["Events"]["ProcessInboundBulkSqsEventSource"]
    assert bulk["Type"] == "SQS" and bulk["Properties"]["Queue"] == {"Fn::Sub": "${BulkQueue.Arn}"}
    assert bulk["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (
        bulk["Properties"]["ScalingConfig"]["MaximumConcurrency"]
        < resources["ProcessInbound"]["Properties"]["ReservedConcurrentExecutions"]
    )
    redrive = resources["BulkQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["BulkDeadLetterQueue", "Arn"]}
