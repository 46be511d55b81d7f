"""Alarms, the alarm topic and the dashboard of a stage.

Custom metrics come from chalicelib/runtime/observability.py as CloudWatch embedded metric
format in the functions' logs: namespace ``salesbridge``, each with a per-stage ``service``
dimension (``salesbridge-<stage>``), once alone and once beside its detail (connector, event
type, target or refusal reason). Every alarm is described in docs/operations.md with what to do.
"""

from __future__ import annotations

import json
from typing import Any

from infra import resources
from infra.resources import STAGE

NAMESPACE = "salesbridge"
SERVICE = {"Name": "service", "Value": {"Fn::Sub": f"{resources.PREFIX}-${{{STAGE}}}"}}
ITERATOR_AGE_LIMIT_MS = 300_000  # events reach subscribers within five minutes
SYNC_OVERDUE_LIMIT_SECONDS = 900  # a stream may run this late past its schedule
WEBHOOK_5XX_LIMIT = 5  # door answers 503 (vendor retries) when SQS or the configuration fails
THROTTLED_PERIODS = 3  # 15 minutes of throttled writes: past what auto scaling takes to catch up, or a hot key
REFUSAL_RATE_LIMIT = 600  # door refusals per 5 minutes (2 a second) worth a look: a broken vendor secret or someone probing


def alarm_topic() -> dict[str, Any]:
    return {"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}


def _alarm(description: str, metric: dict[str, Any], threshold: float, *, periods: int = 1, period: int = 300) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": description + " (see docs/operations.md)",
            **metric,
            "Period": period,
            "EvaluationPeriods": periods,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [alarm_topic()],
            "OKActions": [alarm_topic()],
        },
    }


def _custom(name: str, statistic: str = "Sum") -> dict[str, Any]:
    return {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": [SERVICE], "Statistic": statistic}


def _lambda(name: str, function: str, statistic: str = "Sum") -> dict[str, Any]:
    return {
        "Namespace": "AWS/Lambda",
        "MetricName": name,
        "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": function}}],
        "Statistic": statistic,
    }


def alarms(functions: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for queue in resources.QUEUES:
        if queue.consumer:
            continue  # lanes drain by themselves; the queues nothing consumes hold failures
        found[f"{queue.logical_id}NotEmpty"] = _alarm(
            f"{queue.name}: messages are waiting that salesbridge gave up on",
            {
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue.logical_id, "QueueName"]}}],
                "Statistic": "Maximum",
            },
            1,
        )
    for function in functions:
        found[f"{function}Errors"] = _alarm(f"{function}: invocations failed", _lambda("Errors", function), 1)
        found[f"{function}Throttles"] = _alarm(f"{function}: invocations throttled", _lambda("Throttles", function), 1)
    for table in resources.TABLES:
        found[f"{table.logical_id}WriteThrottles"] = _alarm(
            f"{table.name}: writes throttled for {THROTTLED_PERIODS * 5} minutes",
            {
                "Namespace": "AWS/DynamoDB",
                "MetricName": "WriteThrottleEvents",
                "Dimensions": [{"Name": "TableName", "Value": {"Ref": table.logical_id}}],
                "Statistic": "Sum",
            },
            1,
            periods=THROTTLED_PERIODS,
        )
    found["EventsStreamIteratorAge"] = _alarm(
        "Dispatch is behind the events stream by more than five minutes",
        _lambda("IteratorAge", "DispatchEvents", "Maximum"),
        ITERATOR_AGE_LIMIT_MS,
        periods=2,
    )
    found["QuarantineGrowth"] = _alarm("Records were quarantined (they could not be mapped)", _custom("RecordsQuarantined"), 1, period=900)
    found["DeadDeliveries"] = _alarm("An event delivery was dead-lettered", _custom("DeliveriesDead"), 1)
    found["SyncOverdue"] = _alarm(
        "A connector stream has not caught up within its schedule",
        _custom("SyncOverdueSeconds", "Maximum"),
        SYNC_OVERDUE_LIMIT_SECONDS,
    )
    found["DoorRefusalRate"] = _alarm(
        "The webhook door refused many requests (a vendor's secret or configuration changed, or someone is probing)",
        _custom("DoorRefusals"),
        REFUSAL_RATE_LIMIT,
    )
    found["WebhookServerErrors"] = _alarm(
        "The webhook door answered 5xx (vendors retry): SQS or the configuration failed",
        {
            "Namespace": "AWS/ApiGateway",
            "MetricName": "5xx",
            "Dimensions": [{"Name": "ApiId", "Value": {"Ref": "WebhookApi"}}],
            "Statistic": "Sum",
        },
        WEBHOOK_5XX_LIMIT,
    )
    return found


def resources_for_alarms() -> dict[str, Any]:
    return {
        "AlarmTopic": {
            "Type": "AWS::SNS::Topic",
            "Condition": "CreateAlarmTopic",
            "Properties": {"TopicName": {"Fn::Sub": f"{resources.PREFIX}-${{{STAGE}}}-alarms"}},
        },
        "AlarmEmailSubscription": {
            "Type": "AWS::SNS::Subscription",
            "Condition": "SubscribeAlarmEmail",
            "Properties": {"TopicArn": {"Ref": "AlarmTopic"}, "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}},
        },
    }


def dashboard(functions: list[str]) -> dict[str, Any]:
    """One page: what came in and what became of it, deliveries, sync, the door, the platform."""
    service = f"{resources.PREFIX}-${{{STAGE}}}"

    def custom(*names: str, stat: str = "Sum") -> list[list[Any]]:
        return [[NAMESPACE, n, "service", service, {"stat": stat}] for n in names]

    def per(name: str, dimension: str) -> list[dict[str, Any]]:
        query = f"SEARCH('{{{NAMESPACE},service,{dimension}}} MetricName=\"{name}\" service=\"{service}\"', 'Sum', 300)"
        return [{"expression": query, "id": "e1", "label": ""}]

    def widget(title: str, metrics: list[Any], x: int, y: int) -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {"title": title, "region": "${AWS::Region}", "metrics": metrics, "view": "timeSeries", "period": 300},
        }

    lambda_metrics = [["AWS/Lambda", m, "FunctionName", f"${{{f}}}"] for f in functions for m in ("Errors", "Throttles")]
    failure_queues = [
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", f"${{{q.logical_id}.QueueName}}"]
        for q in resources.QUEUES
        if not q.consumer
    ]

    def per_table(metric: str) -> list[list[Any]]:
        return [["AWS/DynamoDB", metric, "TableName", f"${{{t.logical_id}}}", {"stat": "Sum"}] for t in resources.TABLES]

    widgets = [
        widget(
            "Records by outcome",
            custom(
                "RecordsReceived",
                "RecordsApplied",
                "RecordsDuplicate",
                "RecordsStale",
                "RecordsQuarantined",
                "RecordsFailed",
                "RawCopiesNotKept",
            ),
            0,
            0,
        ),
        widget("Quarantined per connector", per("RecordsQuarantined", "connector"), 12, 0),
        widget("Events fired per type", per("EventsFired", "type"), 0, 6),
        widget("Deliveries", custom("DispatchAttempts", "DispatchFailures", "DeliveriesDead"), 12, 6),
        widget("Sync: records pulled", per("SyncRecordsPulled", "connector"), 0, 12),
        widget("Sync: seconds past schedule", custom("SyncOverdueSeconds", stat="Maximum"), 12, 12),
        widget("Door refusals per reason", per("DoorRefusals", "reason"), 0, 18),
        widget("Failure queues", failure_queues, 12, 18),
        widget("Functions: errors and throttles", lambda_metrics, 0, 24),
        widget(
            "Dispatch: stream iterator age (ms)",
            [["AWS/Lambda", "IteratorAge", "FunctionName", "${DispatchEvents}", {"stat": "Maximum"}]],
            12,
            24,
        ),
        # What to size provisioned capacity by (docs/capacity.md), and where it falls short.
        widget("Tables: write units consumed", per_table("ConsumedWriteCapacityUnits"), 0, 30),
        widget("Tables: writes throttled", per_table("WriteThrottleEvents"), 12, 30),
    ]
    return {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {
            "DashboardName": {"Fn::Sub": f"{resources.PREFIX}-${{{STAGE}}}"},
            "DashboardBody": {"Fn::Sub": json.dumps({"widgets": widgets})},
        },
    }


def stack_resources(functions: list[str]) -> dict[str, Any]:
    """Everything this module adds to the template."""
    return {**resources_for_alarms(), **alarms(functions), "Dashboard": dashboard(functions)}
