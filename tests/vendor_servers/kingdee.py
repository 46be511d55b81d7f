"""Kingdee K/3 Cloud Web API (``/K3Cloud/Kingdee.BOS.WebApi.ServicesStub.…common.kdsvc``).

Reproduced (the vendor's documented Web API): ``AuthService.ValidateUser`` with acctID, username,
password, lcid answering ``LoginResultType`` 1 and ``KDSVCSessionId``; ``ExecuteBillQuery`` with
``{"data": {FormId, FieldKeys, FilterString, OrderString, TopRowCount, StartRow, Limit}}`` answering
a list of rows, each an array in FieldKeys order; errors as HTTP 200 with
``[[{"Result": {"ResponseStatus": {"IsSuccess": false, "Errors": [...], "MsgCode": …}}}]]`` (MsgCode 1:
session lost); naive times in the data centre's zone (Asia/Shanghai here) with milliseconds.
The material form BD_MATERIAL carries two custom price fields (F_SB_ListPrice, F_SB_FloorPrice).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tests.vendor_servers.base import LoopbackServer, Request, Response, fill, json_response

PREFIX = "/K3Cloud/Kingdee.BOS.WebApi.ServicesStub."
SHANGHAI = ZoneInfo("Asia/Shanghai")
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>>=|<=|<>|=|>|<)|(?P<paren>[()])|(?P<word>[A-Za-z_][\w.]*))"
)


def kingdee_time(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def error(message: str, msg_code: int = 0, code: int = 500) -> Response:
    status = {
        "ErrorCode": code,
        "IsSuccess": False,
        "Errors": [{"FieldName": None, "Message": message, "DIndex": 0}],
        "SuccessEntitys": [],
        "SuccessMessages": [],
        "MsgCode": msg_code,
    }
    return json_response([[{"Result": {"ResponseStatus": status}}]])


class FilterError(ValueError):
    pass


def tokens(text: str) -> list[tuple[str, str]]:
    found, position = [], 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if not match:
            raise FilterError(f"FilterString syntax error near {text[position : position + 20]!r}")
        kind = match.lastgroup or ""
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


class Condition:
    """The FilterString subset a sync sends: comparisons joined by AND/OR, with parentheses."""

    def __init__(self, text: str):
        self.items = tokens(text)
        self.at = 0

    def evaluate(self, row: dict[str, Any]) -> bool:
        if not self.items:
            return True
        self.at, self.row = 0, row
        value = self._or()
        if self.at != len(self.items):
            raise FilterError("FilterString has trailing text")
        return value

    def _peek(self) -> str:
        return self.items[self.at][1].upper() if self.at < len(self.items) else ""

    def _or(self) -> bool:
        value = self._and()
        while self._peek() == "OR":
            self.at += 1
            value = self._and() or value
        return value

    def _and(self) -> bool:
        value = self._atom()
        while self._peek() == "AND":
            self.at += 1
            value = self._atom() and value
        return value

    def _atom(self) -> bool:
        if self._peek() == "(":
            self.at += 1
            value = self._or()
            if self._peek() != ")":
                raise FilterError("unbalanced parentheses in FilterString")
            self.at += 1
            return value
        (kind, field), (op_kind, op), (value_kind, literal) = self.items[self.at : self.at + 3]
        self.at += 3
        if kind != "word" or op_kind != "op" or value_kind not in ("str", "num"):
            raise FilterError(f"cannot read the condition at {field!r}")
        if field not in self.row:
            raise FilterError(f"字段“{field}”不存在")
        left = self.row[field]
        right: Any = literal[1:-1].replace("''", "'") if value_kind == "str" else Decimal(literal)
        if isinstance(left, str) and field.endswith("Date"):
            left, right = datetime.fromisoformat(left), datetime.fromisoformat(str(right))
        return {
            "=": left == right,
            "<>": left != right,
            ">": left > right,
            ">=": left >= right,
            "<": left < right,
            "<=": left <= right,
        }[op]


class KingdeeServer(LoopbackServer):
    def __init__(self, records: int = 0, *, acct_id: str = "6583f1a2b7c9d0", username: str = "salesbridge", password: str = "kd-pass"):
        super().__init__()
        fill(self.dataset, records, lambda i: 100001 + i)
        self.acct_id, self.username, self.password = acct_id, username, password
        self.sessions: set[str] = set()
        self.logins = 0

    def is_data_request(self, request: Request) -> bool:
        return request.path.endswith("ExecuteBillQuery.common.kdsvc")

    def shape(self, record: dict[str, Any]) -> dict[str, Any]:
        number = record["id"] - 100000
        return {
            "FMATERIALID": record["id"],
            "FNumber": f"SKU-{number:03d}",
            "FName": record["name"],
            "FModifyDate": kingdee_time(record["modified"]),
            "FDocumentStatus": "C",
            "FForbidStatus": "A",
            "FMaterialGroup.FNumber": "BEV" if number % 2 else "SNK",
            "FBaseUnitId.FNumber": "Pcs",
            "F_SB_ListPrice": float(record["amount"] + 10),
            "F_SB_FloorPrice": float(record["amount"] + 8),
        }

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def handle(self, request: Request) -> Response:
        if request.method != "POST" or not request.path.startswith(PREFIX):
            return Response(404, b"<html><body>404 - File or directory not found.</body></html>", {"Content-Type": "text/html"})
        service = request.path[len(PREFIX) :]
        body = request.json() or {}
        if service == "AuthService.ValidateUser.common.kdsvc":
            return self.login(body)
        if service == "DynamicFormService.ExecuteBillQuery.common.kdsvc":
            cookies = dict(part.strip().split("=", 1) for part in request.headers.get("cookie", "").split(";") if "=" in part)
            if cookies.get("kdservice-sessionid") not in self.sessions:
                return error("会话信息已丢失，请重新登录", msg_code=1)
            data = body.get("data")
            return self.query(json.loads(data) if isinstance(data, str) else data or {})
        return error(f"service {service} not found")

    def login(self, body: dict[str, Any]) -> Response:
        self.logins += 1
        ok = (body.get("acctID"), body.get("username"), body.get("password")) == (self.acct_id, self.username, self.password)
        if not ok:
            return json_response({"Message": "用户名或密码错误！", "MessageCode": "", "LoginResultType": 0, "Context": None})
        session = uuid.uuid4().hex
        self.sessions.add(session)
        answer = {"Message": None, "MessageCode": "CheckPasswordPolicy", "LoginResultType": 1, "KDSVCSessionId": session}
        return json_response(answer, headers={"Set-Cookie": f"kdservice-sessionid={session}; path=/"})

    def query(self, data: dict[str, Any]) -> Response:
        if data.get("FormId") != "BD_MATERIAL":
            return error(f"业务对象“{data.get('FormId')}”不存在")
        keys = [k.strip() for k in str(data.get("FieldKeys") or "").split(",") if k.strip()]
        rows = [self.shape(r) for r in self.dataset.sorted(lambda r: r["id"])]
        unknown = [k for k in keys if rows and k not in rows[0]]
        if unknown:
            return error(f"字段“{unknown[0]}”不存在")
        try:
            condition = Condition(str(data.get("FilterString") or ""))
            rows = [r for r in rows if condition.evaluate(r)]
        except FilterError as exc:
            return error(str(exc))
        for part in reversed([p.strip() for p in str(data.get("OrderString") or "").split(",") if p.strip()]):
            name, _, direction = part.partition(" ")
            rows.sort(key=lambda r: r[name], reverse=direction.strip().upper() == "DESC")
        start, limit = int(data.get("StartRow") or 0), int(data.get("Limit") or 0)
        limit = min(limit or 2000, 2000)
        return json_response([[r[k] for k in keys] for r in rows[start : start + limit]])
