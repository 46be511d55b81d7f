"""The merge template for ``chalice package``: our resources plus what Chalice cannot express.

Chalice creates neither tables nor queues, writes event-source ARNs as literals and
cannot ask for partial batch responses; this template adds the resources from
infra/resources.py and patches those properties (a deep merge into sam.json).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from infra import resources

FUNCTIONS = ("APIHandler", "ProcessInbound", "DispatchEvents", "ScheduledSync")


def environment() -> dict[str, Any]:
    env: dict[str, Any] = {t.env_var: {"Ref": t.logical_id} for t in resources.TABLES}
    for queue in resources.QUEUES:
        env[queue.env_var] = {"Ref": queue.logical_id}
    env[resources.BUS.env_var] = {"Ref": resources.BUS.logical_id}
    return env


def merge_template(function_names: list[str]) -> dict[str, Any]:
    template: dict[str, Any] = {"Resources": resources.cloudformation_resources()}
    env = environment()
    for name in function_names:
        template["Resources"][name] = {"Properties": {"Environment": {"Variables": env}}}
    if "ProcessInbound" in function_names:
        template["Resources"]["ProcessInbound"]["Properties"]["Events"] = {
            "ProcessInboundSqsEventSource": {
                "Properties": {"Queue": {"Fn::Sub": "${InboundQueue.Arn}"}, "FunctionResponseTypes": ["ReportBatchItemFailures"]}
            },
            "ProcessInboundBulkSqsEventSource": bulk_lane_event_source(),
        }
    if "DispatchEvents" in function_names:
        template["Resources"]["DispatchEvents"]["Properties"]["Events"] = {
            "DispatchEventsDynamodbEventSource": {
                "Properties": {
                    "Stream": {"Fn::GetAtt": ["EventsTable", "StreamArn"]},
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                    "MaximumRetryAttempts": 10,
                    "BisectBatchOnFunctionError": True,
                }
            }
        }
    return template


def bulk_lane_event_source() -> dict[str, Any]:
    """The bulk lane feeds the same processor function, with a cap that keeps invocations free for webhooks."""
    bulk = next(q for q in resources.QUEUES if q.logical_id == "BulkQueue")
    properties: dict[str, Any] = {
        "Queue": {"Fn::Sub": f"${{{bulk.logical_id}.Arn}}"},
        "BatchSize": 10,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }
    if bulk.max_concurrency:
        properties["ScalingConfig"] = {"MaximumConcurrency": bulk.max_concurrency}
    return {"Type": "SQS", "Properties": properties}


def main(argv: list[str]) -> int:
    sam = json.loads(Path(argv[0]).read_text()) if argv else {"Resources": {}}
    names = [n for n, r in sam.get("Resources", {}).items() if r.get("Type") == "AWS::Serverless::Function"] or list(FUNCTIONS)
    print(json.dumps(merge_template(names), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
