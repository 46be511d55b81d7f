"""Least privilege: one IAM role per Lambda function, granted exactly what that function calls.

Each grant names resources from infra/resources.py by logical id and becomes a statement on
this stack's ARNs (``!GetAtt``/``!Ref``/``${AWS::Region}``/``${AWS::AccountId}``); nothing is
granted on a name pattern another stage could match. The suite checks every AWS call each
handler makes against these statements (tests/least_privilege.py): a call a function is not
granted fails the test that made it.

A queue that feeds the processor (``Queue.consumer`` in infra/resources.py) gets its consumer's
processor grants without an edit here. Producers send to their own lane only: the door to the
webhook lane, the sync to the bulk lane. Any other new resource or call is granted by adding it
to the function's list below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra import resources
from infra.resources import KMS_KEY, USE_KMS, ssm_prefix


@dataclass(frozen=True)
class Grant:
    actions: tuple[str, ...]
    targets: Callable[[], list[Any]]  # resource ARNs (CloudFormation values), evaluated at build time
    why: str


# ----------------------------------------------------------------------------- resource ARNs
def table(logical_id: str, *, indexes: bool = False) -> Callable[[], list[Any]]:
    def arns() -> list[Any]:
        found: list[Any] = [{"Fn::GetAtt": [logical_id, "Arn"]}]
        if indexes and any(t.indexes for t in resources.TABLES if t.logical_id == logical_id):
            found.append({"Fn::Sub": f"${{{logical_id}.Arn}}/index/*"})
        return found

    return arns


def tables(*logical_ids: str) -> Callable[[], list[Any]]:
    return lambda: [{"Fn::GetAtt": [t, "Arn"]} for t in logical_ids]


def queue(logical_id: str) -> Callable[[], list[Any]]:
    return lambda: [{"Fn::GetAtt": [logical_id, "Arn"]}]


def objects(logical_id: str) -> Callable[[], list[Any]]:
    """The objects of a bucket (S3 grants object actions on ``<bucket ARN>/*``)."""
    return lambda: [{"Fn::Sub": f"${{{logical_id}.Arn}}/*"}]


def bus() -> list[Any]:
    return [{"Fn::GetAtt": [resources.BUS.logical_id, "Arn"]}]


def parameters() -> list[Any]:
    """This stage's SSM parameters (``<prefix>/…``): connector secrets and the PII key."""
    return [{"Fn::Sub": ["arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Prefix}/*", {"Prefix": ssm_prefix()}]}]


def secrets() -> list[Any]:
    """This stage's Secrets Manager secrets (``salesbridge/<stage>/…``), for connectors that reference one."""
    return [{"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:salesbridge/${Stage}/*"}]


def kms_key() -> list[Any]:
    return [{"Ref": KMS_KEY}]


STATE, AUDIT, EVENTS, QUARANTINE, INPUTS = "StateTable", "AuditTable", "EventsTable", "QuarantineTable", "InputsTable"
STATS = "StatsTable"
PAYLOADS = resources.PAYLOADS.logical_id
WEBHOOK_LANE, BULK_LANE = "InboundQueue", "BulkQueue"
ALL_TABLES = (STATE, AUDIT, EVENTS, QUARANTINE, INPUTS)


# ----------------------------------------------------------------------------- what each kind of function does
SECRETS = (
    Grant(("ssm:GetParameter",), parameters, "secret references in connectors/ and the PII key (SecureString, AWS-managed key)"),
    Grant(("secretsmanager:GetSecretValue",), secrets, "secret references of the secretsmanager kind"),
)

# The processor: one batched state read, then one transaction of puts per record (state, dedupe
# key, cross-references, audit entries, outbox events), or the quarantine record; the raw input
# copies of a queue batch are written together after it. The operator API runs the same code for a
# replay, one record, whose raw copy goes in its transaction.
PROCESSOR = (
    Grant(("dynamodb:BatchGetItem",), tables(STATE, QUARANTINE), "all a record needs (state, dedupe key, quarantine entry) in one read"),
    Grant(("dynamodb:PutItem",), tables(STATE, AUDIT, EVENTS, QUARANTINE), "the per-record transaction's items, or the quarantine record"),
    Grant(("s3:PutObject",), objects(PAYLOADS), "a raw payload too large for its quarantine or inputs item (claim check)"),
    *SECRETS,
)

ROLES: dict[str, tuple[Grant, ...]] = {
    # The webhook door (HTTP API): verify, enqueue, audit a refusal.
    "door": (
        Grant(("sqs:SendMessage",), queue(WEBHOOK_LANE), "records of an accepted delivery, to the webhook lane"),
        Grant(("dynamodb:PutItem",), tables(AUDIT), "the audit entry of a refused request"),
        Grant(("dynamodb:UpdateItem",), tables(STATS), "the console overview's count of refusals"),
        *SECRETS,
    ),
    # The operator API (REST, IAM-authenticated): listings, replay (the processor), consent,
    # erasure, dry runs and regressions, the re-drive of failed dispatches.
    "admin": (
        *PROCESSOR,
        Grant(("dynamodb:PutItem",), tables(INPUTS), "a replayed record's raw copy, in its transaction"),
        Grant(
            ("dynamodb:Query",),
            lambda: [
                *table(AUDIT, indexes=True)(),
                *tables(INPUTS)(),
                {"Fn::Sub": f"${{{EVENTS}.Arn}}/index/*"},
                {"Fn::Sub": f"${{{QUARANTINE}.Arn}}/index/*"},
            ],
            "audit trail, recent inputs, events and quarantine listings",
        ),
        Grant(("dynamodb:Query",), tables(STATS), "the console overview's hourly counts"),
        Grant(("dynamodb:BatchGetItem",), tables(AUDIT), "the entries of the audit runs a day or correlation listing finds"),
        Grant(("dynamodb:PutItem",), tables(AUDIT), "console logins, links issued and unmasked views (one-entry chains)"),
        Grant(("dynamodb:GetItem",), tables(STATE, QUARANTINE), "one record: golden state, consent, a quarantined record"),
        Grant(("dynamodb:UpdateItem",), tables(QUARANTINE), "a replay or a discard closes the quarantined record"),
        Grant(("dynamodb:GetItem",), tables(INPUTS), "erasure: the raw copy of an input quarantined during its sweep"),
        Grant(("dynamodb:Scan",), tables(*ALL_TABLES), "erasure reads every table once for the customer's copies"),
        Grant(("dynamodb:BatchWriteItem",), tables(STATE, AUDIT, QUARANTINE, INPUTS), "erasure deletes the items that name the customer"),
        Grant(
            ("dynamodb:Query", "dynamodb:DeleteItem"),
            tables(STATE),
            "erasure reads the customer's own items' versions and deletes its golden and consent items only if unchanged",
        ),
        Grant(("s3:GetObject",), objects(PAYLOADS), "a quarantined raw payload kept in S3 by claim check: shown, replayed, searched"),
        Grant(("s3:DeleteObject",), objects(PAYLOADS), "erasure deletes the claim-checked payloads that name the customer"),
        Grant(("dynamodb:GetItem", "dynamodb:UpdateItem"), tables(EVENTS), "re-drive reads an event and records its delivery"),
        Grant(("events:PutEvents",), bus, "re-drive delivers to the event bus"),
        Grant(("sqs:ReceiveMessage", "sqs:DeleteMessage"), queue("DispatchFailureQueue"), "re-drive takes the stream's failure reports"),
    ),
    "processor": (
        *PROCESSOR,
        Grant(("dynamodb:UpdateItem",), tables(STATS), "the console overview's hourly counts, once per batch"),
        Grant(("dynamodb:BatchWriteItem",), tables(INPUTS), "the raw input copies of a batch, written together after its records"),
    ),
    # Events table stream → EventBridge and HTTP subscribers; delivery status + audit in one transaction.
    "dispatch": (
        Grant(("dynamodb:GetItem", "dynamodb:UpdateItem"), tables(EVENTS), "the stored event and its delivery state"),
        Grant(("dynamodb:BatchGetItem",), tables(STATE), "an action's subject: its golden record, read before rendering the request"),
        Grant(("dynamodb:PutItem",), tables(AUDIT), "one audit entry per attempt"),
        Grant(("events:PutEvents",), bus, "the event bus target"),
        *SECRETS,
    ),
    # Scheduled pulls: lease, watermark, shared rate budget (state table), records to the queue.
    "sync": (
        Grant(("dynamodb:GetItem", "dynamodb:UpdateItem"), tables(STATE), "lease, watermark and rate budget items"),
        Grant(("sqs:SendMessage",), queue(BULK_LANE), "the pulled records, to the bulk lane"),
        # A pulled record too large for a queue message is quarantined by the sync itself (chalicelib/sync/sink.py).
        Grant(("dynamodb:BatchGetItem",), tables(STATE, QUARANTINE), "an oversized record's dedupe key and quarantine entry"),
        Grant(("dynamodb:PutItem",), tables(STATE, AUDIT, QUARANTINE, INPUTS), "an oversized record's quarantine transaction"),
        Grant(("s3:PutObject",), objects(PAYLOADS), "an oversized record's raw input (claim check)"),
        *SECRETS,
    ),
    # Every minute: the rules items with a deadline due (the state table's sharded timers index),
    # each read and fired in one transaction (the item, the overdue event, the audit entries).
    "timers": (
        Grant(("dynamodb:Query",), lambda: [{"Fn::Sub": f"${{{STATE}.Arn}}/index/*"}], "the timers-due index, one query per shard"),
        Grant(("dynamodb:BatchGetItem",), tables(STATE), "the due rules items, read before deciding"),
        Grant(("dynamodb:PutItem",), tables(STATE, AUDIT, EVENTS), "the fired deadline: the item, its audit entries, the event"),
    ),
}

# What Lambda itself does with a function's role (event-source mappings, destinations, logs,
# traces). The suite cannot see these calls; they are AWS's documented requirements.
PLATFORM_QUEUE_CONSUMER = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility")
# ListStreams (in AWS's managed policy) takes no resource and the mapping never calls it: the stream ARN is known.
PLATFORM_STREAM_READER = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")


def functions() -> dict[str, str]:
    """Lambda function logical id → role kind. Every lane's consumer is a processor."""
    kinds = {"APIHandler": "admin", "WebhookHandler": "door", "DispatchEvents": "dispatch", "ScheduledSync": "sync", "FireTimers": "timers"}
    for lane in resources.lanes():
        kinds[consumed_function(lane)] = "processor"
    return kinds


def consumed_function(lane: resources.Queue) -> str:
    """The Lambda function (logical id, as Chalice names it) a lane feeds."""
    from chalice.utils import to_cfn_resource_name

    return to_cfn_resource_name(lane.consumer or "")


def consumed_queues(function: str) -> list[str]:
    return [q.logical_id for q in resources.lanes() if consumed_function(q) == function]


def _platform(function: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": {"Fn::Sub": ["${Group}:*", {"Group": {"Fn::GetAtt": [f"{function}LogGroup", "Arn"]}}]},
        },
        {
            "Sid": "Tracing",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",  # X-Ray has no resource-level permissions
        },
    ]
    queues = consumed_queues(function)
    if queues:
        statements.append(
            {
                "Sid": "QueueEventSource",
                "Effect": "Allow",
                "Action": list(PLATFORM_QUEUE_CONSUMER),
                "Resource": [{"Fn::GetAtt": [q, "Arn"]} for q in queues],
            }
        )
    if function == "DispatchEvents":
        statements += [
            {
                "Sid": "StreamEventSource",
                "Effect": "Allow",
                "Action": list(PLATFORM_STREAM_READER),
                "Resource": {"Fn::GetAtt": [EVENTS, "StreamArn"]},
            },
            {
                "Sid": "StreamOnFailureDestination",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": {"Fn::GetAtt": ["DispatchFailureQueue", "Arn"]},
            },
        ]
    return statements


def _kms(function: str) -> dict[str, Any]:
    """With a customer-managed key: SQS, EventBridge and SSM use it on the function's behalf."""
    return {
        "Fn::If": [
            USE_KMS,
            {
                "Sid": "CustomerManagedKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": kms_key(),
            },
            {"Ref": "AWS::NoValue"},
        ]
    }


def statements(function: str) -> list[dict[str, Any]]:
    """The function's application statements (the suite checks its calls against these)."""
    kinds = functions()
    if function not in kinds:
        raise KeyError(f"no IAM role is declared for Lambda function {function!r}: add it to functions() in infra/permissions.py")
    merged: dict[tuple[str, ...], list[Any]] = {}
    for grant in ROLES[kinds[function]]:
        for action in grant.actions:
            targets = merged.setdefault((action,), [])
            for arn in grant.targets():
                if arn not in targets:
                    targets.append(arn)
    # One statement per set of identical resources keeps the policy short and readable.
    by_resources: dict[str, tuple[list[str], list[Any]]] = {}
    for (action,), arns in merged.items():
        key = repr(arns)
        by_resources.setdefault(key, ([], arns))[0].append(action)
    return [{"Effect": "Allow", "Action": sorted(actions), "Resource": arns} for actions, arns in by_resources.values()]


def policy_document(function: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements(function) + _platform(function) + [_kms(function)]}


def role(function: str) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
            },
            "Policies": [{"PolicyName": f"{function}Policy", "PolicyDocument": policy_document(function)}],
        },
    }
