"""How a stage's tables pay for throughput: on demand (the default) or provisioned with auto scaling.

On demand costs nothing when idle and takes any burst a partition can. Provisioned capacity
with target-tracking auto scaling costs about 2.4 times less per unit at 70 % utilisation
(docs/cost.md) and suits a steady flow: the queues in front of the processor absorb a burst
while capacity scales up (a throttled write is retried, then the message is redelivered;
nothing is lost). Every table and every index gets its own scalable target for reads and for
writes, so none is left at its minimum.
"""

from __future__ import annotations

from typing import Any

from infra.resources import TABLES, Table

BILLING_MODE = "TableBillingMode"
PROVISIONED = "ProvisionCapacity"  # the condition: the stage runs its tables provisioned
MIN_UNITS = "CapacityMinimumUnits"
MAX_UNITS = "CapacityMaximumUnits"
TARGET = "CapacityTargetUtilization"
DIMENSIONS = ("Read", "Write")


def parameters() -> dict[str, Any]:
    return {
        BILLING_MODE: {
            "Type": "String",
            "Default": "PAY_PER_REQUEST",
            "AllowedValues": ["PAY_PER_REQUEST", "PROVISIONED"],
            "Description": "Tables on demand, or provisioned with auto scaling (cheaper for a steady flow: docs/cost.md)",
        },
        MIN_UNITS: {
            "Type": "Number",
            "Default": 5,
            "MinValue": 1,
            "Description": "Provisioned only: the least read and write units of each table and index",
        },
        MAX_UNITS: {
            "Type": "Number",
            "Default": 4000,
            "MinValue": 1,
            "MaxValue": 40000,
            "Description": "Provisioned only: the most read and write units auto scaling gives each table and index",
        },
        TARGET: {
            "Type": "Number",
            "Default": 70,
            "MinValue": 20,
            "MaxValue": 90,
            "Description": "Provisioned only: the utilisation (percent) auto scaling keeps each table and index at",
        },
    }


def conditions() -> dict[str, Any]:
    return {PROVISIONED: {"Fn::Equals": [{"Ref": BILLING_MODE}, "PROVISIONED"]}}


def table_properties(table: Table, props: dict[str, Any]) -> dict[str, Any]:
    """``props`` (the table's CloudFormation properties) with its billing mode and starting throughput."""
    starting = {"ReadCapacityUnits": {"Ref": MIN_UNITS}, "WriteCapacityUnits": {"Ref": MIN_UNITS}}
    throughput = _if_provisioned(starting, {"Ref": "AWS::NoValue"})
    props = dict(props, BillingMode=_if_provisioned("PROVISIONED", "PAY_PER_REQUEST"), ProvisionedThroughput=throughput)
    if table.indexes:
        props["GlobalSecondaryIndexes"] = [dict(index, ProvisionedThroughput=throughput) for index in props["GlobalSecondaryIndexes"]]
    return props


def autoscaling_resources() -> dict[str, Any]:
    """A scalable target and a target-tracking policy per table and index, for reads and for writes."""
    found: dict[str, Any] = {}
    for table in TABLES:
        scaled = [(table.logical_id, "table", f"table/${{{table.logical_id}}}")]
        scaled += [
            (f"{table.logical_id}{_camel(index.name)}", "index", f"table/${{{table.logical_id}}}/index/{index.name}")
            for index in table.indexes
        ]
        for name, kind, resource_id in scaled:
            for dimension in DIMENSIONS:
                target = f"{name}{dimension}Scaling"
                found[target] = {
                    "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
                    "Condition": PROVISIONED,
                    "Properties": {
                        "ServiceNamespace": "dynamodb",
                        "ResourceId": {"Fn::Sub": resource_id},
                        "ScalableDimension": f"dynamodb:{kind}:{dimension}CapacityUnits",
                        "MinCapacity": {"Ref": MIN_UNITS},
                        "MaxCapacity": {"Ref": MAX_UNITS},
                    },
                }
                found[f"{target}Policy"] = {
                    "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
                    "Condition": PROVISIONED,
                    "Properties": {
                        "PolicyName": {"Fn::Sub": f"${{AWS::StackName}}-{target}"},
                        "PolicyType": "TargetTrackingScaling",
                        "ScalingTargetId": {"Ref": target},
                        "TargetTrackingScalingPolicyConfiguration": {
                            "TargetValue": {"Ref": TARGET},
                            "PredefinedMetricSpecification": {"PredefinedMetricType": f"DynamoDB{dimension}CapacityUtilization"},
                        },
                    },
                }
    return found


def _if_provisioned(yes: Any, no: Any) -> dict[str, Any]:
    return {"Fn::If": [PROVISIONED, yes, no]}


def _camel(name: str) -> str:
    """``timers-due`` → ``TimersDue`` (logical ids are alphanumeric)."""
    return "".join(part.capitalize() for part in name.split("-"))
