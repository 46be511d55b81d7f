"""A small evaluator of the CloudFormation intrinsics the template uses, for tests.

It turns template values into what CloudFormation would make of them for given parameter
values and physical resources: the IAM check resolves policies against the stand-in's real
ARNs; the stage test resolves names for two stages and compares them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

NO_VALUE = object()
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass
class Resolver:
    parameters: dict[str, str]
    refs: Callable[[str], str]  # logical id → what Ref returns
    attributes: Callable[[str, str], str]  # (logical id, attribute) → what GetAtt returns
    conditions: dict[str, Any] = field(default_factory=dict)
    account: str = "123456789012"
    region: str = "us-east-1"

    def __call__(self, node: Any) -> Any:
        value = self.value(node)
        return None if value is NO_VALUE else value

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                target, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.attributes(target, attribute)
            if key == "Fn::Sub":
                return self.sub(arg)
            if key == "Fn::If":
                name, yes, no = arg
                return self.value(yes if self.condition(name) else no)
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(str(p) for p in self.value(parts))
            if key == "Fn::Select":
                index, items = arg
                return self.value(items)[int(index)]
            if key == "Fn::Split":
                separator, text = arg
                return str(self.value(text)).split(separator)
            if key == "Condition":
                return self.condition(arg)
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NO_VALUE}

    def ref(self, name: str) -> Any:
        pseudo = {"AWS::Region": self.region, "AWS::AccountId": self.account, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name == "AWS::StackName":
            return f"salesbridge-{self.parameters.get('Stage', 'local')}"
        if name in self.parameters:
            return self.parameters[name]
        return self.refs(name)

    def sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.value(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                target, attribute = name.split(".", 1)
                return str(self.attributes(target, attribute))
            return str(self.ref(name))

        return _SUB.sub(replace, text).replace("${!", "${")

    def condition(self, name: str) -> bool:
        return bool(self.truth(self.conditions[name]))

    def truth(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Fn::Equals":
                return self.value(arg[0]) == self.value(arg[1])
            if key == "Fn::Not":
                return not self.truth(arg[0])
            if key == "Fn::And":
                return all(self.truth(a) for a in arg)
            if key == "Fn::Or":
                return any(self.truth(a) for a in arg)
            if key == "Condition":
                return self.condition(arg)
        return self.value(node)


def template_conditions() -> dict[str, Any]:
    from infra.template import conditions

    return conditions()


def standin_resolver(account: str, region: str) -> Resolver:
    """Values as the stand-in has them: the local stage's names (infra/resources.py ``name``) and ARNs."""
    from infra import resources
    from infra.template import stage_parameters

    names: dict[str, str] = {t.logical_id: t.name for t in resources.TABLES}
    names.update({q.logical_id: q.name for q in resources.QUEUES})
    names.update({b.logical_id: b.name for b in resources.BUCKETS})
    names[resources.BUS.logical_id] = resources.BUS.name
    kinds = {t.logical_id: "table" for t in resources.TABLES} | {q.logical_id: "queue" for q in resources.QUEUES}
    kinds |= {b.logical_id: "bucket" for b in resources.BUCKETS}
    kinds[resources.BUS.logical_id] = "bus"

    def arn(logical_id: str) -> str:
        kind, name = kinds[logical_id], names[logical_id]
        if kind == "table":
            return f"arn:aws:dynamodb:{region}:{account}:table/{name}"
        if kind == "queue":
            return f"arn:aws:sqs:{region}:{account}:{name}"
        if kind == "bucket":
            return f"arn:aws:s3:::{name}"
        return f"arn:aws:events:{region}:{account}:event-bus/{name}"

    def refs(logical_id: str) -> str:
        if logical_id.endswith("LogGroup"):
            return f"/aws/lambda/{logical_id}"
        if kinds.get(logical_id) == "queue":
            return f"http://127.0.0.1/{account}/{names[logical_id]}"
        return names[logical_id]

    def attributes(logical_id: str, attribute: str) -> str:
        if logical_id.endswith("LogGroup") and attribute == "Arn":
            return f"arn:aws:logs:{region}:{account}:log-group:{refs(logical_id)}"
        if attribute == "StreamArn":
            return arn(logical_id) + "/stream/*"
        if attribute == "Arn":
            return arn(logical_id)
        raise KeyError(f"{logical_id}.{attribute}")

    parameters = stage_parameters("local") | {"SsmPrefix": "/salesbridge", "KmsKeyArn": ""}
    return Resolver(parameters, refs, attributes, template_conditions(), account, region)
