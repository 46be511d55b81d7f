"""Splitting verified deliveries into InboundRecords.

Payloads: HubSpot docs contact.creation array (developers.hubspot.com/docs/faq/v1-request-validation),
aspnet/WebHooks Salesforce outbound-message fixture, Shopify docs products/update example
(shopify.dev/docs/apps/build/webhooks/delivery-structure), Standard Webhooks spec "Full payload",
Square SDK webhooks.test_notification, stripe-dotnet event_test_signature.json — see fixtures/vendors/*/SOURCES.md.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from chalicelib.errors import DeliveryError
from chalicelib.ingress.deliveries import split_delivery
from chalicelib.ingress.verify import VerifiedDelivery
from chalicelib.ingress.webhook_config import GenericJsonShape, HubSpotShape, SalesforceOutboundShape, ShopifyShape
from tests.ingress.conftest import config, request, vendor_bytes


def delivered(body: bytes, headers=None, media_type="application/json", handshake=False) -> VerifiedDelivery:
    return VerifiedDelivery(request(body, headers), "test", body, media_type=media_type, handshake=handshake)


def hubspot_event(event_id, object_id, occurred, kind="company.propertyChange", **extra):
    return {
        "eventId": event_id,
        "subscriptionId": 7,
        "portalId": 62515,
        "occurredAt": occurred,
        "subscriptionType": kind,
        "objectId": object_id,
        **extra,
    }


def test_hubspot_docs_array():
    [record] = split_delivery("hubspot", HubSpotShape(), delivered(vendor_bytes("hubspot/contact_creation_webhook_body.json")), "rcpt-1")
    assert record.object == "contact" and record.entity_hint == "123" and record.receipt_id == "rcpt-1"
    assert record.dedupe_key == "hubspot:62515:12345:1" and record.payload["changeFlag"] == "NEW" and record.via == "webhook"


def test_hubspot_out_of_order_events_sorted_and_duplicates_dropped():
    events = [
        hubspot_event(3, 1, 3000, propertyValue="A"),
        hubspot_event(1, 1, 1000),
        hubspot_event(2, 2, 2000, "deal.creation"),
        hubspot_event(1, 1, 1000),
    ]
    records = split_delivery("hs", HubSpotShape(), delivered(json.dumps(events).encode()))
    assert [r.payload["eventId"] for r in records] == [1, 2, 3]
    assert [r.object for r in records] == ["company", "deal", "company"]


def test_hubspot_redelivery_gives_the_same_keys():
    body = json.dumps([hubspot_event(9, 5, 10, attemptNumber=0)]).encode()
    retry = json.dumps([hubspot_event(9, 5, 10, attemptNumber=1)]).encode()
    first = split_delivery("hs", HubSpotShape(), delivered(body))
    second = split_delivery("hs", HubSpotShape(), delivered(retry))
    assert first[0].dedupe_key == second[0].dedupe_key


def test_hubspot_generic_object_events_use_object_type_id():
    events = [
        hubspot_event(1, 1, 1, "object.propertyChange", objectTypeId="0-3"),
        hubspot_event(2, 1, 1, "object.creation", objectTypeId="2-123"),
    ]
    assert [r.object for r in split_delivery("hs", HubSpotShape(), delivered(json.dumps(events).encode()))] == ["deal", "2-123"]


@pytest.mark.parametrize(
    "body,message",
    [
        (b'{"eventId": 1}', "JSON array"),
        (b"[1]", "not an object"),
        (b'[{"subscriptionType": "company.creation"}]', "no eventId"),
        (b'[{"eventId": 1, "subscriptionType": "nodot"}]', "subscriptionType"),
        (b'[{"eventId": 1', "not valid JSON"),
        (b'[{"eventId": NaN}]', "NaN"),
        (b'["caf\xe9"]', "UTF-8"),
        (b"[" * 100000 + b"]" * 100000, "JSON"),
    ],
)
def test_hubspot_malformed(body, message):
    with pytest.raises(DeliveryError, match=message):
        split_delivery("hs", HubSpotShape(), delivered(body))


def test_record_limit():
    events = [hubspot_event(i, i, i) for i in range(11)]
    with pytest.raises(DeliveryError, match="11 events; the limit is 10"):
        split_delivery("hs", HubSpotShape(max_records=10), delivered(json.dumps(events).encode()))
    assert len(split_delivery("hs", HubSpotShape(max_records=11), delivered(json.dumps(events).encode()))) == 11


def test_salesforce_notifications_become_records():
    records = split_delivery(
        "sf", SalesforceOutboundShape(), delivered(vendor_bytes("salesforce/outbound_message.xml"), media_type="application/xml")
    )
    assert [r.dedupe_key for r in records] == ["sf:04l1I000000fztEQAQ", "sf:04l1I000000fzt9QAA"]
    assert {r.object for r in records} == {"Contact"}
    assert records[1].payload == {
        "Id": "0031I0000081tb0QAA",
        "CreatedDate": "2017-12-11T21:44:55.000Z",
        "Email": "drb24@cornell.edu",
        "FirstName": "Doug",
        "LastName": "Bunting",
        "Title": "Supreme Being",
    }
    assert records[0].entity_hint == "0031I0000081tbPQAQ"


def test_salesforce_nil_fields_and_too_many_notifications():
    base = vendor_bytes("salesforce/outbound_message.xml")
    nil = base.replace(b"<sf:Title>White</sf:Title>", b'<sf:Title xsi:nil="true"/>')
    assert split_delivery("sf", SalesforceOutboundShape(), delivered(nil))[0].payload["Title"] is None
    start, end = base.index(b"<Notification>"), base.index(b"</Notification>") + len(b"</Notification>")
    last = base.rindex(b"</Notification>") + len(b"</Notification>")
    many = base[:start] + base[start:end] * 101 + base[last:]
    with pytest.raises(DeliveryError, match="101 notifications"):
        split_delivery("sf", SalesforceOutboundShape(), delivered(many))


def test_salesforce_hostile_xml_refused_in_splitting_too():
    with pytest.raises(DeliveryError, match="DTDs and entities"):
        split_delivery("sf", SalesforceOutboundShape(), delivered(b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'))
    with pytest.raises(DeliveryError, match="lacks its Id"):
        bad = vendor_bytes("salesforce/outbound_message.xml").replace(b"<Id>04l1I000000fztEQAQ</Id>", b"")
        split_delivery("sf", SalesforceOutboundShape(), delivered(bad))


def test_shopify_one_resource_with_decimal_money():
    headers = {
        "X-Shopify-Topic": "products/update",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
    }
    body = vendor_bytes("shopify/products_update_example.json")
    [record] = split_delivery("shop", ShopifyShape(), delivered(body, headers))
    assert record.object == "products" and record.entity_hint == "9554194432293"
    assert record.dedupe_key == "shop:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    priced = split_delivery("shop", ShopifyShape(), delivered(b'{"id": 1, "total_price": 19.90}', headers))[0]
    assert priced.payload["total_price"] == Decimal("19.90") and isinstance(priced.payload["total_price"], Decimal)


def test_shopify_event_id_fallback_keeps_topics_apart_and_topic_required():
    body = b'{"id": 1}'
    create = split_delivery("shop", ShopifyShape(), delivered(body, {"X-Shopify-Topic": "orders/create", "X-Shopify-Event-Id": "e1"}))[0]
    update = split_delivery("shop", ShopifyShape(), delivered(body, {"X-Shopify-Topic": "orders/updated", "X-Shopify-Event-Id": "e1"}))[0]
    assert create.dedupe_key != update.dedupe_key and create.object == "orders"
    with pytest.raises(DeliveryError, match="X-Shopify-Topic"):
        split_delivery("shop", ShopifyShape(), delivered(body))
    with pytest.raises(DeliveryError, match="JSON object"):
        split_delivery("shop", ShopifyShape(), delivered(b"[]", {"X-Shopify-Topic": "orders/create"}))


def test_standard_webhooks_default_shape():
    shape = config({"scheme": "standard_webhooks", "secrets": [{"env": "X"}]}).shape()
    body = vendor_bytes("standard_webhooks/contact_created_full.json")
    [record] = split_delivery("sw", shape, delivered(body, {"webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"}))
    assert record.object == "contact" and record.dedupe_key == "sw:msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
    assert record.entity_hint == "1f81eb52-5198-4599-803e-771906343485"


def test_square_and_stripe_default_shapes():
    square = config({"scheme": "square", "secrets": [{"env": "X"}]}).shape()
    [record] = split_delivery("sq", square, delivered(vendor_bytes("square/webhooks_test_notification.json")))
    assert record.dedupe_key == "sq:ac3ac95b-f97d-458c-a6e6-18981597e05f" and record.object == "webhooks"
    stripe = config({"scheme": "stripe_style", "secrets": [{"env": "X"}]}).shape()
    [record] = split_delivery("st", stripe, delivered(vendor_bytes("stripe/event_test_signature.json")))
    assert (record.dedupe_key, record.object, record.entity_hint) == ("st:evt_123", "customer", "cus_123")


def test_generic_json_records_array_and_content_hash():
    shape = GenericJsonShape(records="data.sales", object="sale", entity_id="sale_no", event_id="event.id")
    body = json.dumps(
        {"data": {"sales": [{"sale_no": "S1", "amount": "1.00", "event": {"id": "e1"}}, {"sale_no": "S2", "qty": 2}]}}
    ).encode()
    records = split_delivery("pos", shape, delivered(body))
    assert [r.dedupe_key for r in records][0] == "pos:e1" and records[1].dedupe_key.startswith("sha256:")
    again = split_delivery("pos", shape, delivered(body))
    assert [r.dedupe_key for r in again] == [r.dedupe_key for r in records]
    whole_array = GenericJsonShape(records="$", object_path="kind", payload="row")
    records = split_delivery("pos", whole_array, delivered(b'[{"kind": "stock", "row": {"sku": "A", "price": 1.5}}]'))
    assert records[0].object == "stock" and records[0].payload == {"sku": "A", "price": Decimal("1.5")}


@pytest.mark.parametrize(
    "shape,body,message",
    [
        (GenericJsonShape(records="items", object="x"), b'{"items": {}}', "array of records"),
        (GenericJsonShape(object_path="type"), b'{"id": 1}', "no object type"),
        (GenericJsonShape(records="$", object="x"), b"[1, 2]", "not a JSON object"),
        (GenericJsonShape(object="x", payload="data"), b'{"data": [1]}', "no object at"),
    ],
)
def test_generic_json_malformed(shape, body, message):
    with pytest.raises(DeliveryError, match=message):
        split_delivery("g", shape, delivered(body))


def test_handshake_and_missing_shape():
    assert split_delivery("d", HubSpotShape(), delivered(b"", handshake=True)) == []
    with pytest.raises(DeliveryError, match="declares no webhook payload shape"):
        split_delivery("g", config({"scheme": "generic_hmac", "header": "X", "secrets": [{"env": "X"}]}).shape(), delivered(b"{}"))


def test_wecom_and_dingtalk_decrypted_events():
    from chalicelib.ingress.webhook_config import CallbackShape

    xml = (
        "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName><CreateTime>1476422779</CreateTime>"
        "<MsgType>text</MsgType><Content>你好</Content><MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
    ).encode()
    [record] = split_delivery("wc", CallbackShape(kind="wecom"), delivered(xml, media_type="application/xml"))
    assert record.object == "text" and record.dedupe_key == "wc:1456453720" and record.payload["Content"] == "你好"
    event = b"<xml><MsgType>event</MsgType><Event>change_external_contact</Event><ChangeType>add_external_contact</ChangeType></xml>"
    assert (
        split_delivery("wc", CallbackShape(kind="wecom"), delivered(event, media_type="application/xml"))[0].object
        == "change_external_contact"
    )
    ding = b'{"EventType": "user_add_org", "UserId": ["u1"], "CorpId": "ding6ccabc44d2c8d38b"}'
    [record] = split_delivery("dt", CallbackShape(kind="dingtalk"), delivered(ding))
    assert record.object == "user_add_org" and record.dedupe_key.startswith("sha256:")
