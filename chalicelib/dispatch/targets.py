"""One function per kind of destination: send one event, raise DeliveryFailed if it did not land."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from chalicelib.connectors.robots import dingtalk_sign
from chalicelib.dispatch.subscribers import DingTalkRobotTarget, EventBridgeTarget, HttpTarget, WeComRobotTarget
from chalicelib.errors import DeliveryFailed

Secret = Callable[[Any], str]


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()


def standard_webhooks_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Headers per the Standard Webhooks spec (v1 = HMAC-SHA256 over id.timestamp.body)."""
    key = base64.b64decode(secret[len("whsec_") :]) if secret.startswith("whsec_") else secret.encode()
    signed = f"{msg_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": f"v1,{signature}"}


def send_eventbridge(target: EventBridgeTarget, event: dict[str, Any], bus: str, **_: Any) -> str:
    from chalicelib.runtime import aws

    entry = {
        "Source": "salesbridge",
        "DetailType": target.detail_type_prefix + event["type"],
        "Detail": json.dumps(event, ensure_ascii=False),
        "EventBusName": bus,
        "Resources": [],
    }
    response = aws.client("events").put_events(Entries=[entry])
    if response.get("FailedEntryCount"):
        failed = response["Entries"][0]
        raise DeliveryFailed(f"EventBridge refused the event: {failed.get('ErrorCode')} {failed.get('ErrorMessage')}")
    return str(response["Entries"][0].get("EventId", ""))


def _post(http: Any, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Any:
    import httpx

    try:
        response = http.post(url, content=body, headers={"Content-Type": "application/json", **headers}, timeout=timeout)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise DeliveryFailed(f"HTTP {response.status_code}")
    if response.status_code >= 300:
        raise DeliveryFailed(f"HTTP {response.status_code}: {response.text[:200]}", retryable=response.status_code in (408, 409, 425))
    return response


def send_http(target: HttpTarget, event: dict[str, Any], *, secret: Secret, http: Any, **_: Any) -> str:
    body = body_of(event)
    headers = standard_webhooks_headers(secret(target.secret), event["id"], int(time.time()), body)
    response = _post(http, target.url, body, headers, target.timeout_seconds)
    return f"HTTP {response.status_code}"


def robot_text(event: dict[str, Any]) -> tuple[str, str]:
    """A short markdown message a sales manager can read on a phone."""
    data = event.get("data", {})
    title = {
        "customer.grade_changed": "客户等级变更 Customer grade changed",
        "order.anomaly_detected": "订单异常预警 Order anomaly",
        "rebate.deviation_detected": "返利结算偏差 Rebate deviation",
        "rebate.deviation_resolved": "返利偏差已消除 Rebate deviation resolved",
    }.get(event["type"], event["type"])
    lines = [f"### {title}", f"> subject: {event.get('subject')}", f"> time: {event.get('time')}"]
    for key in ("previous", "current", "direction", "rule", "reason", "expected", "settled", "deviation", "period"):
        if key in data:
            lines.append(f"> {key}: {data[key]}")
    lines.append(f"> event: {event['id']}")
    return title, "\n".join(lines)


def _robot_result(response: Any) -> str:
    try:
        answer = response.json()
    except ValueError:
        raise DeliveryFailed(f"robot answered non-JSON: {response.text[:200]}") from None
    code = answer.get("errcode", 0)
    if code != 0:
        # 45009 (WeCom) / 130101 (DingTalk): sending too fast — worth retrying; other codes are configuration errors.
        raise DeliveryFailed(f"robot error {code}: {answer.get('errmsg')}", retryable=code in (45009, 130101, -1))
    return "errcode 0"


def send_wecom_robot(target: WeComRobotTarget, event: dict[str, Any], *, secret: Secret, http: Any, **_: Any) -> str:
    _title, text = robot_text(event)
    url = f"{target.url}?{urllib.parse.urlencode({'key': secret(target.key)})}"
    body = json.dumps({"msgtype": "markdown", "markdown": {"content": text}}, ensure_ascii=False).encode()
    return _robot_result(_post(http, url, body, {}, 5.0))


def send_dingtalk_robot(target: DingTalkRobotTarget, event: dict[str, Any], *, secret: Secret, http: Any, **_: Any) -> str:
    title, text = robot_text(event)
    params = {"access_token": secret(target.access_token)}
    if target.secret is not None:
        ts = int(time.time() * 1000)
        params.update(timestamp=str(ts), sign=dingtalk_sign(secret(target.secret), ts))
    url = f"{target.url}?{urllib.parse.urlencode(params)}"
    body = json.dumps({"msgtype": "markdown", "markdown": {"title": title, "text": text}}, ensure_ascii=False).encode()
    return _robot_result(_post(http, url, body, {}, 5.0))


SENDERS: dict[str, Callable[..., str]] = {
    "eventbridge": send_eventbridge,
    "http": send_http,
    "wecom_robot": send_wecom_robot,
    "dingtalk_robot": send_dingtalk_robot,
}
