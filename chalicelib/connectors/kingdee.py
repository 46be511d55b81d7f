"""Kingdee K/3 Cloud (金蝶云星空) Web API: ``ValidateUser`` once, then ``ExecuteBillQuery`` over ``FModifyDate``.

ExecuteBillQuery answers each row as an array in the order of ``FieldKeys``. A row becomes an
object keyed by field key, with a base-data key such as ``FCustId.FNumber`` nested as
``{"FCustId": {"FNumber": …}}`` the way the View API answers, so a mapping reads both alike.
Errors come back as HTTP 200 with a ``Result.ResponseStatus`` object; ``MsgCode`` 1 means the
session expired, so the source logs in again once. Paging is keyset on (FModifyDate, id), as for
Odoo: ``StartRow`` offsets into a live result skip a record when another one is edited mid-sync.
Times are naive, in the data centre's zone (``api.timezone``, default UTC).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from chalicelib.connectors.base import Position, Source, SourcePage, id_order
from chalicelib.connectors.models import RequestSpec, dig
from chalicelib.errors import AuthError, MalformedPageError, VendorApiError

LOGIN_PATH = "/Kingdee.BOS.WebApi.ServicesStub.AuthService.ValidateUser.common.kdsvc"
QUERY_PATH = "/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery.common.kdsvc"
SESSION_COOKIE = "kdservice-sessionid"
SESSION_LOST = 1  # ResponseStatus.MsgCode: 会话信息已丢失，请重新登录
LCID_CHINESE = 2052


def zone(name: str | None) -> tzinfo:
    if not name:
        return UTC
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def kingdee_time(moment: datetime, where: tzinfo) -> str:
    """A FilterString literal: naive local time with milliseconds (SQL Server datetime precision)."""
    return moment.astimezone(where).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def nest(keys: list[str], row: list[Any]) -> dict[str, Any]:
    """``["FNumber", "FBaseUnitId.FNumber"]`` + a row → ``{"FNumber": …, "FBaseUnitId": {"FNumber": …}}``.

    A base-data key asked both alone (its internal id) and with a property keeps the id
    under ``Id``, as the View API does: ``{"FCustId": {"Id": 1001, "FNumber": "CUST0001"}}``.
    """
    record: dict[str, Any] = {}
    for key, value in zip(keys, row, strict=True):
        *parents, last = key.split(".")
        node = record
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                child = node[part] = {"Id": child}
            node = child
        if isinstance(node.get(last), dict):
            node[last]["Id"] = value
        else:
            node[last] = value
    return record


def _status(body: Any) -> dict[str, Any] | None:
    """The ``ResponseStatus`` of an error answer (bare, or wrapped in ``[[…]]``), else None."""
    candidate = body
    while isinstance(candidate, list) and len(candidate) == 1:
        candidate = candidate[0]
    if isinstance(candidate, dict):
        status = dig(candidate, "Result.ResponseStatus")
        if isinstance(status, dict) and str(status.get("IsSuccess")).lower() != "true":
            return status
    return None


class KingdeeSource(Source):
    default_cursor_field = "FModifyDate"

    def __init__(self, connector: Any, stream: Any, client: Any, resolve: Callable[[dict[str, Any]], str] | None = None):
        super().__init__(connector, stream, client)
        auth = connector.api.auth
        self.acct_id: str = connector.api.database
        self.zone = zone(connector.api.timezone)
        self._credentials = (auth.username, auth.password)
        self._resolve = resolve
        self._session: str | None = None

    # -- session
    def _secret(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        if self._resolve is None:
            raise AuthError("no secret resolver was given for the Kingdee credentials", status=0, url="")
        return self._resolve(value.as_dict())

    def session(self) -> str:
        if self._session is None:
            username, password = self._secret(self._credentials[0]), self._secret(self._credentials[1])
            body = {"acctID": self.acct_id, "username": username, "password": password, "lcid": LCID_CHINESE}
            page = self.client.send(RequestSpec("POST", LOGIN_PATH, json=body))
            answer = page.body if isinstance(page.body, dict) else {}
            if answer.get("LoginResultType") != 1 or not answer.get("KDSVCSessionId"):
                message = answer.get("Message") or "login refused"
                raise AuthError(f"Kingdee login to data centre {self.acct_id!r} failed: {message}", status=page.status, url=page.url)
            self._session = str(answer["KDSVCSessionId"])
        return self._session

    def query(self, data: dict[str, Any]) -> tuple[list[Any], str]:
        """One ExecuteBillQuery call; a lost session is renewed once."""
        for attempt in range(2):
            cookie = f"{SESSION_COOKIE}={self.session()}"
            page = self.client.send(RequestSpec("POST", QUERY_PATH, json={"data": data}, headers={"Cookie": cookie}))
            status = _status(page.body)
            if status is None:
                if not isinstance(page.body, list):
                    raise MalformedPageError("ExecuteBillQuery answer is not a list of rows", url=page.url, snippet=str(page.body)[:120])
                return page.body, page.url
            errors = status.get("Errors") or [{}]
            message = "; ".join(str(e.get("Message") or "") for e in errors if isinstance(e, dict)) or "error"
            if status.get("MsgCode") == SESSION_LOST and attempt == 0:
                self._session = None
                continue
            cls = AuthError if status.get("MsgCode") == SESSION_LOST else VendorApiError
            raise cls(f"Kingdee {data['FormId']}: {message}", status=page.status, url=page.url, vendor_code=str(status.get("ErrorCode")))
        raise AssertionError("unreachable")  # pragma: no cover

    # -- keyset paging
    def _id_literal(self, value: str) -> str:
        return value if id_order(value)[0] == 0 else "'" + value.replace("'", "''") + "'"

    def filter(self, after: Position | None, overlap: timedelta) -> str:
        field, extra = self.cursor_field, self.stream.where
        if self.strict(after, overlap):
            ts = kingdee_time(after.modified, self.zone)
            condition = f"({field} > '{ts}' OR ({field} = '{ts}' AND {self.id_field} > {self._id_literal(after.id)}))"
        else:
            lower = self.lower_bound(after, overlap)
            condition = f"{field} >= '{kingdee_time(lower, self.zone)}'" if lower is not None else ""
        return " AND ".join(part for part in (f"({extra})" if extra else "", condition) if part)

    def pages(self, after: Position | None, overlap: timedelta) -> Iterator[SourcePage]:
        limit = self.stream.page_size or 2000  # the documented maximum of Limit
        keys = list(dict.fromkeys([self.id_field, self.cursor_field, *self.stream.fields]))
        condition = self.filter(after, overlap)
        while True:
            data = {
                "FormId": self.stream.object,
                "FieldKeys": ",".join(keys),
                "FilterString": condition,
                "OrderString": f"{self.cursor_field} ASC,{self.id_field} ASC",
                "TopRowCount": 0,
                "StartRow": 0,
                "Limit": limit,
            }
            rows, url = self.query(data)
            records = []
            for index, row in enumerate(rows):
                if not isinstance(row, list) or len(row) != len(keys):
                    raise MalformedPageError(
                        f"row {index} does not have the {len(keys)} values of FieldKeys", url=url, snippet=str(row)[:120]
                    )
                records.append(nest(keys, row))
            yield SourcePage(records, url)
            if len(records) < limit:
                return
            condition = self.filter(self.position_of(records[-1]), timedelta(0))
