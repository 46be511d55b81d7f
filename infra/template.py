"""The deployable template: Chalice's ``sam.json`` finished into a whole, parameterised stack.

Chalice writes the functions, the REST API and the schedule. What it cannot express is added
or replaced here, from the definitions in infra/resources.py, infra/permissions.py and
infra/monitoring.py:

- the tables, queues and bus (named per stage, the state protected), and the bus archive;
- one IAM role per function with exactly its grants (Chalice's shared policy is dropped);
- the webhook door on its own function behind an HTTP API (payload format 1.0, the event shape
  Chalice's handler reads; $1.00 per million requests against the REST API's $3.50), with
  SnapStart on its published versions and the API calling their alias, and the REST API left
  with the operator routes (AWS_IAM on each, throttled);
- the queue and stream event sources wired to the real ARNs, partial batch responses, the
  stream's on-failure destination;
- log groups with retention, alarms, an alarm topic and a dashboard;
- the tables on demand, or provisioned with auto scaling per table and index (infra/capacity.py);
- stage parameters, so two stages deploy side by side in one account.

Chalice's own ``--merge-template`` is not used: it can only deep-merge, never remove (its shared
role, the door's REST route) or replace an intrinsic function by another.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from infra import capacity, monitoring, permissions, resources
from infra.resources import HAS_SSM_PREFIX, KMS_KEY, SSM_PREFIX, STAGE, USE_KMS, ssm_prefix

# The door: served by WebhookHandler behind the HTTP API; every other route stays on the REST API.
WEBHOOK_ROUTES = {("POST", "/webhooks/{connector}")}
WEBHOOK_FUNCTION = "WebhookHandler"
API_FUNCTION = "APIHandler"
# API Gateway ends an integration after 29 s (REST) / 30 s (HTTP API); a longer function timeout
# only keeps working on a request whose caller already got a 504.
API_TIMEOUT_SECONDS = 28
WEBHOOK_TIMEOUT_SECONDS = 10  # vendors wait 5–10 s; the door does one SQS send
# SnapStart starts the door's cold starts from a snapshot taken when a version is published
# (chalicelib/runtime/snapstart.py). The HTTP API calls the alias; every change of the function
# (code, configuration files, variables) publishes a new version, so the alias never serves stale ones.
DOOR_ALIAS = "live"
LOG_RETENTION_CHOICES = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]


def stage_parameters(stage: str) -> dict[str, str]:
    """Parameter values of a stage as packaged (the defaults written into its template)."""
    return {STAGE: stage, SSM_PREFIX: "", "AlarmEmail": "", "AlarmTopicArn": "", KMS_KEY: "", "LogRetentionDays": "30"}


def parameters(stage: str) -> dict[str, Any]:
    return {
        STAGE: {
            "Type": "String",
            "Default": stage,
            "AllowedPattern": "^(?!local$)[a-z][a-z0-9-]{1,15}$",
            "ConstraintDescription": "lower-case letters, digits and dashes, 2 to 16 characters; 'local' is the local stack's",
            "Description": "Stage name; every resource name and SSM path carries it (salesbridge-<stage>-…)",
        },
        SSM_PREFIX: {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^$|^/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
            "Description": "SSM path holding this stage's secrets (empty: /salesbridge/<stage>)",
        },
        "AlarmEmail": {"Type": "String", "Default": "", "Description": "E-mail subscribed to a new alarm topic (empty: none)"},
        "AlarmTopicArn": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^$|^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$",
            "Description": "An existing SNS topic for alarms (empty: this stack creates one)",
        },
        "LogRetentionDays": {"Type": "Number", "Default": 30, "AllowedValues": LOG_RETENTION_CHOICES, "Description": "Days of Lambda logs"},
        "ReservedConcurrency": {
            "Type": "Number",
            "Default": 0,
            "MinValue": 0,
            "MaxValue": 1000,
            "Description": "Reserved concurrency of each function, and the processor's maximum concurrency (0: none; else at least 2)",
        },
        KMS_KEY: {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^$|^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$",
            "Description": "A customer-managed KMS key for tables, queues and the bus (empty: AWS-managed keys)",
        },
        "AdminRateLimit": {"Type": "Number", "Default": 10, "MinValue": 1, "Description": "Operator API: requests per second"},
        "AdminBurstLimit": {"Type": "Number", "Default": 20, "MinValue": 1, "Description": "Operator API: burst"},
        "WebhookRateLimit": {"Type": "Number", "Default": 500, "MinValue": 1, "Description": "Webhook door: requests per second"},
        "WebhookBurstLimit": {"Type": "Number", "Default": 1000, "MinValue": 1, "Description": "Webhook door: burst"},
        **capacity.parameters(),
    }


def conditions() -> dict[str, Any]:
    return {
        USE_KMS: {"Fn::Not": [{"Fn::Equals": [{"Ref": KMS_KEY}, ""]}]},
        HAS_SSM_PREFIX: {"Fn::Not": [{"Fn::Equals": [{"Ref": SSM_PREFIX}, ""]}]},
        "CreateAlarmTopic": {"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]},
        "SubscribeAlarmEmail": {"Fn::And": [{"Condition": "CreateAlarmTopic"}, {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}]},
        "ReserveConcurrency": {"Fn::Not": [{"Fn::Equals": [{"Ref": "ReservedConcurrency"}, 0]}]},
        **capacity.conditions(),
    }


def function_name(logical_id: str, handler: str) -> dict[str, str]:
    """``salesbridge-${Stage}-process-inbound``: known before the function exists (log group, role)."""
    short = {API_FUNCTION: "api", WEBHOOK_FUNCTION: "webhooks"}.get(logical_id) or handler.rpartition(".")[2].replace("_", "-")
    return {"Fn::Sub": f"{resources.PREFIX}-${{{STAGE}}}-{short}"}


def environment(function: str) -> dict[str, Any]:
    env: dict[str, Any] = {t.env_var: {"Ref": t.logical_id} for t in resources.TABLES}
    env.update({q.env_var: {"Ref": q.logical_id} for q in resources.QUEUES})
    env.update({b.env_var: {"Ref": b.logical_id} for b in resources.BUCKETS})
    env[resources.BUS.env_var] = {"Ref": resources.BUS.logical_id}
    env.update(
        SALESBRIDGE_STAGE={"Ref": STAGE},
        SSM_PREFIX=ssm_prefix(),
        PII_KEY_REF={"Fn::Sub": ["ssm:${Prefix}/pii-key", {"Prefix": ssm_prefix()}]},
        POWERTOOLS_SERVICE_NAME={"Fn::Sub": f"{resources.PREFIX}-${{{STAGE}}}"},
        POWERTOOLS_METRICS_NAMESPACE=monitoring.NAMESPACE,
        SALESBRIDGE_FUNCTION=function,
        LOG_LEVEL="INFO",
    )
    if function == API_FUNCTION:  # the console's signing key and the privacy officer's login live with the operator API
        env["CONSOLE_KEY_REF"] = {"Fn::Sub": ["ssm:${Prefix}/console-key", {"Prefix": ssm_prefix()}]}
        env["PRIVACY_TOKEN_REF"] = {"Fn::Sub": ["ssm:${Prefix}/privacy-token", {"Prefix": ssm_prefix()}]}
    return env


def build(sam: dict[str, Any], stage: str) -> dict[str, Any]:
    """The finished template for ``stage`` (its parameter defaults) from Chalice's sam.json."""
    template = copy.deepcopy(sam)
    res: dict[str, Any] = template["Resources"]
    for logical_id in [k for k, v in res.items() if v["Type"] == "AWS::IAM::Role"]:
        del res[logical_id]  # Chalice's roles all carry the one shared policy
    _split_webhook_function(res)
    functions = [k for k, v in res.items() if v["Type"] == "AWS::Serverless::Function"]
    for logical_id in functions:
        _finish_function(res, logical_id)
    _wire_event_sources(res)
    _restrict_rest_api(res)
    res.update(resources.cloudformation_resources())
    for table in resources.TABLES:
        res[table.logical_id]["Properties"] = capacity.table_properties(table, res[table.logical_id]["Properties"])
    res.update(capacity.autoscaling_resources())
    res.update(monitoring.stack_resources(functions))
    res["OperatorPolicy"] = _operator_policy()
    template["Parameters"] = parameters(stage)
    template["Conditions"] = conditions()
    template["Outputs"] = _outputs()
    template["Description"] = f"salesbridge (stage {stage} by default): generated by infra/template.py from infra/resources.py"
    return template


def _split_webhook_function(res: dict[str, Any]) -> None:
    """The door gets its own function (and role) behind an HTTP API; same code, same handler."""
    door = copy.deepcopy(res[API_FUNCTION])
    door["Properties"]["Timeout"] = WEBHOOK_TIMEOUT_SECONDS
    door["Properties"]["SnapStart"] = {"ApplyOn": "PublishedVersions"}
    door["Properties"]["AutoPublishAlias"] = DOOR_ALIAS
    door["Properties"]["AutoPublishAliasAllProperties"] = True
    door["Properties"]["Events"] = {
        f"Webhook{i}": {
            "Type": "HttpApi",
            "Properties": {"ApiId": {"Ref": "WebhookApi"}, "Method": method, "Path": path, "PayloadFormatVersion": "1.0"},
        }
        for i, (method, path) in enumerate(sorted(WEBHOOK_ROUTES))
    }
    res[WEBHOOK_FUNCTION] = door
    res["WebhookApi"] = {
        "Type": "AWS::Serverless::HttpApi",
        "Properties": {
            "Description": "Vendor webhooks (unauthenticated here; each request's signature is verified by the function)",
            "DefaultRouteSettings": {
                "ThrottlingRateLimit": {"Ref": "WebhookRateLimit"},
                "ThrottlingBurstLimit": {"Ref": "WebhookBurstLimit"},
            },
        },
    }
    res[API_FUNCTION]["Properties"]["Timeout"] = API_TIMEOUT_SECONDS


def _finish_function(res: dict[str, Any], logical_id: str) -> None:
    props = res[logical_id]["Properties"]
    props["FunctionName"] = function_name(logical_id, props["Handler"])
    props["Role"] = {"Fn::GetAtt": [f"{logical_id}Role", "Arn"]}
    variables = {k: v for k, v in props.get("Environment", {}).get("Variables", {}).items() if k != "ADMIN_TOKEN_REF"}
    props["Environment"] = {"Variables": variables | environment(logical_id)}
    props["ReservedConcurrentExecutions"] = {"Fn::If": ["ReserveConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}
    props["LoggingConfig"] = {"LogGroup": {"Ref": f"{logical_id}LogGroup"}, "LogFormat": "Text"}
    res[f"{logical_id}Role"] = permissions.role(logical_id)
    res[f"{logical_id}LogGroup"] = {
        "Type": "AWS::Logs::LogGroup",
        **resources.DELETE,
        "Properties": {
            "LogGroupName": {"Fn::Sub": ["/aws/lambda/${Name}", {"Name": props["FunctionName"]}]},
            "RetentionInDays": {"Ref": "LogRetentionDays"},
        },
    }


def _wire_event_sources(res: dict[str, Any]) -> None:
    """Real ARNs where Chalice writes literals, partial batch responses, the stream's failure destination."""
    chalice_sources: dict[str, dict[str, Any]] = {}
    for lane in resources.lanes():
        function = permissions.consumed_function(lane)
        events = res[function]["Properties"]["Events"]
        if function not in chalice_sources:  # Chalice writes one SQS source per decorated handler
            ((name, chalice_sources[function]),) = [(k, v) for k, v in events.items() if v["Type"] == "SQS"]
            source = chalice_sources[function]
        else:  # a further lane of the same handler (the bulk lane): same source, its own queue
            source = copy.deepcopy(chalice_sources[function])
            events[f"{function}{lane.logical_id}SqsEventSource"] = source
        source["Properties"].update(
            Queue={"Fn::GetAtt": [lane.logical_id, "Arn"]},
            FunctionResponseTypes=["ReportBatchItemFailures"],
            ScalingConfig=_lane_scaling(lane),
        )
    ((name, stream),) = [(k, v) for k, v in res["DispatchEvents"]["Properties"]["Events"].items() if v["Type"] == "DynamoDB"]
    stream["Properties"].update(
        Stream={"Fn::GetAtt": ["EventsTable", "StreamArn"]},
        FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumRetryAttempts=10,
        BisectBatchOnFunctionError=True,
        MaximumRecordAgeInSeconds=86400,
        DestinationConfig={"OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["DispatchFailureQueue", "Arn"]}}},
    )


# Errors API Gateway answers itself (an unknown path or an unsigned request, a denied caller,
# throttling, a timeout) in the routes' shape {"error": code, "message": text}.
GATEWAY_ERRORS = {
    "DEFAULT_4XX": "request_rejected",
    "DEFAULT_5XX": "gateway_error",
    "MISSING_AUTHENTICATION_TOKEN": "unknown_route_or_unsigned",  # API Gateway answers both alike (403)
    "ACCESS_DENIED": "forbidden",
    "INVALID_SIGNATURE": "invalid_signature",
    "EXPIRED_TOKEN": "expired_signature",
    "RESOURCE_NOT_FOUND": "not_found",
    "UNSUPPORTED_MEDIA_TYPE": "unsupported_media_type",
    "REQUEST_TOO_LARGE": "request_too_large",
    "THROTTLED": "throttled",
    "QUOTA_EXCEEDED": "throttled",
    "INTEGRATION_TIMEOUT": "timeout",
}


def gateway_responses() -> dict[str, Any]:
    """OpenAPI ``x-amazon-apigateway-gateway-responses``: the JSON error body for each response type."""
    return {
        kind: {"responseTemplates": {"application/json": f'{{"error": "{code}", "message": $context.error.messageString}}'}}
        for kind, code in GATEWAY_ERRORS.items()
    }


def _lane_scaling(lane: resources.Queue) -> Any:
    """A lane with its own cap (the bulk lane) keeps it; the others take the stage's reserved concurrency."""
    if lane.max_concurrency:
        return {"MaximumConcurrency": lane.max_concurrency}
    return {"Fn::If": ["ReserveConcurrency", {"MaximumConcurrency": {"Ref": "ReservedConcurrency"}}, {"Ref": "AWS::NoValue"}]}


def _restrict_rest_api(res: dict[str, Any]) -> None:
    """The REST API keeps the operator routes only, throttled, its own errors in the routes' shape; the door is on the HTTP API."""
    api = res["RestAPI"]["Properties"]
    api["DefinitionBody"]["x-amazon-apigateway-gateway-responses"] = gateway_responses()
    paths = api["DefinitionBody"]["paths"]
    for method, path in WEBHOOK_ROUTES:
        paths.get(path, {}).pop(method.lower(), None)
        if path in paths and not paths[path]:
            del paths[path]
    api["EndpointConfiguration"] = "REGIONAL"
    api["MethodSettings"] = [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": {"Ref": "AdminRateLimit"},
            "ThrottlingBurstLimit": {"Ref": "AdminBurstLimit"},
            "MetricsEnabled": True,
        }
    ]


def _operator_policy() -> dict[str, Any]:
    """Attach to the operators' roles or groups: calling the operator API is all it allows."""
    return {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "Description": {"Fn::Sub": f"salesbridge ${{{STAGE}}}: call the operator API (./salesbridge against this stage)"},
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "execute-api:Invoke",
                        "Resource": {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${RestAPI}/*"},
                    }
                ],
            },
        },
    }


def _outputs() -> dict[str, Any]:
    outputs: dict[str, Any] = {
        "AdminApiUrl": {
            "Description": "Operator API (AWS IAM, SigV4): SALESBRIDGE_URL for ./salesbridge",
            "Value": {"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api"},
        },
        "WebhookUrl": {
            "Description": "Give vendors <WebhookUrl>/webhooks/<connector>",
            "Value": {"Fn::Sub": "https://${WebhookApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"},
        },
        "AlarmTopic": {"Value": monitoring.alarm_topic()},
        "OperatorPolicyArn": {"Description": "Attach to the people (roles) who run ./salesbridge", "Value": {"Ref": "OperatorPolicy"}},
    }
    for table in resources.TABLES:
        outputs[table.logical_id] = {"Value": {"Ref": table.logical_id}}
    for queue in resources.QUEUES:
        outputs[queue.logical_id + "Url"] = {"Value": {"Ref": queue.logical_id}}
    outputs[resources.BUS.logical_id] = {"Value": {"Ref": resources.BUS.logical_id}}
    return outputs


def main(argv: list[str]) -> int:
    """``python -m infra.template out/chalice/sam.json [stage]``: print the finished template."""
    sam = json.loads(Path(argv[0]).read_text())
    print(json.dumps(build(sam, argv[1] if len(argv) > 1 else "prod"), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
