"""Where events go: the `kind: subscribers` file in connectors/.

Secrets (HTTP signing secrets, robot keys) are references, resolved at run time.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.config.models import StrictModel, validate
from chalicelib.config.problems import Problem
from chalicelib.config.yaml_lines import LocatedDict
from chalicelib.runtime.secrets import SecretRef

WECOM_ROBOT_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
DINGTALK_ROBOT_URL = "https://oapi.dingtalk.com/robot/send"


class Target(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    types: list[str] = Field(default_factory=lambda: ["*"], description="Event types to deliver; '*' = all")
    enabled: bool = True

    def wants(self, event_type: str) -> bool:
        return self.enabled and ("*" in self.types or event_type in self.types)


class EventBridgeTarget(Target):
    kind: Literal["eventbridge"] = "eventbridge"
    detail_type_prefix: str = ""


class HttpTarget(Target):
    """Standard Webhooks signing: webhook-id / webhook-timestamp / webhook-signature (v1, HMAC-SHA256)."""

    kind: Literal["http"] = "http"
    url: str = Field(pattern=r"^https?://")
    secret: SecretRef = Field(description="A 'whsec_…' secret (base64 key) or any shared secret")
    timeout_seconds: float = Field(5.0, gt=0, le=30)


class WeComRobotTarget(Target):
    kind: Literal["wecom_robot"] = "wecom_robot"
    key: SecretRef = Field(description="The key= of the group robot's webhook address")
    url: str = WECOM_ROBOT_URL


class DingTalkRobotTarget(Target):
    kind: Literal["dingtalk_robot"] = "dingtalk_robot"
    access_token: SecretRef
    secret: SecretRef | None = Field(None, description="加签 secret (SEC…); signs timestamp + secret")
    url: str = DINGTALK_ROBOT_URL


AnyTarget = EventBridgeTarget | HttpTarget | WeComRobotTarget | DingTalkRobotTarget


class Subscribers(StrictModel):
    kind: Literal["subscribers"] = "subscribers"
    max_attempts: int = Field(5, ge=1, le=50, description="Delivery attempts per target before dead-lettering")
    targets: list[AnyTarget] = Field(default_factory=list)


DEFAULT = Subscribers(targets=[EventBridgeTarget(name="eventbridge")])


def load_subscribers(docs: list[tuple[str, LocatedDict]]) -> tuple[Subscribers, list[Problem]]:
    if not docs:
        return DEFAULT, []
    if len(docs) > 1:
        return DEFAULT, [Problem(n, *d.position, "kind", "only one 'kind: subscribers' file is allowed") for n, d in docs[1:]]
    filename, doc = docs[0]
    subscribers, problems = validate(Subscribers, doc, filename)
    return subscribers or DEFAULT, problems
