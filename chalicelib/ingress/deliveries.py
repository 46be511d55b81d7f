"""Splitting one verified delivery into InboundRecords, by the shape of the vendor's payload.

A HubSpot delivery is an array of events, a Salesforce outbound message up to 100
notifications, a Shopify delivery one resource. Each record gets its own dedupe
key (the vendor's event id where it has one, else a content hash) so re-delivery
is harmless downstream. Money stays exact: JSON numbers with a fraction become Decimal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from chalicelib.domain.inbound import InboundRecord, content_dedupe_key, event_dedupe_key
from chalicelib.errors import DeliveryError, UnsafeOrMalformedXml
from chalicelib.ingress.safe_xml import local_name, parse_xml
from chalicelib.ingress.verify.base import VerifiedDelivery
from chalicelib.ingress.webhook_config import (
    CallbackShape,
    GenericJsonShape,
    HubSpotShape,
    SalesforceOutboundShape,
    ShopifyShape,
    StandardWebhooksShape,
)

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
# HubSpot's generic ``object.*`` events name the type by id; the standard objects have fixed ids.
HUBSPOT_OBJECT_TYPE_IDS = {"0-1": "contact", "0-2": "company", "0-3": "deal", "0-5": "ticket", "0-7": "product", "0-8": "line_item"}
_MISSING = object()


# --- parsing helpers ----------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise DeliveryError(f"JSON contains {name}, which is not a number we accept")


def parse_json(body: bytes) -> Any:
    """Strict JSON: fractions as Decimal (money is never float), no NaN/Infinity."""
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
    except DeliveryError:
        raise
    except UnicodeDecodeError:
        raise DeliveryError("body is not UTF-8 JSON") from None
    except RecursionError:
        raise DeliveryError("JSON is nested too deeply") from None
    except ValueError as exc:
        raise DeliveryError(f"body is not valid JSON: {exc}") from None


def _xml(body: bytes) -> Any:
    try:
        return parse_xml(body)
    except UnsafeOrMalformedXml as exc:
        raise DeliveryError(str(exc)) from None


def path_get(document: Any, path: str | None) -> Any:
    """Follow a dotted path (``data.items.0.id``); ``$`` or empty is the document itself."""
    if path in (None, "", "$"):
        return document
    node = document
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _text_id(value: Any) -> str | None:
    if value is _MISSING or value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text or None


def _check_count(count: int, limit: int, what: str) -> None:
    if count > limit:
        raise DeliveryError(f"delivery holds {count} {what}; the limit is {limit} per delivery")


def _unique(records: Iterable[InboundRecord]) -> list[InboundRecord]:
    """Drop repeats of the same dedupe key inside one delivery (first one wins)."""
    seen: set[str] = set()
    kept: list[InboundRecord] = []
    for record in records:
        if record.dedupe_key not in seen:
            seen.add(record.dedupe_key)
            kept.append(record)
    return kept


def _record(
    connector: str,
    delivery: VerifiedDelivery,
    object_type: str,
    payload: dict[str, Any],
    dedupe_key: str,
    receipt_id: str | None,
    entity_hint: str | None,
) -> InboundRecord:
    return InboundRecord(
        connector=connector,
        object=object_type,
        payload=payload,
        dedupe_key=dedupe_key,
        received_at=delivery.request.received_at,
        via="webhook",
        receipt_id=receipt_id,
        entity_hint=entity_hint,
    )


# --- HubSpot -------------------------------------------------------------------------------------


def hubspot_object(event: dict[str, Any]) -> str:
    """``company.propertyChange`` → ``company``; generic ``object.*`` events by objectTypeId."""
    kind = event.get("subscriptionType") or event.get("eventType")
    if not isinstance(kind, str) or "." not in kind:
        raise DeliveryError(f"HubSpot event {event.get('eventId')!r} has no subscriptionType like 'contact.creation'")
    prefix = kind.split(".", 1)[0]
    if prefix == "object":
        type_id = _text_id(event.get("objectTypeId"))
        if type_id is None:
            raise DeliveryError(f"HubSpot event {event.get('eventId')!r} ({kind}) has no objectTypeId")
        return HUBSPOT_OBJECT_TYPE_IDS.get(type_id, type_id)
    return prefix


def split_hubspot(connector: str, shape: HubSpotShape, delivery: VerifiedDelivery, receipt_id: str | None) -> list[InboundRecord]:
    events = parse_json(delivery.body)
    if not isinstance(events, list):
        raise DeliveryError("HubSpot delivery must be a JSON array of events")
    _check_count(len(events), shape.max_records, "events")
    for position, event in enumerate(events):
        if not isinstance(event, dict):
            raise DeliveryError(f"HubSpot event #{position} is not an object")
        if _text_id(event.get("eventId")) is None:
            raise DeliveryError(f"HubSpot event #{position} has no eventId")
    # The array is not ordered by time; apply each entity's changes in source order.
    if all(isinstance(e.get("occurredAt"), int) for e in events):
        events = sorted(events, key=lambda e: e["occurredAt"])
    records = []
    for event in events:
        # eventId is documented as not globally unique: scope it by portal and subscription.
        scope = [_text_id(event.get("portalId")), _text_id(event.get("subscriptionId")), _text_id(event.get("eventId"))]
        key = event_dedupe_key(connector, ":".join(part for part in scope if part))
        records.append(_record(connector, delivery, hubspot_object(event), event, key, receipt_id, _text_id(event.get("objectId"))))
    return _unique(records)


# --- Salesforce Outbound Messaging ------------------------------------------------------------


def _element_value(element: Any) -> Any:
    if element.get(XSI_NIL) == "true":
        return None
    children = list(element)
    if children:
        return {local_name(child.tag): _element_value(child) for child in children}
    return element.text or ""


def split_salesforce_outbound(
    connector: str, shape: SalesforceOutboundShape, delivery: VerifiedDelivery, receipt_id: str | None
) -> list[InboundRecord]:
    root = _xml(delivery.body)
    notifications = root.find(f".//{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise DeliveryError("not a Salesforce outbound message: no <notifications> element")
    items = notifications.findall(f"{{{OUTBOUND_NS}}}Notification")
    _check_count(len(items), min(shape.max_records, 100), "notifications")
    records = []
    for position, item in enumerate(items):
        notification_id = _text_id(item.findtext(f"{{{OUTBOUND_NS}}}Id"))
        sobject = item.find(f"{{{OUTBOUND_NS}}}sObject")
        if notification_id is None or sobject is None:
            raise DeliveryError(f"Notification #{position} lacks its Id or sObject")
        xsi_type = sobject.get(XSI_TYPE) or ""
        object_type = xsi_type.rsplit(":", 1)[-1].strip()
        if not object_type:
            raise DeliveryError(f"Notification {notification_id}: sObject has no xsi:type")
        fields = {local_name(child.tag): _element_value(child) for child in sobject}
        key = event_dedupe_key(connector, notification_id)
        records.append(_record(connector, delivery, object_type, fields, key, receipt_id, _text_id(fields.get("Id"))))
    return _unique(records)


# --- Shopify -----------------------------------------------------------------------------------


def split_shopify(connector: str, shape: ShopifyShape, delivery: VerifiedDelivery, receipt_id: str | None) -> list[InboundRecord]:
    request = delivery.request
    topic = (request.header("X-Shopify-Topic") or "").strip()
    if not topic:
        raise DeliveryError("Shopify delivery has no X-Shopify-Topic header")
    resource = parse_json(delivery.body)
    if not isinstance(resource, dict):
        raise DeliveryError("Shopify delivery body must be a JSON object")
    object_type = topic.split("/", 1)[0]
    webhook_id = _text_id(request.header("X-Shopify-Webhook-Id"))
    event_id = _text_id(request.header("X-Shopify-Event-Id"))
    if webhook_id:
        key = event_dedupe_key(connector, webhook_id)
    elif event_id:
        # One merchant action can fire several topics with the same event id.
        key = event_dedupe_key(connector, f"{topic}:{event_id}")
    else:
        key = content_dedupe_key(connector, object_type, resource)
    return [_record(connector, delivery, object_type, resource, key, receipt_id, _text_id(resource.get("id")))]


# --- Standard Webhooks and generic JSON --------------------------------------------------------


def _object_of(shape: Any, record: dict[str, Any], position: int) -> str:
    if shape.object:
        return str(shape.object)
    value = _text_id(path_get(record, shape.object_path))
    if value is None:
        raise DeliveryError(f"record #{position} has no object type at '{shape.object_path}'")
    if shape.object_before and shape.object_before in value:
        value = value.split(shape.object_before, 1)[0]
    return value


def split_standard_webhooks(
    connector: str, shape: StandardWebhooksShape, delivery: VerifiedDelivery, receipt_id: str | None
) -> list[InboundRecord]:
    document = parse_json(delivery.body)
    if not isinstance(document, dict):
        raise DeliveryError("Standard Webhooks payload must be a JSON object")
    object_type = _object_of(shape, document, 0)
    request = delivery.request
    msg_id = _text_id(request.header("webhook-id") or request.header("svix-id"))
    key = event_dedupe_key(connector, msg_id) if msg_id else content_dedupe_key(connector, object_type, document)
    return [_record(connector, delivery, object_type, document, key, receipt_id, _text_id(path_get(document, "data.id")))]


def split_generic_json(connector: str, shape: GenericJsonShape, delivery: VerifiedDelivery, receipt_id: str | None) -> list[InboundRecord]:
    document = parse_json(delivery.body)
    if shape.records is not None:
        items = path_get(document, shape.records)
        if not isinstance(items, list):
            raise DeliveryError(f"expected an array of records at '{shape.records}'")
    else:
        items = [document]
    _check_count(len(items), shape.max_records, "records")
    records = []
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise DeliveryError(f"record #{position} is not a JSON object")
        payload = path_get(item, shape.payload) if shape.payload else item
        if not isinstance(payload, dict):
            raise DeliveryError(f"record #{position} has no object at '{shape.payload}'")
        object_type = _object_of(shape, item, position)
        event_id = _text_id(path_get(item, shape.event_id)) if shape.event_id else None
        key = event_dedupe_key(connector, event_id) if event_id else content_dedupe_key(connector, object_type, payload)
        hint = _text_id(path_get(item, shape.entity_id)) if shape.entity_id else None
        records.append(_record(connector, delivery, object_type, payload, key, receipt_id, hint))
    return _unique(records)


# --- WeCom / DingTalk --------------------------------------------------------------------------


def _callback_event(delivery: VerifiedDelivery) -> dict[str, Any]:
    if delivery.media_type == "application/xml":
        root = _xml(delivery.body)
        return {local_name(child.tag): _element_value(child) for child in root}
    event = parse_json(delivery.body)
    if not isinstance(event, dict):
        raise DeliveryError("decrypted callback is not a JSON object")
    return event


def split_callback(connector: str, shape: CallbackShape, delivery: VerifiedDelivery, receipt_id: str | None) -> list[InboundRecord]:
    event = _callback_event(delivery)
    if shape.object:
        object_type = shape.object
    elif shape.kind == "dingtalk":
        object_type = _text_id(event.get("EventType")) or ""
    else:
        msg_type = _text_id(event.get("MsgType"))
        object_type = (_text_id(event.get("Event")) if msg_type == "event" else msg_type) or ""
    if not object_type:
        raise DeliveryError(f"decrypted {shape.kind} callback names no event type")
    msg_id = _text_id(event.get("MsgId"))
    key = event_dedupe_key(connector, msg_id) if msg_id else content_dedupe_key(connector, object_type, event)
    return [_record(connector, delivery, object_type, event, key, receipt_id, None)]


_SPLITTERS: dict[str, Callable[[str, Any, VerifiedDelivery, str | None], list[InboundRecord]]] = {
    "hubspot": split_hubspot,
    "salesforce_outbound": split_salesforce_outbound,
    "shopify": split_shopify,
    "standard_webhooks": split_standard_webhooks,
    "generic_json": split_generic_json,
    "wecom": split_callback,
    "dingtalk": split_callback,
}


def split_delivery(connector: str, shape: Any, delivery: VerifiedDelivery, receipt_id: str | None = None) -> list[InboundRecord]:
    """All records of one verified delivery; a handshake (URL check) yields none."""
    if delivery.handshake:
        return []
    if shape is None:
        raise DeliveryError(f"connector {connector!r} declares no webhook payload shape")
    return _SPLITTERS[shape.kind](connector, shape, delivery, receipt_id)
