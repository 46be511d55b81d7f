"""The deployment package: the configuration files reach the Lambda, every module ships compiled, the SDK models it needs are in.

The real package is built once (``make package``), extracted into a read-only directory and
run by ``python -I -S -B``: only the package and the standard library importable, no
bytecode written, as in Lambda's ``/var/task``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    from infra.package import build

    out = tmp_path_factory.mktemp("pkg") / "out"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return build(out, lint=True)  # lint: cfn-lint must pass on the generated template


@pytest.fixture(scope="module")
def task_root(package, tmp_path_factory):
    """The package extracted as Lambda extracts it into /var/task: read-only."""
    root = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        archive.extractall(root)
    for path in [*root.rglob("*"), root]:
        path.chmod(path.stat().st_mode & ~0o222)
    yield root
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)


def run_in_package(root: Path, code: str, **env: str) -> Any:
    """Run ``code`` as Lambda would: only the package and the standard library importable, no bytecode written."""
    environment = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1", "AWS_DEFAULT_REGION": "us-east-1", **env}
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", f"import sys; sys.path.insert(0, {str(root)!r}); {code}"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_configuration_loads_from_the_deployment_package(package, task_root):
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        names = archive.namelist()
        assert any(n.startswith("connectors/") and n.endswith(".yaml") for n in names)
        assert any(n.startswith("mappings/") and n.endswith(".yaml") for n in names)
        assert not any(n.startswith(("tests/", "local/", "moto/")) for n in names), "test tools must not ship"
    probe = (
        "import json; from pathlib import Path; from chalicelib.configuration import load_configuration; "
        "c = load_configuration(Path('.')); import chalicelib; "
        "print(json.dumps({'connectors': sorted(c.connectors), 'mappings': len(c.mappings.mappings), 'from': chalicelib.__file__}))"
    )
    loaded = run_in_package(task_root, probe)
    assert "demo_crm" in loaded["connectors"] and loaded["mappings"] >= 1
    assert loaded["from"].startswith(str(task_root))


PYC_CHECK = """
import importlib.util, json, sys
import app
from chalicelib.configuration import current
current()
import chalicelib.pipeline.processor, chalicelib.dispatch.deliver, chalicelib.sync.scheduler  # the other functions' handlers
root = sys.path[0]
report = {"modules": 0, "without_pyc": [], "stale_pyc": [], "checked_pyc": []}
for name, module in sorted(sys.modules.items()):
    source = getattr(module, "__file__", None) or ""
    if not source.startswith(root) or not source.endswith(".py"):
        continue
    report["modules"] += 1
    cached = importlib.util.cache_from_source(source)
    try:
        data = open(cached, "rb").read(16)
    except FileNotFoundError:
        report["without_pyc"].append(name)
        continue
    flags = int.from_bytes(data[4:8], "little")
    if flags != 0b01:  # hash-based (bit 0), not checked against the source (bit 1): always used, never recompiled
        report["checked_pyc"].append(name)
    if data[8:16] != importlib.util.source_hash(open(source, "rb").read()):
        report["stale_pyc"].append(name)
print(json.dumps(report))
"""


def test_every_module_the_functions_import_ships_compiled_for_this_python(task_root):
    report = run_in_package(task_root, PYC_CHECK, SALESBRIDGE_PII_KEY="k", AWS_XRAY_SDK_ENABLED="false")
    assert report["without_pyc"] == [] and report["stale_pyc"] == [] and report["checked_pyc"] == []
    assert report["modules"] > 200  # app, chalicelib, chalice, pydantic, boto3/botocore, httpx ...


def test_the_package_keeps_the_sdk_models_of_every_service_the_code_calls_and_drops_the_others(package, task_root):
    from infra.package import kept_services

    services = kept_services(ROOT)
    assert {"dynamodb", "sqs", "events", "ssm", "secretsmanager", "xray"} <= services
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        shipped = {n.split("/")[2] for n in archive.namelist() if n.startswith("botocore/data/") and n.count("/") >= 3}
    assert shipped == set(services)
    code = (
        "import json, boto3; "
        f"clients = [boto3.client(s, region_name='us-east-1').meta.service_model.service_name for s in {sorted(services)!r}]; "
        "print(json.dumps(clients))"
    )
    assert run_in_package(task_root, code) == sorted(services)


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
