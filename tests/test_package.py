"""The deployment package and the stack's template, built once as ``make package`` builds them.

moto checks none of what follows, so each rule of the field is tested here directly: the
configuration reaches the Lambda, the template lints (cfn-lint with informational checks,
``sam validate --lint``), API timeouts fit API Gateway's, every alarm watches something that
exists, state is protected, no ARN reaches beyond this stack's account and region, and two
stages from one checkout share no name.

The package is extracted into a read-only directory and run by ``python -I -S -B``: only the
package and the standard library importable, no bytecode written, as in Lambda's ``/var/task``;
every module ships compiled and the SDK models it needs are in.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.infra.cfn import Resolver

ROOT = Path(__file__).resolve().parent.parent
SAM = ROOT / ".venv" / "sam" / "bin" / "sam"


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    from infra.package import build

    out = tmp_path_factory.mktemp("pkg") / "out"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return build(out, lint_template=True)  # lint: cfn-lint, informational checks included, must pass


@pytest.fixture(scope="module")
def template(package) -> dict[str, Any]:
    return json.loads((package / "sam.json").read_text())


def resources_of(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


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


# ----------------------------------------------------------------------------- the package
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


def test_a_cold_start_reads_the_parsed_configuration_and_imports_no_yaml_parser(package, task_root):
    """The package carries connectors/ and mappings/ parsed at build time (chalicelib/config/parsed_cache.py)."""
    from chalicelib.config import parsed_cache

    with zipfile.ZipFile(package / "deployment.zip") as archive:
        cached = json.loads(archive.read(parsed_cache.FILE_NAME))["files"]
        shipped = {n for n in archive.namelist() if n.startswith(parsed_cache.FOLDERS) and n.endswith((".yaml", ".yml"))}
    assert set(cached) == shipped
    probe = (
        "import json, sys; from pathlib import Path; from chalicelib.configuration import load_configuration; "
        "c = load_configuration(Path('.')); "
        "print(json.dumps({'versions': c.versions, 'yaml': sorted(m for m in sys.modules if m.split('.')[0] in ('yaml', '_yaml'))}))"
    )
    loaded = run_in_package(task_root, probe)
    assert loaded["yaml"] == [] and "demo_crm_customer" in loaded["versions"]


DOOR_COLD_START = """
import json, sys
import app
class Context:
    function_name = "door"; aws_request_id = "r"; memory_limit_in_mb = 512
    def get_remaining_time_in_millis(self): return 30000
event = {"resource": "/health", "path": "/health", "httpMethod": "GET", "headers": {}, "multiValueHeaders": {},
         "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
         "stageVariables": None, "body": None, "isBase64Encoded": False,
         "requestContext": {"resourcePath": "/health", "httpMethod": "GET", "stage": "api", "requestId": "r", "identity": {}}}
status = json.loads(json.dumps(app.app(event, Context())))["statusCode"]
from chalicelib.ingress.door import door_connectors
rest = ("chalicelib.configuration", "chalicelib.mapping", "chalicelib.triggers", "chalicelib.rules")
loaded = sorted(m for m in sys.modules if m.startswith(rest))
print(json.dumps({"status": status, "loaded": loaded, "connectors": sorted(door_connectors())}))
"""


def test_the_build_checks_the_configuration_and_the_door_then_reads_only_the_connector_files(package, task_root):
    from chalicelib.config import parsed_cache

    with zipfile.ZipFile(package / "deployment.zip") as archive:
        assert json.loads(archive.read(parsed_cache.FILE_NAME))["checked"] is True
    report = run_in_package(task_root, DOOR_COLD_START, SALESBRIDGE_PII_KEY="k", AWS_XRAY_SDK_ENABLED="false")
    assert report["status"] == 200 and "demo_crm" in report["connectors"]
    assert report["loaded"] == [], "GET /health and the door load no mapping, trigger or rule on a cold start"


def test_a_configuration_that_does_not_load_is_refused_by_the_build_with_every_problem(tmp_path):
    from infra.package import PackageRefused, finish_package

    zip_path = tmp_path / "deployment.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        for folder in ("connectors", "mappings"):
            for path in sorted((ROOT / folder).rglob("*.yaml")):
                archive.write(path, path.relative_to(ROOT).as_posix())
        archive.writestr("mappings/broken.yaml", "kind: mapping\nname: broken\nsurprise: 1\n")
        archive.writestr("connectors/odd.yaml", "kind: connector\nname: not a name!\ntype: generic_json\n")
    before = zip_path.read_bytes()
    with pytest.raises(PackageRefused) as refused:
        finish_package(zip_path, frozenset())
    message = str(refused.value)
    assert "mappings/broken.yaml:" in message and "connectors/odd.yaml:" in message and "no package was made" in message
    assert zip_path.read_bytes() == before, "the refused package is left as it was"


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


def test_the_package_carries_no_bytecode_without_its_source(task_root):
    """A checkout's __pycache__ may hold modules since renamed or removed: only this build's bytecode ships."""
    orphans = [
        str(pyc.relative_to(task_root))
        for pyc in task_root.rglob("*.pyc")
        if pyc.parent.name != "__pycache__" or not (pyc.parent.parent / f"{pyc.name.split('.')[0]}.py").is_file()
    ]
    assert orphans == []


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


def test_sam_validate_lint_passes(package):
    """AWS SAM CLI's own check (it cannot share the project's virtualenv: it pins older boto3 and pydantic)."""
    assert SAM.exists(), "the SAM CLI is installed by `make install` into .venv/sam"
    env = dict(os.environ, SAM_CLI_TELEMETRY="0", AWS_DEFAULT_REGION="us-east-1")
    result = subprocess.run([str(SAM), "validate", "--lint", "-t", str(package / "sam.json")], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout


# ----------------------------------------------------------------------------- wiring
def test_event_sources_are_wired_to_this_stacks_resources(template):
    res = template["Resources"]
    for logical_id in ("StateTable", "AuditTable", "EventsTable", "InboundQueue", "InboundDeadLetterQueue", "EventBus", "EventBusArchive"):
        assert logical_id in res
    sqs = res["ProcessInbound"]["Properties"]["Events"]["ProcessInboundSqsEventSource"]["Properties"]
    assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert sqs["Queue"] == {"Fn::GetAtt": ["InboundQueue", "Arn"]}
    stream = res["DispatchEvents"]["Properties"]["Events"]["DispatchEventsDynamodbEventSource"]["Properties"]
    assert stream["Stream"] == {"Fn::GetAtt": ["EventsTable", "StreamArn"]}
    assert stream["DestinationConfig"]["OnFailure"] == {"Type": "SQS", "Destination": {"Fn::GetAtt": ["DispatchFailureQueue", "Arn"]}}
    assert res["DispatchFailureQueue"]["Properties"].get("FifoQueue") is not True, "Lambda destinations take standard queues only"
    env = res["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert env["STATE_TABLE"] == {"Ref": "StateTable"} and env["INBOUND_QUEUE_URL"] == {"Ref": "InboundQueue"}
    assert env["BULK_QUEUE_URL"] == {"Ref": "BulkQueue"} and env["BULK_DLQ_URL"] == {"Ref": "BulkDeadLetterQueue"}
    assert "ADMIN_TOKEN_REF" not in env, "deployed stages authenticate operators with IAM, not a token"


def test_the_door_is_on_the_http_api_and_the_operator_routes_on_the_rest_api_with_iam(template):
    res = template["Resources"]
    door = res["WebhookHandler"]["Properties"]
    events = list(door["Events"].values())
    assert [(e["Type"], e["Properties"]["Path"], e["Properties"]["PayloadFormatVersion"]) for e in events] == [
        ("HttpApi", "/webhooks/{connector}", "1.0")
    ]
    assert door["Handler"] == res["APIHandler"]["Properties"]["Handler"] == "app.app"
    rest = res["RestAPI"]["Properties"]
    paths = rest["DefinitionBody"]["paths"]
    assert "/webhooks/{connector}" not in paths, "the door must not also be served by the REST API (and the admin role)"
    public = {("/health", "get")}
    for path, methods in paths.items():
        for method, spec in methods.items():
            if (path, method) in public or path.startswith(("/console", "/my-data/")):  # pages carry their own session or link
                assert "security" not in spec
                continue
            assert spec.get("security") == [{"sigv4": []}], f"{method.upper()} {path} is not protected by AWS IAM"
    assert rest["DefinitionBody"]["securityDefinitions"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    (setting,) = rest["MethodSettings"]
    assert setting["ThrottlingRateLimit"] == {"Ref": "AdminRateLimit"} and setting["ThrottlingBurstLimit"] == {"Ref": "AdminBurstLimit"}
    assert res["WebhookApi"]["Properties"]["DefaultRouteSettings"]["ThrottlingRateLimit"] == {"Ref": "WebhookRateLimit"}


# SAM's own translation (in its virtualenv): what CloudFormation will be given for the door.
TRANSLATE = """
import json, sys
from samtranslator.translator.transform import transform
class NoManagedPolicies:
    def load(self): return {}
template = json.load(sys.stdin)
for resource in template["Resources"].values():
    if resource["Type"] == "AWS::Serverless::Function":
        resource["Properties"]["CodeUri"] = "s3://bucket/deployment.zip"  # uploaded by `sam deploy`
print(json.dumps(transform(template, {"AWS::Region": "us-east-1"}, NoManagedPolicies())))
"""


def sam_translate(template: dict[str, Any]) -> dict[str, Any]:
    python = SAM.parent / "python"
    env = dict(os.environ, AWS_DEFAULT_REGION="us-east-1")
    result = subprocess.run([str(python), "-c", TRANSLATE], input=json.dumps(template), capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    translated: dict[str, Any] = json.loads(result.stdout)
    return translated


def test_the_door_starts_from_a_snapshot_and_the_http_api_calls_its_alias(template):
    """SnapStart applies to published versions only: the API must call the alias, and every change must publish."""
    door = template["Resources"]["WebhookHandler"]["Properties"]
    assert door["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert door["AutoPublishAlias"] == "live" and door["AutoPublishAliasAllProperties"] is True
    from chalicelib.runtime.snapstart import DOOR_FUNCTION

    assert door["Environment"]["Variables"]["SALESBRIDGE_FUNCTION"] == DOOR_FUNCTION  # whose init primes the door
    assert not [
        k
        for k, v in resources_of(template, "AWS::Serverless::Function").items()
        if "SnapStart" in v["Properties"] and k != "WebhookHandler"
    ]

    res = sam_translate(template)["Resources"]
    (version_id,) = [k for k, v in res.items() if v["Type"] == "AWS::Lambda::Version"]
    assert res["WebhookHandler"]["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert res["WebhookHandlerAliaslive"]["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
    (route,) = res["WebhookApi"]["Properties"]["Body"]["paths"].values()
    assert "${WebhookHandlerAliaslive}" in route["post"]["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
    permissions = [v["Properties"] for v in res.values() if v["Type"] == "AWS::Lambda::Permission" and "WebhookApi" in json.dumps(v)]
    assert permissions and all(p["FunctionName"] == {"Ref": "WebhookHandlerAliaslive"} for p in permissions)

    changed = copy.deepcopy(template)  # a variable changes, not the code: a new version all the same
    changed["Resources"]["WebhookHandler"]["Properties"]["Environment"]["Variables"]["LOG_LEVEL"] = "DEBUG"
    (changed_version,) = [k for k, v in sam_translate(changed)["Resources"].items() if v["Type"] == "AWS::Lambda::Version"]
    assert changed_version != version_id


def test_api_functions_end_before_api_gateway_gives_up(template):
    """API Gateway ends an integration at 29 s (REST) and 30 s (HTTP API); a longer timeout only wastes the work."""
    res = template["Resources"]
    assert res["APIHandler"]["Properties"]["Timeout"] <= 29
    assert res["WebhookHandler"]["Properties"]["Timeout"] <= 29


# ----------------------------------------------------------------------------- done when
def test_alarms_dashboard_log_retention_and_protected_state(template):
    alarms = resources_of(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 6
    assert resources_of(template, "AWS::CloudWatch::Dashboard")
    functions = resources_of(template, "AWS::Serverless::Function")
    groups = resources_of(template, "AWS::Logs::LogGroup")
    assert {f"{f}LogGroup" for f in functions} <= set(groups)
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert template["Parameters"]["LogRetentionDays"]["Default"] == 30
    for name, table in resources_of(template, "AWS::DynamoDB::Table").items():
        assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain", name
        assert table["Properties"]["DeletionProtectionEnabled"] is True, name
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name
    assert template["Resources"]["InboundDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == 14 * 86400


def test_every_alarm_watches_something_that_exists(template):
    """Resources named by an alarm exist; every custom metric an alarm reads is emitted by the code."""
    res = template["Resources"]
    code = "\n".join(p.read_text() for p in (ROOT / "chalicelib").rglob("*.py"))
    for name, alarm in resources_of(template, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        for node in walk(props["Dimensions"]):
            if isinstance(node, dict) and "Ref" in node:
                assert node["Ref"] in res, f"{name}: {node['Ref']}"
            if isinstance(node, dict) and "Fn::GetAtt" in node:
                assert node["Fn::GetAtt"][0] in res, f"{name}: {node['Fn::GetAtt']}"
        if props["Namespace"] == "salesbridge":
            assert f'"{props["MetricName"]}"' in code, f"{name}: no code emits {props['MetricName']}"
        assert props["AlarmActions"] == [{"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}]
    body = res["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for reference in re.findall(r"\$\{([A-Za-z0-9]+)[.}]", body):
        assert reference in res or reference in template["Parameters"] or reference.startswith("AWS"), reference


def test_no_arn_reaches_another_region_or_account(template):
    """Every ARN is built from ${AWS::Region}/${AWS::AccountId} or a reference; only X-Ray's actions take '*'."""
    for node in walk(template):
        if isinstance(node, str) and "arn:" in node:
            for arn in re.findall(r"arn:[^\"\s,]*", node):
                parts = arn.split(":")
                if len(parts) > 4:
                    assert parts[3] != "*" and parts[4] != "*", arn
    for role in resources_of(template, "AWS::IAM::Role").values():
        for statement in role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
            if isinstance(statement, dict) and "Fn::If" in statement:
                statement = statement["Fn::If"][1]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if "*" in resources:
                assert all(a.startswith("xray:") for a in statement["Action"]), statement


# ----------------------------------------------------------------------------- two stages, one account
def names_of(template: dict[str, Any], stage: str) -> dict[str, str]:
    """Every physical name and SSM path the stage's stack would create or read, resolved as CloudFormation would."""
    from infra.template import conditions, stage_parameters

    resolver = Resolver(
        stage_parameters(stage),
        refs=lambda logical_id: f"<generated name of {logical_id} in salesbridge-{stage}>",
        attributes=lambda logical_id, attribute: f"<{attribute} of {logical_id} in salesbridge-{stage}>",
        conditions=conditions(),
    )
    name_keys = ("TableName", "QueueName", "Name", "FunctionName", "LogGroupName", "ArchiveName", "TopicName", "DashboardName", "RoleName")
    found: dict[str, str] = {}
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        for key in name_keys:
            if key in props and not (key == "Name" and resource["Type"] == "AWS::Serverless::Api"):
                found[f"{logical_id}.{key}"] = str(resolver(props[key]))
        for variable, value in props.get("Environment", {}).get("Variables", {}).items():
            text = str(resolver(value))
            if text.startswith(("ssm:", "/")):
                found[f"{logical_id}.{variable}"] = text
    return found


def test_two_stages_from_one_checkout_share_no_resource_or_parameter_name(package):
    from infra.template import build

    sam = json.loads((package / "chalice-sam.json").read_text())
    prod, staging = names_of(build(sam, "prod"), "prod"), names_of(build(sam, "staging"), "staging")
    assert prod.keys() == staging.keys() and len(prod) >= 20
    shared = set(prod.values()) & set(staging.values())
    assert not shared, shared
    assert prod["APIHandler.SSM_PREFIX"] == "/salesbridge/prod" and prod["StateTable.TableName"] == "salesbridge-prod-state"


def test_api_gateways_own_errors_have_the_routes_shape(template):
    """An unknown path, an unsigned call, throttling: API Gateway's answers are {"error", "message"} too."""
    responses = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]
    assert {"DEFAULT_4XX", "DEFAULT_5XX", "MISSING_AUTHENTICATION_TOKEN", "ACCESS_DENIED", "THROTTLED"} <= set(responses)
    for kind, spec in responses.items():
        rendered = spec["responseTemplates"]["application/json"].replace(
            "$context.error.messageString", json.dumps('Missing "Authentication" Token')
        )  # API Gateway substitutes the message as a quoted JSON string
        body = json.loads(rendered)
        assert set(body) == {"error", "message"} and body["message"] == 'Missing "Authentication" Token', kind
        assert body["error"].islower() and " " not in body["error"], kind


def test_the_bulk_lane_feeds_the_same_processor_with_its_own_dead_letter_queue(package):
    resources = json.loads((package / "sam.json").read_text())["Resources"]
    bulk = resources["ProcessInbound"]["Properties"]["Events"]["ProcessInboundBulkQueueSqsEventSource"]
    assert bulk["Type"] == "SQS" and bulk["Properties"]["Queue"] == {"Fn::GetAtt": ["BulkQueue", "Arn"]}
    assert bulk["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert bulk["Properties"]["ScalingConfig"] == {"MaximumConcurrency": 20}
    redrive = resources["BulkQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["BulkDeadLetterQueue", "Arn"]}


def _resolve_tables(template: dict[str, Any], billing_mode: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tables' properties and the auto scaling resources CloudFormation would create for this billing mode."""
    from infra import capacity
    from infra.template import stage_parameters

    parameters = stage_parameters("prod") | {
        capacity.BILLING_MODE: billing_mode,
        capacity.MIN_UNITS: "5",
        capacity.MAX_UNITS: "4000",
        capacity.TARGET: "70",
    }
    resolver = Resolver(parameters, refs=lambda logical_id: f"salesbridge-prod-{logical_id}", attributes=lambda *_: "x")
    resolver.conditions = template["Conditions"]
    tables = {k: resolver(v["Properties"]) for k, v in resources_of(template, "AWS::DynamoDB::Table").items()}
    created = {
        k: resolver(v["Properties"])
        for k, v in template["Resources"].items()
        if v["Type"].startswith("AWS::ApplicationAutoScaling::") and resolver.condition(v["Condition"])
    }
    return tables, created


def test_tables_are_on_demand_by_default_with_no_scaling(template):
    tables, scaling = _resolve_tables(template, "PAY_PER_REQUEST")
    assert tables and not scaling
    for name, props in tables.items():
        assert props["BillingMode"] == "PAY_PER_REQUEST" and "ProvisionedThroughput" not in props, name
        assert all("ProvisionedThroughput" not in index for index in props.get("GlobalSecondaryIndexes", [])), name


def test_provisioned_tables_scale_every_table_and_index_for_reads_and_writes(template):
    """A provisioned stage leaves nothing at its minimum: each table and each index has its own targets and policies."""
    tables, scaling = _resolve_tables(template, "PROVISIONED")
    expected = set()
    for logical_id, props in tables.items():
        assert props["BillingMode"] == "PROVISIONED", logical_id
        assert props["ProvisionedThroughput"] == {"ReadCapacityUnits": "5", "WriteCapacityUnits": "5"}, logical_id
        name = f"salesbridge-prod-{logical_id}"
        expected |= {(f"table/{name}", f"dynamodb:table:{d}CapacityUnits") for d in ("Read", "Write")}
        for index in props.get("GlobalSecondaryIndexes", []):
            assert index["ProvisionedThroughput"] == props["ProvisionedThroughput"], (logical_id, index["IndexName"])
            expected |= {(f"table/{name}/index/{index['IndexName']}", f"dynamodb:index:{d}CapacityUnits") for d in ("Read", "Write")}
    targets = {k: v for k, v in scaling.items() if "ScalableDimension" in v}
    assert {(t["ResourceId"], t["ScalableDimension"]) for t in targets.values()} == expected
    assert all(t["MinCapacity"] == "5" and t["MaxCapacity"] == "4000" and t["ServiceNamespace"] == "dynamodb" for t in targets.values())
    policies = [v for v in scaling.values() if "PolicyType" in v]
    assert len(policies) == len(targets)
    raw = template["Resources"]
    for policy_id, resource in raw.items():
        if resource["Type"] == "AWS::ApplicationAutoScaling::ScalingPolicy":
            target = resource["Properties"]["ScalingTargetId"]["Ref"]
            dimension = raw[target]["Properties"]["ScalableDimension"].split(":")[2].removesuffix("CapacityUnits")
            config = resource["Properties"]["TargetTrackingScalingPolicyConfiguration"]
            assert config["PredefinedMetricSpecification"]["PredefinedMetricType"] == f"DynamoDB{dimension}CapacityUtilization", policy_id
