"""企业微信 (WeCom) and 钉钉 (DingTalk) group robots: the connector kinds ``wecom`` and ``dingtalk``.

A group robot is one webhook address per group: WeCom ``POST {base}/cgi-bin/webhook/send?key=…``,
DingTalk ``POST {base}/robot/send?access_token=…`` (with 加签, also ``timestamp`` and ``sign``).
Both answer HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}`` when the message was posted and a
non-zero errcode when it was not, also for "sending too fast" (WeCom 45009, DingTalk 130101: each
robot takes about 20 messages a minute). The key is the connector's ``api.auth``; the base URL its
``api.base_url``, so the local stack and the tests point a robot at a loopback server (the auth
that adds the key and the 加签 signature to each request: chalicelib/connectors/auth.py).

A robot keeps no record that could be asked whether a message already went out: a message is
sent at most once per attempt, and an attempt whose outcome is unknown is not repeated
(chalicelib/dispatch/deliver.py records the attempt before sending it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

RATE_LIMITED = {"wecom": frozenset({45009}), "dingtalk": frozenset({130101})}
NAMES = {"wecom": "企业微信 robot", "dingtalk": "钉钉 robot"}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk 加签: base64(HMAC-SHA256(secret, "timestamp\\nsecret")); the query encoding URL-encodes it."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class RobotRefused(Exception):
    """The robot answered with a non-zero errcode; ``rate_limited``: the message was not posted, try later."""

    def __init__(self, kind: str, code: int, message: str):
        self.kind, self.code, self.message = kind, code, message
        self.rate_limited = code in RATE_LIMITED.get(kind, frozenset())
        super().__init__(f"{NAMES.get(kind, kind)} answered errcode {code}: {message}")


def robot_answer(kind: str, body: Any) -> str:
    """The robot's JSON answer: ``errcode 0`` when the message was posted, else RobotRefused."""
    if not isinstance(body, dict) or "errcode" not in body:
        raise RobotRefused(kind, -1, f"not a robot answer: {str(body)[:200]}")
    code = body.get("errcode")
    if code != 0:
        raise RobotRefused(kind, int(code) if isinstance(code, int) else -1, str(body.get("errmsg") or ""))
    return "errcode 0"
