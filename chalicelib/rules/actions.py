"""Actions: what a fired event makes salesbridge write into a connected system (a reverse mapping).

An action names the event types it acts on, the system it writes to and how (create a
Salesforce Task, update a field, a HubSpot task or note, an Odoo activity, a 企业微信 / 钉钉
message to a person), and a ``fields:`` mapping in the mapping language turned around: each
vendor field takes a ``path``, a ``value`` or an ``expr`` over the event, with ``transforms``.

A request is rendered here, purely (``Action.render``): the dry run shows it, the dispatcher
(chalicelib/dispatch/actions.py) sends it. Every request carries an *idempotency key* derived
from the event id and the action name, once per (event, action): created records carry it in a
marker ``[sb:<rule>:<key>]`` in a text field (the vendor is asked for a record with that marker
before creating one, so a crash after the vendor accepted never creates a second one), or as
the external id of an upsert. The marker also tells the rules that a record coming back was
written by salesbridge for that rule (the loop guard).

The document the paths and expressions read::

    {"event": {...the CloudEvent...}, "id": …, "type": …, "time": …, "data": {...},
     "subject": {...the subject's golden fields..., "id": …, "source_ids": {system: record id}},
     "idempotency_key": …}
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from chalicelib.domain.expressions import Expression, compile_expression
from chalicelib.errors import DeliveryFailed, EvaluationError, ValueProblem
from chalicelib.mapping.paths import MISSING
from chalicelib.mapping.transforms import Transform
from chalicelib.rules.model import Origin
from chalicelib.runtime.secrets import SecretRef

Kind = Literal["salesforce", "hubspot", "odoo", "wecom", "dingtalk"]
DOCUMENT_NAMES = ("event", "id", "type", "time", "data", "subject", "idempotency_key")
MARKER = re.compile(r"\[sb:([a-z][a-z0-9_.]*):([0-9a-f]{12})\]")
WECOM_ROBOT_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
DINGTALK_ROBOT_URL = "https://oapi.dingtalk.com/robot/send"
# HubSpot's default association type ids (CRM v4 "HUBSPOT_DEFINED"): (object created, associated with) -> id
HUBSPOT_ASSOCIATIONS = {
    ("tasks", "contacts"): 204,
    ("tasks", "companies"): 192,
    ("tasks", "deals"): 216,
    ("notes", "contacts"): 202,
    ("notes", "companies"): 190,
    ("notes", "deals"): 214,
}
MARKER_FIELDS = {  # where a created record carries its marker, unless the action names a field
    ("salesforce", "Task"): "Subject",
    ("salesforce", "Event"): "Subject",
    ("hubspot", "tasks"): "hs_task_subject",
    ("hubspot", "notes"): "hs_note_body",
    ("odoo", "schedule_activity"): "summary",
    ("wecom", "message"): "content",
    ("dingtalk", "message"): "content",
}

Reader = Callable[[dict[str, Any]], Any]


def idempotency_key(event_id: str, action: str) -> str:
    """The same (event, action) always gets the same key: the vendor sees one request, however often it is sent."""
    return hashlib.sha256(f"{event_id}\x1f{action}".encode()).hexdigest()[:12]


def marker(origin: str, key: str) -> str:
    return f"[sb:{origin}:{key}]"


def markers_in(values: Any) -> set[str]:
    """The rule names in the write-back markers found in a record's text values."""
    found: set[str] = set()
    if isinstance(values, str):
        if "[sb:" in values:
            found.update(m.group(1) for m in MARKER.finditer(values))
    elif isinstance(values, dict):
        for value in values.values():
            found |= markers_in(value)
    elif isinstance(values, list):
        for value in values:
            found |= markers_in(value)
    return found


def subject_of(event: dict[str, Any]) -> tuple[str, str] | None:
    """The (entity, canonical id) an event is about, when its data names it (every rule event does)."""
    data = event.get("data") or {}
    if data.get("entity") and data.get("id"):
        return str(data["entity"]), str(data["id"])
    if data.get("key_field") and data.get("key") and str(data["key_field"]).endswith("_id"):  # a window per customer_id, ...
        return str(data["key_field"]).removesuffix("_id"), str(data["key"])
    return None


def subject_document(golden: dict[str, Any] | None, entity: str, entity_id: str) -> dict[str, Any]:
    """What an action reads as ``subject``: the golden fields, its id, and its record id in each system."""
    golden = golden or {}
    sources = golden.get("sources") or {}
    source_ids: dict[str, str] = {}
    for key, member in sorted(sources.items(), key=lambda item: str(item[1].get("time") or "")):  # the newest member per system wins
        system = str(member.get("system") or key.split("/", 1)[0])
        if member.get("record_id"):
            source_ids[system] = str(member["record_id"])
    return {**(golden.get("fields") or {}), "entity": entity, "id": entity_id, "source_ids": source_ids}


@dataclass(frozen=True)
class ValueReader:
    """One vendor field of the reverse mapping: read (path, value or expression), then transforms."""

    name: str
    read: Reader
    steps: tuple[Transform, ...] = ()
    text: str = ""

    def __call__(self, document: dict[str, Any]) -> Any:
        value = self.read(document)
        if value is MISSING:
            return MISSING
        try:
            for step in self.steps:
                if value is None:
                    break
                value = step(value)
        except ValueProblem as exc:
            raise DeliveryFailed(f"field {self.name} ({self.text}): {exc.message}", retryable=False) from None
        return value


def expression_reader(expression: Expression, text: str) -> Reader:
    def evaluate(document: dict[str, Any]) -> Any:
        try:
            return expression(document)
        except EvaluationError as exc:
            raise DeliveryFailed(f"expression {text!r} failed: {exc}", retryable=False) from None

    return evaluate


def compile_reader_expression(text: str) -> Expression:
    return compile_expression(text, DOCUMENT_NAMES)


@dataclass
class ActionRequest:
    """One request an action sends (the dry run shows it; the dispatcher sends it)."""

    action: str
    kind: Kind
    operation: str  # create | upsert | update | schedule_activity | message
    method: str
    path: str  # below the connector's base URL (robots: the robot's URL)
    body: Any
    key: str
    marker: str | None = None
    lookup: dict[str, Any] | None = None  # how to ask the vendor whether this request already landed
    echo: dict[str, Any] | None = None  # an update: which vendor record and fields will come back changed
    connector: str | None = None

    def view(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "action": self.action,
            "kind": self.kind,
            "operation": self.operation,
            "connector": self.connector,
            "method": self.method,
            "path": self.path,
            "body": _json(self.body),
            "idempotency_key": self.key,
        }
        if self.marker:
            shown["marker"] = self.marker
        if self.lookup:
            shown["lookup"] = _json(self.lookup)
        if self.echo:
            shown["loop_guard"] = _json(self.echo)
        return shown


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class Action:
    name: str
    types: tuple[str, ...]
    kind: Kind
    operation: str
    target: str  # sObject, HubSpot object type, Odoo model; "" for messages
    connector: str | None
    fields: tuple[ValueReader, ...]
    origin: Origin
    record_id: ValueReader | None = None  # updates, Odoo activities: the vendor record
    associations: tuple[tuple[str, ValueReader], ...] = ()
    mentions: tuple[tuple[str, ValueReader], ...] = ()  # robots: (mentioned_list | mentioned_mobile_list, reader)
    marker_field: str | None = None
    external_id_field: str | None = None
    robot_url: str | None = None
    robot_key: SecretRef | None = None  # wecom key= / dingtalk access_token
    robot_secret: SecretRef | None = None  # dingtalk 加签
    examples: tuple[Any, ...] = field(default=(), compare=False)

    def wants(self, event_type: str) -> bool:
        return "*" in self.types or event_type in self.types

    @property
    def target_name(self) -> str:
        """Its name among an event's delivery targets (beside the subscribers)."""
        return f"action:{self.name}"

    def document(self, event: dict[str, Any], subject: dict[str, Any]) -> dict[str, Any]:
        key = idempotency_key(str(event["id"]), self.name)
        return {
            "event": event,
            "id": event.get("id"),
            "type": event.get("type"),
            "time": event.get("time"),
            "data": event.get("data") or {},
            "subject": subject,
            "idempotency_key": key,
        }

    def render(self, event: dict[str, Any], subject: dict[str, Any], api_version: str | None = None) -> ActionRequest:
        """The request for this event; raises DeliveryFailed (not retryable) when it cannot be built."""
        document = self.document(event, subject)
        key = str(document["idempotency_key"])
        origin = str((event.get("data") or {}).get("rule") or event.get("type") or self.name)
        mark = marker(origin, key)
        values = {f.name: value for f in self.fields if (value := f(document)) is not MISSING}
        if self.marker_field and self.operation != "update":
            current = values.get(self.marker_field)
            values[self.marker_field] = f"{current} {mark}" if current not in (None, "") else mark
        render = _RENDERERS[self.kind]
        request = render(self, document, values, key, mark, api_version)
        request.marker = mark if self.marker_field and self.operation != "update" else None
        return request

    def required_id(self, document: dict[str, Any]) -> str:
        value = self.record_id(document) if self.record_id is not None else MISSING
        if value in (None, "", MISSING):
            raise DeliveryFailed(
                f"action {self.name}: the record to write has no id ({self.record_id.text if self.record_id else ''})", retryable=False
            )
        return str(value)


# ----------------------------------------------------------------------------- per vendor


def _salesforce(
    action: Action, document: dict[str, Any], values: dict[str, Any], key: str, mark: str, version: str | None
) -> ActionRequest:
    base = f"/services/data/{version or 'v60.0'}"
    if action.operation == "update":
        record = action.required_id(document)
        return ActionRequest(
            action.name,
            "salesforce",
            "update",
            "PATCH",
            f"{base}/sobjects/{action.target}/{record}",
            values,
            key,
            connector=action.connector,
            echo={"record": record, "fields": sorted(values)},
        )
    if action.external_id_field:
        body = {k: v for k, v in values.items() if k != action.external_id_field}
        path = f"{base}/sobjects/{action.target}/{action.external_id_field}/{key}"
        return ActionRequest(action.name, "salesforce", "upsert", "PATCH", path, body, key, connector=action.connector)
    soql = f"SELECT Id FROM {action.target} WHERE {action.marker_field} LIKE '%{key}%'"
    lookup = {"method": "GET", "path": f"{base}/query", "params": {"q": soql}}
    return ActionRequest(
        action.name,
        "salesforce",
        "create",
        "POST",
        f"{base}/sobjects/{action.target}",
        values,
        key,
        lookup=lookup,
        connector=action.connector,
    )


def _hubspot(action: Action, document: dict[str, Any], values: dict[str, Any], key: str, mark: str, version: str | None) -> ActionRequest:
    if action.operation == "update":
        record = action.required_id(document)
        path = f"/crm/v3/objects/{action.target}/{record}"
        return ActionRequest(
            action.name,
            "hubspot",
            "update",
            "PATCH",
            path,
            {"properties": values},
            key,
            connector=action.connector,
            echo={"record": record, "fields": sorted(values)},
        )
    associations = []
    for other, reader in action.associations:
        target = reader(document)
        if target in (None, "", MISSING):
            continue
        type_id = HUBSPOT_ASSOCIATIONS[(action.target, other)]
        associations.append(
            {"to": {"id": str(target)}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]}
        )
    body: dict[str, Any] = {"properties": values}
    if associations:
        body["associations"] = associations
    search = {
        "filterGroups": [{"filters": [{"propertyName": action.marker_field, "operator": "CONTAINS_TOKEN", "value": f"*{key}*"}]}],
        "properties": [action.marker_field],
        "limit": 1,
    }
    lookup = {"method": "POST", "path": f"/crm/v3/objects/{action.target}/search", "json": search}
    return ActionRequest(
        action.name, "hubspot", "create", "POST", f"/crm/v3/objects/{action.target}", body, key, lookup=lookup, connector=action.connector
    )


def _odoo(action: Action, document: dict[str, Any], values: dict[str, Any], key: str, mark: str, version: str | None) -> ActionRequest:
    record = action.required_id(document)
    record_id: int | str = int(record) if record.isdigit() else record
    if action.operation == "update":
        call = {"model": action.target, "method": "write", "args": [[record_id], values], "kwargs": {}}
        return ActionRequest(
            action.name,
            "odoo",
            "update",
            "POST",
            "/jsonrpc",
            call,
            key,
            connector=action.connector,
            echo={"record": record, "fields": sorted(values)},
        )
    call = {"model": action.target, "method": "activity_schedule", "args": [[record_id]], "kwargs": values}
    domain = [["res_model", "=", action.target], ["res_id", "=", record_id], [action.marker_field, "ilike", key]]
    lookup = {"model": "mail.activity", "method": "search_read", "args": [domain], "kwargs": {"fields": ["id"], "limit": 1}}
    return ActionRequest(action.name, "odoo", "schedule_activity", "POST", "/jsonrpc", call, key, lookup=lookup, connector=action.connector)


def _mention_lists(action: Action, document: dict[str, Any]) -> dict[str, list[str]]:
    lists: dict[str, list[str]] = {}
    for name, reader in action.mentions:
        value = reader(document)
        if value in (None, "", MISSING):
            continue
        items = value if isinstance(value, list) else [value]
        lists.setdefault(name, []).extend(str(v) for v in items if v not in (None, ""))
    return lists


def _wecom(action: Action, document: dict[str, Any], values: dict[str, Any], key: str, mark: str, version: str | None) -> ActionRequest:
    text: dict[str, Any] = {"content": str(values.get("content", ""))}
    text.update(_mention_lists(action, document))
    return ActionRequest(
        action.name, "wecom", "message", "POST", action.robot_url or WECOM_ROBOT_URL, {"msgtype": "text", "text": text}, key
    )


def _dingtalk(action: Action, document: dict[str, Any], values: dict[str, Any], key: str, mark: str, version: str | None) -> ActionRequest:
    lists = _mention_lists(action, document)
    mobiles = lists.get("mentioned_mobile_list", [])
    at = {"atMobiles": mobiles, "atUserIds": lists.get("mentioned_list", []), "isAtAll": False}
    content = str(values.get("content", ""))
    shown = " ".join(f"@{m}" for m in mobiles)  # DingTalk shows the mention only when the text names it
    body = {"msgtype": "text", "text": {"content": f"{content} {shown}".strip()}, "at": at}
    return ActionRequest(action.name, "dingtalk", "message", "POST", action.robot_url or DINGTALK_ROBOT_URL, body, key)


_RENDERERS: dict[str, Callable[[Action, dict[str, Any], dict[str, Any], str, str, str | None], ActionRequest]] = {
    "salesforce": _salesforce,
    "hubspot": _hubspot,
    "odoo": _odoo,
    "wecom": _wecom,
    "dingtalk": _dingtalk,
}
