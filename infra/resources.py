"""The AWS resources salesbridge needs beside Chalice's own: one definition.

The CloudFormation template (infra/template.py) and the local stand-in (moto) are
both generated from ``TABLES``, ``QUEUES`` and ``BUS`` below, so local runs and the
cloud never drift. The IAM policies (infra/permissions.py) name these resources by
logical id, so a resource added here is granted only where a function is given it.

Names: the local stand-in uses ``name`` as is; a deployed stack inserts its stage
(``salesbridge-prod-state``), so two stages live side by side in one account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.runtime.queue import MAX_RECEIVES


@dataclass(frozen=True)
class Index:
    """A global secondary index. Its partition key is write-sharded (chalicelib/store/keys.py): none is constant or per day.

    ``included``: the non-key attributes it projects (None: all of them). Each write that
    touches an index is billed again on it, by the size of what it projects.
    """

    name: str
    hash_key: str
    range_key: str | None = None
    included: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Table:
    logical_id: str
    env_var: str
    name: str
    hash_key: str = "pk"
    range_key: str | None = "sk"
    indexes: tuple[Index, ...] = ()
    stream: str | None = None  # StreamViewType
    ttl_attribute: str | None = None


@dataclass(frozen=True)
class Queue:
    logical_id: str
    env_var: str
    name: str
    fifo: bool = True
    visibility_timeout: int = 1080  # AWS advice for SQS event sources: 6 x the function timeout (180 s)
    dead_letter: str | None = None  # logical id of the DLQ
    max_receive_count: int = MAX_RECEIVES
    retention_days: int = 4  # SQS's default; dead-letter queues keep 14 (the maximum)
    consumer: str | None = None  # the app.py handler this queue feeds (its Lambda event source)
    max_concurrency: int | None = None  # at most this many concurrent consumer invocations from this queue


@dataclass(frozen=True)
class Bucket:
    """An S3 bucket; its objects expire ``expire_days`` after they are written."""

    logical_id: str
    env_var: str
    name: str
    expire_days: int


@dataclass(frozen=True)
class Bus:
    logical_id: str
    env_var: str
    name: str


PREFIX = "salesbridge"

TABLES: tuple[Table, ...] = (
    # Golden records, cross-references, dedupe keys, trigger and rule state, watermarks, rate budgets.
    # The sparse index lists the rules items with a deadline pending, in 16 shards (store/keys.py).
    # timers-due is KEYS_ONLY: the timer runner fetches the due items themselves.
    Table("StateTable", "STATE_TABLE", f"{PREFIX}-state", indexes=(Index("timers-due", "timer_shard", "timer_due", included=()),)),
    # Tamper-evident audit trail: pk = entity key, sk = sequence number.
    Table(
        "AuditTable",
        "AUDIT_TABLE",
        f"{PREFIX}-audit",
        # Sparse: each block (one commit's entries on one chain) has ``run_at``; ``run`` is on runs stored before blocks.
        indexes=(
            Index("by-correlation", "correlation_id", "run_at", included=("run",)),
            Index("by-day", "day_shard", "run_at", included=("run",)),
        ),
        ttl_attribute="expires_at",
    ),
    # Outbox: events to deliver; its stream drives dispatch; also the /events listing.
    Table(
        "EventsTable",
        "EVENTS_TABLE",
        f"{PREFIX}-events",
        indexes=(Index("by-subject", "subject", "time_id"), Index("by-time", "time_shard", "time_id")),
        stream="NEW_IMAGE",
        ttl_attribute="expires_at",
    ),
    # Records that could not be applied, with their raw input: open until replayed or discarded, then
    # kept as long as raw inputs are (INPUTS_RETENTION_DAYS from the closing; the audit trail keeps the story).
    Table(
        "QuarantineTable",
        "QUARANTINE_TABLE",
        f"{PREFIX}-quarantine",
        indexes=(Index("by-time", "time_shard", "order_key"), Index("by-connector", "connector_shard", "order_key")),
        ttl_attribute="expires_at",
    ),
    # Recently received raw inputs, for replay and mapping regression diffs.
    Table("InputsTable", "INPUTS_TABLE", f"{PREFIX}-inputs", ttl_attribute="expires_at"),
    # Approximate counters per connector and hour for the console's overview (chalicelib/store/stats.py).
    Table("StatsTable", "STATS_TABLE", f"{PREFIX}-stats", ttl_attribute="expires_at"),
)

# Raw payloads too large for a DynamoDB item (400 KB), by claim check from the quarantine and
# inputs items (chalicelib/store/payloads.py); kept as long as the inputs table keeps its raw
# inputs (INPUTS_RETENTION_DAYS, chalicelib/runtime/settings.py).
PAYLOADS = Bucket("PayloadBucket", "PAYLOAD_BUCKET", f"{PREFIX}-payloads", expire_days=14)
BUCKETS: tuple[Bucket, ...] = (PAYLOADS,)

QUEUES: tuple[Queue, ...] = (
    # The webhook lane: records vendors push, each acknowledged only once queued here.
    Queue("InboundDeadLetterQueue", "INBOUND_DLQ_URL", f"{PREFIX}-inbound-dlq.fifo", retention_days=14),
    Queue(
        "InboundQueue",
        "INBOUND_QUEUE_URL",
        f"{PREFIX}-inbound.fifo",
        dead_letter="InboundDeadLetterQueue",
        consumer="process_inbound",
    ),
    # The bulk lane: scheduled sync pages and backfills, so a replayed history never queues ahead of a webhook.
    # Same processor; it may use at most 20 concurrent invocations, the rest stay free for webhooks.
    Queue("BulkDeadLetterQueue", "BULK_DLQ_URL", f"{PREFIX}-bulk-dlq.fifo", retention_days=14),
    Queue(
        "BulkQueue",
        "BULK_QUEUE_URL",
        f"{PREFIX}-bulk.fifo",
        dead_letter="BulkDeadLetterQueue",
        consumer="process_inbound",
        max_concurrency=20,
    ),
    # Where the events stream's mapping reports a batch it gave up on (Lambda destinations take
    # standard queues only); `salesbridge events redrive` delivers those events again.
    Queue("DispatchFailureQueue", "DISPATCH_FAILURE_QUEUE_URL", f"{PREFIX}-dispatch-failures", fifo=False, retention_days=14),
)

BUS = Bus("EventBus", "EVENT_BUS_NAME", f"{PREFIX}-events")
ARCHIVE_RETENTION_DAYS = 30  # the bus archive: events can be replayed to the bus for this long


def find_queue(logical_id: str) -> Queue:
    return next(q for q in QUEUES if q.logical_id == logical_id)


def lanes() -> tuple[Queue, ...]:
    """The queues that feed the processor: every producer (door, sync, replay) may send to them."""
    return tuple(q for q in QUEUES if q.consumer)


def env_defaults() -> dict[str, str]:
    """Environment variables naming each resource (queue URLs are filled in at run time)."""
    env = {t.env_var: t.name for t in TABLES}
    env.update({b.env_var: b.name for b in BUCKETS})
    env[BUS.env_var] = BUS.name
    return env


# --------------------------------------------------------------------- local stand-in
def create_all(session: Any) -> dict[str, str]:
    """Create every resource on the endpoint the boto3 session points at (moto locally).

    Idempotent: existing resources are kept. Returns the environment variables that
    name them (table names, queue URLs, bus name).
    """
    ddb = session.client("dynamodb")
    existing = set(ddb.list_tables()["TableNames"])
    for table in TABLES:
        if table.name not in existing:
            ddb.create_table(**_table_kwargs(table))
            if table.ttl_attribute:
                ddb.update_time_to_live(
                    TableName=table.name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
                )
    env = env_defaults()
    s3 = session.client("s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in BUCKETS:
        if bucket.name not in existing:
            s3.create_bucket(Bucket=bucket.name)
            s3.put_bucket_lifecycle_configuration(Bucket=bucket.name, LifecycleConfiguration=_lifecycle(bucket))
    sqs = session.client("sqs")
    arns: dict[str, str] = {}
    for queue in QUEUES:
        attrs = _queue_attributes(queue)
        if queue.dead_letter:
            import json

            attrs["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arns[queue.dead_letter], "maxReceiveCount": str(queue.max_receive_count)}
            )
        url = sqs.create_queue(QueueName=queue.name, Attributes=attrs)["QueueUrl"]
        arns[queue.logical_id] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        env[queue.env_var] = url
    events = session.client("events")
    names = {b["Name"] for b in events.list_event_buses()["EventBuses"]}
    if BUS.name not in names:
        events.create_event_bus(Name=BUS.name)
    return env


def _lifecycle(bucket: Bucket) -> dict[str, Any]:
    return {"Rules": [{"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": bucket.expire_days}}]}


def _attribute_definitions(table: Table) -> list[dict[str, str]]:
    names = [table.hash_key] + ([table.range_key] if table.range_key else [])
    for index in table.indexes:
        names += [index.hash_key] + ([index.range_key] if index.range_key else [])
    seen: list[str] = []
    for n in names:
        if n not in seen:
            seen.append(n)
    return [{"AttributeName": n, "AttributeType": "S"} for n in seen]


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def _table_kwargs(table: Table) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "TableName": table.name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": _attribute_definitions(table),
        "KeySchema": _key_schema(table.hash_key, table.range_key),
    }
    if table.indexes:
        kwargs["GlobalSecondaryIndexes"] = [
            {
                "IndexName": i.name,
                "KeySchema": _key_schema(i.hash_key, i.range_key),
                "Projection": _projection(i),
            }
            for i in table.indexes
        ]
    if table.stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream}
    return kwargs


# FIFO high-throughput mode: limits per message group (the source entity) instead of per queue
# (300 operations/s). A record's deduplication id and its group never change, so deduplicating
# within the group is the same guarantee.
HIGH_THROUGHPUT_FIFO = {"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}


def _projection(index: Index) -> dict[str, Any]:
    if index.included is None:
        return {"ProjectionType": "ALL"}
    if not index.included:
        return {"ProjectionType": "KEYS_ONLY"}
    return {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.included)}


def _queue_attributes(queue: Queue) -> dict[str, str]:
    attrs = {"VisibilityTimeout": str(queue.visibility_timeout), "MessageRetentionPeriod": str(queue.retention_days * 86400)}
    if queue.fifo:
        attrs["FifoQueue"] = "true"
        attrs["ContentBasedDeduplication"] = "false"
        attrs.update(HIGH_THROUGHPUT_FIFO)
    return attrs


# --------------------------------------------------------------------- CloudFormation
# Template parameters and conditions these resources refer to (declared in infra/template.py).
STAGE = "Stage"
KMS_KEY = "KmsKeyArn"
USE_KMS = "UseKms"
SSM_PREFIX = "SsmPrefix"
HAS_SSM_PREFIX = "HasSsmPrefix"

# Durable state survives a stack deletion or a replacement, and cannot be deleted by accident.
RETAIN = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
# Queues and log groups go with the stack (drain the failure queues first: docs/operations.md).
DELETE = {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}


def cloudformation_resources() -> dict[str, Any]:
    """The same resources as CloudFormation, named per stage, for the template (infra/template.py)."""
    resources: dict[str, Any] = {}
    for table in TABLES:
        props: dict[str, Any] = _table_kwargs(table)
        props["TableName"] = stage_name(table.name)
        if table.ttl_attribute:
            props["TimeToLiveSpecification"] = {"Enabled": True, "AttributeName": table.ttl_attribute}
        if table.stream:
            props["StreamSpecification"] = {"StreamViewType": table.stream}
        props["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
        props["DeletionProtectionEnabled"] = True
        props["SSESpecification"] = _if_kms(
            {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": KMS_KEY}},
            {"SSEEnabled": True},  # AWS-managed key
        )
        resources[table.logical_id] = {"Type": "AWS::DynamoDB::Table", **RETAIN, "Properties": props}
    for bucket in BUCKETS:
        resources[bucket.logical_id] = {
            "Type": "AWS::S3::Bucket",
            **RETAIN,
            "Properties": {
                "BucketName": stage_name(bucket.name),
                "LifecycleConfiguration": {"Rules": [{"Id": "expire", "Status": "Enabled", "ExpirationInDays": bucket.expire_days}]},
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {
                            "ServerSideEncryptionByDefault": _if_kms(
                                {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Ref": KMS_KEY}}, {"SSEAlgorithm": "AES256"}
                            )
                        }
                    ]
                },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            },
        }
    for queue in QUEUES:
        props = {
            "QueueName": stage_name(queue.name),
            "VisibilityTimeout": queue.visibility_timeout,
            "MessageRetentionPeriod": queue.retention_days * 86400,
            "KmsMasterKeyId": _if_kms({"Ref": KMS_KEY}, {"Ref": "AWS::NoValue"}),
            "SqsManagedSseEnabled": _if_kms({"Ref": "AWS::NoValue"}, True),
        }
        if queue.fifo:
            props["FifoQueue"] = True
            props["ContentBasedDeduplication"] = False
            props.update(HIGH_THROUGHPUT_FIFO)
        if queue.dead_letter:
            props["RedrivePolicy"] = {
                "deadLetterTargetArn": {"Fn::GetAtt": [queue.dead_letter, "Arn"]},
                "maxReceiveCount": queue.max_receive_count,
            }
        resources[queue.logical_id] = {"Type": "AWS::SQS::Queue", **DELETE, "Properties": props}
    resources[BUS.logical_id] = {
        "Type": "AWS::Events::EventBus",
        "Properties": {"Name": stage_name(BUS.name), "KmsKeyIdentifier": _if_kms({"Ref": KMS_KEY}, {"Ref": "AWS::NoValue"})},
    }
    resources[f"{BUS.logical_id}Archive"] = {
        "Type": "AWS::Events::Archive",
        "Properties": {
            "ArchiveName": stage_name(BUS.name),
            "SourceArn": {"Fn::GetAtt": [BUS.logical_id, "Arn"]},
            "RetentionDays": ARCHIVE_RETENTION_DAYS,
            "Description": "Every event salesbridge put on the bus, for replay after a consumer's outage",
        },
    }
    return resources


def stage_name(name: str) -> dict[str, str]:
    """``salesbridge-state`` → ``salesbridge-${Stage}-state`` (a FIFO suffix stays last)."""
    head, _, rest = name.partition("-")
    return {"Fn::Sub": f"{head}-${{{STAGE}}}-{rest}"}


def ssm_prefix() -> dict[str, Any]:
    """The stage's SSM path: the SsmPrefix parameter, else ``/salesbridge/<stage>``."""
    return {"Fn::If": [HAS_SSM_PREFIX, {"Ref": SSM_PREFIX}, {"Fn::Sub": f"/{PREFIX}/${{{STAGE}}}"}]}


def _if_kms(with_key: Any, without: Any) -> dict[str, Any]:
    return {"Fn::If": [USE_KMS, with_key, without]}
