"""企业微信 and 钉钉 group robots on 127.0.0.1, answering as their webhook APIs document.

WeCom: ``POST /cgi-bin/webhook/send?key=…`` with ``{"msgtype": "text", "text": {"content": …,
"mentioned_list": […], "mentioned_mobile_list": […]}}``. DingTalk: ``POST /robot/send?access_token=…``
(with 加签 also ``timestamp`` in ms, at most an hour off, and ``sign`` = base64 HMAC-SHA256 of
``timestamp\\nsecret``) with ``{"msgtype": "text", "text": {"content": …}, "at": {"atMobiles": […]}}``.

Both answer HTTP 200 with a JSON errcode: 0 "ok" when the message is posted; "sending too fast"
(WeCom 45009, DingTalk 130101) past ``per_minute`` messages, also with HTTP 200; a key or token
they do not know (WeCom 93000 "invalid webhook url", DingTalk 300001 "token is not exist"), a sign
that does not match (310000). ``posted`` holds the messages that reached the group.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from typing import Any

from tests.vendor_servers.base import LoopbackServer, Request, Response, json_response


class RobotServer(LoopbackServer):
    path = ""
    rate_limited = 0

    def __init__(self, *, per_minute: int = 20):
        super().__init__()
        self.per_minute = per_minute
        self.posted: list[dict[str, Any]] = []
        self.refused: list[int] = []
        self.throttle_next = 0  # answer the next n messages with the rate-limit errcode, whatever the count
        self._sent_at: list[float] = []
        self._robot_lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        if request.method != "POST" or request.path != self.path:
            return json_response({"errcode": 404, "errmsg": "not found"}, 404)
        refusal = self.check(request)
        if refusal is not None:
            self.refused.append(refusal[0])
            return json_response({"errcode": refusal[0], "errmsg": refusal[1]})
        body = request.json()
        problem = self.check_body(body)
        if problem is not None:
            self.refused.append(problem[0])
            return json_response({"errcode": problem[0], "errmsg": problem[1]})
        with self._robot_lock:
            now = time.monotonic()
            self._sent_at = [t for t in self._sent_at if now - t < 60]
            if self.throttle_next > 0 or len(self._sent_at) >= self.per_minute:
                self.throttle_next = max(0, self.throttle_next - 1)
                self.refused.append(self.rate_limited)
                return json_response({"errcode": self.rate_limited, "errmsg": "send too fast, exceed limit"})
            self._sent_at.append(now)
            self.posted.append(body)
        return json_response({"errcode": 0, "errmsg": "ok"})

    def check(self, request: Request) -> tuple[int, str] | None:
        raise NotImplementedError

    def check_body(self, body: Any) -> tuple[int, str] | None:
        if not isinstance(body, dict) or body.get("msgtype") != "text" or not isinstance(body.get("text"), dict):
            return 40008, "invalid message type"
        if not str(body["text"].get("content") or "").strip():
            return 44004, "empty content"
        return None


class WeComRobot(RobotServer):
    path = "/cgi-bin/webhook/send"
    rate_limited = 45009

    def __init__(self, key: str = "wecom-robot-key", **kwargs: Any):
        super().__init__(**kwargs)
        self.key = key

    def check(self, request: Request) -> tuple[int, str] | None:
        if request.arg("key") != self.key:
            return 93000, "invalid webhook url, hint: [key]"
        return None

    def check_body(self, body: Any) -> tuple[int, str] | None:
        problem = super().check_body(body)
        if problem is None and len(str(body["text"]["content"]).encode()) > 2048:
            return 40058, "content exceed max length 2048"
        return problem


class DingTalkRobot(RobotServer):
    path = "/robot/send"
    rate_limited = 130101

    def __init__(self, access_token: str = "ding-access-token", secret: str | None = "SECding-robot-secret", **kwargs: Any):
        super().__init__(**kwargs)
        self.access_token, self.secret = access_token, secret

    def check(self, request: Request) -> tuple[int, str] | None:
        if request.arg("access_token") != self.access_token:
            return 300001, "token is not exist"
        if self.secret is None:
            return None
        timestamp, sign = request.arg("timestamp"), request.arg("sign")
        if not timestamp or not sign or not timestamp.isdigit():
            return 310000, "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"
        if abs(int(timestamp) - time.time() * 1000) > 3600 * 1000:
            return 310000, "invalid timestamp"
        digest = hmac.new(self.secret.encode(), f"{timestamp}\n{self.secret}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), sign):  # parse_qs has URL-decoded it
            return 310000, "sign not match"
        return None
