"""The 企业微信 / 钉钉 robot connector kinds: their files, the key and 加签 on each request, the answers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

import httpx
import pytest

from chalicelib.config.yaml_lines import load_yaml_text
from chalicelib.connectors.api_config import validate_api_sections
from chalicelib.connectors.auth import DingTalkRobotAuth, WeComRobotAuth
from chalicelib.connectors.robots import RobotRefused, robot_answer

FILE = "connectors/robot.yaml"


def problems(text: str) -> list[str]:
    _, found = validate_api_sections(load_yaml_text(text, FILE), FILE)
    return [str(p) for p in found]


def test_the_shipped_robot_files_are_valid() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "connectors"
    for name in ("wecom_robot", "dingtalk_robot"):
        text = (root / f"{name}.yaml").read_text().replace("type:", "kind:", 1).replace("kind: connector\n", "")
        assert problems(text) == [], name


def test_a_robot_needs_its_own_auth_and_has_no_streams() -> None:
    text = "name: r\nkind: wecom\napi:\n  base_url: https://qyapi.weixin.qq.com\n  auth: {type: bearer, token: {env: T}}\n"
    [problem] = problems(text)
    assert problem.startswith(f"{FILE}:5:") and "wecom needs auth type 'wecom_robot'" in problem
    streams = (
        "name: r\nkind: dingtalk\napi:\n  base_url: https://oapi.dingtalk.com\n  auth: {type: dingtalk_robot, access_token: {env: T}}\n"
    )
    assert any(
        "a dingtalk robot is only written to: it has no streams" in p for p in problems(streams + "streams:\n  - {name: s, object: x}\n")
    )
    other = "name: r\nkind: hubspot\napi:\n  base_url: https://api.hubapi.com\n  auth: {type: wecom_robot, key: {env: K}}\n"
    assert any("only for kind 'wecom'" in p for p in problems(other))
    literal = "name: r\nkind: wecom\napi:\n  base_url: https://qyapi.weixin.qq.com\n  auth: {type: wecom_robot, key: abc}\n"
    assert any("never literal values" in p for p in problems(literal))


def _query(auth: httpx.Auth) -> dict[str, list[str]]:
    request = httpx.Request("POST", "https://robot.example/robot/send")
    sent = next(auth.auth_flow(request))
    return urllib.parse.parse_qs(sent.url.query.decode())


def test_wecom_adds_its_key() -> None:
    assert _query(WeComRobotAuth(lambda: "k-1")) == {"key": ["k-1"]}


def test_dingtalk_signs_every_request_with_a_fresh_timestamp() -> None:
    now = [1_796_190_000.0]
    auth = DingTalkRobotAuth(lambda: "tok", lambda: "SECabc", clock=lambda: now[0])
    query = _query(auth)
    assert query["access_token"] == ["tok"] and query["timestamp"] == ["1796190000000"]
    expected = base64.b64encode(hmac.new(b"SECabc", b"1796190000000\nSECabc", hashlib.sha256).digest()).decode()
    assert query["sign"] == [expected]  # the documented recipe; URL-encoded on the wire, decoded here
    now[0] += 61
    assert _query(auth)["timestamp"] == ["1796190061000"]
    assert set(_query(DingTalkRobotAuth(lambda: "tok", None))) == {"access_token"}  # a robot secured by keywords


def test_answers() -> None:
    assert robot_answer("wecom", {"errcode": 0, "errmsg": "ok"}) == "errcode 0"
    with pytest.raises(RobotRefused) as limited:
        robot_answer("wecom", {"errcode": 45009, "errmsg": "api freq out of limit"})
    assert limited.value.rate_limited and "企业微信 robot answered errcode 45009" in str(limited.value)
    with pytest.raises(RobotRefused) as ding:
        robot_answer("dingtalk", {"errcode": 130101, "errmsg": "send too fast"})
    assert ding.value.rate_limited
    with pytest.raises(RobotRefused) as bad:
        robot_answer("dingtalk", {"errcode": 310000, "errmsg": "sign not match"})
    assert not bad.value.rate_limited
    with pytest.raises(RobotRefused, match="not a robot answer"):
        robot_answer("wecom", "<html>gateway</html>")
