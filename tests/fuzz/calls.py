"""Hypothesis strategies for requests anyone can send: to the door of every connector and to every operator route.

Door calls are signed with the local stack's secrets most of the time, so fuzzed bodies get past
verification and reach splitting, the queue and the processor; the rest are unsigned, forged, sent
to names that are not connectors, with other methods or media types. Operator calls reach every
route with the admin token (sometimes a wrong one), fuzzed query parameters and bodies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from local.seed import LOCAL_PARAMETERS

ADMIN_TOKEN = "fuzz-admin-token"
DEMO_SECRET = LOCAL_PARAMETERS["/salesbridge/demo_crm/webhook-secret"]
SHOPIFY_SECRET = LOCAL_PARAMETERS["/salesbridge/shopify/webhook-secret"]
SALESFORCE_TOKEN = LOCAL_PARAMETERS["/salesbridge/salesforce/outbound-token"]
CONNECTORS = ["demo_crm", "shopify", "hubspot", "salesforce"]


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # the route's path with its parameters filled in
    resource: str  # the route as declared ("/webhooks/{connector}")
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def at_the_door(self) -> bool:
        return self.resource == "/webhooks/{connector}"

    def describe(self) -> str:
        body = self.body[:160].decode("utf-8", errors="replace")
        more = f" …(+{len(self.body) - 160} bytes)" if len(self.body) > 160 else ""
        return f"{self.method} {self.path[:120]} query={json.dumps(self.query)[:160]} body={body!r}{more}"


# --------------------------------------------------------------------------- values
texts = st.text(max_size=40)
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)
numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.decimals(allow_nan=False, allow_infinity=False, places=None).map(lambda d: d if d.is_finite() else Decimal(0)),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["1e300", "1e-300", "-0", "12.50", "1" * 40, "0x10", "NaN"]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4), max_leaves=12)


def _json(value: Any) -> bytes:
    return json.dumps(value, default=str, ensure_ascii=False).encode("utf-8", errors="surrogatepass")


# --------------------------------------------------------------------------- the door
@st.composite
def demo_records(draw: st.DrawFn) -> bytes:
    """A demo CRM delivery: usually its real shape with fuzzed values, sometimes any JSON."""
    if draw(st.integers(0, 9)) == 0:
        return _json(draw(json_values))
    customer: dict[str, Any] = {
        "id": draw(st.one_of(st.just("C-1001"), texts, numbers)),
        "name": draw(st.one_of(st.just("Acme Trading"), texts, json_values)),
        "tier": draw(st.one_of(st.sampled_from(["Gold", "Silver", "Titanium", ""]), texts, numbers)),
        "email": draw(st.one_of(st.just("buyer@acme.example"), texts)),
        "updated_at": draw(st.one_of(st.just("2026-11-01T08:00:00+08:00"), texts, numbers)),
    }
    if draw(st.booleans()):
        customer["credit_limit"] = draw(numbers)
    for key in draw(st.lists(st.sampled_from(list(customer)), max_size=2)):
        customer.pop(key, None)
    extra = draw(st.dictionaries(texts, json_values, max_size=2))
    body: dict[str, Any] = {"event_id": draw(st.one_of(st.uuids().map(str), texts, numbers)), "customer": customer, **extra}
    return _json(body)


@st.composite
def shopify_orders(draw: st.DrawFn) -> bytes:
    line_items = draw(st.lists(st.fixed_dictionaries({"id": numbers, "quantity": numbers, "price": numbers, "sku": texts}), max_size=4))
    order = {"id": draw(st.one_of(numbers, texts)), "updated_at": draw(texts), "currency": draw(texts), "line_items": line_items}
    return _json(order)


def _signed(connector: str, body: bytes, headers: dict[str, str], query: dict[str, str]) -> None:
    if connector == "demo_crm":
        headers["X-Demo-Signature"] = "sha256=" + hmac.new(DEMO_SECRET.encode(), body, hashlib.sha256).hexdigest()
    elif connector == "shopify":
        digest = hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()
        headers["X-Shopify-Hmac-Sha256"] = base64.b64encode(digest).decode()
        headers["X-Shopify-Webhook-Id"] = hashlib.sha256(body).hexdigest()
        headers["X-Shopify-Topic"] = "orders/updated"
    elif connector == "salesforce":
        query["token"] = SALESFORCE_TOKEN


SOAP = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    '<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{org}</OrganizationId>'
    '<Notification><Id>{nid}</Id><sObject xmlns:sf="urn:sobject.enterprise.soap.sforce.com" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="sf:Account"><sf:Id>{sid}</sf:Id>'
    "<sf:Name>{name}</sf:Name></sObject></Notification></notifications></soapenv:Body></soapenv:Envelope>"
)


@st.composite
def door_calls(draw: st.DrawFn) -> Call:
    from xml.sax.saxutils import escape

    connector = draw(st.sampled_from(CONNECTORS)) if draw(st.integers(0, 9)) else draw(names)
    headers: dict[str, str] = {"Content-Type": draw(st.one_of(st.sampled_from(["application/json", "text/xml", "text/plain"]), texts))}
    query: dict[str, str] = {}
    if connector == "salesforce":
        headers["Content-Type"] = "text/xml; charset=utf-8"
        org = draw(st.sampled_from(["00D000000000062", "00D000000000062EAA", "00D000000000099", ""]))
        values = [escape(draw(texts)) for _ in range(3)]
        body = SOAP.format(org=org, nid=values[0], sid=values[1], name=values[2]).encode()
    elif connector == "shopify":
        body = draw(shopify_orders())
    else:
        body = draw(demo_records())
    if draw(st.integers(0, 9)) == 0:
        body = draw(st.binary(max_size=200))
    how = draw(st.sampled_from(["signed"] * 7 + ["forged", "unsigned", "other"]))
    if how == "signed":
        _signed(connector, body, headers, query)
    elif how == "forged":
        _signed(connector, body + b" ", headers, query)
        query = {k: v + "x" for k, v in query.items()}
    method = "POST" if how != "other" else draw(st.sampled_from(["GET", "PUT", "DELETE", "PATCH"]))
    if how == "other" and draw(st.booleans()):
        method, headers["Content-Type"] = "POST", draw(st.sampled_from(["image/png", "multipart/form-data", "application/octet-stream"]))
    return Call(method, f"/webhooks/{connector}", "/webhooks/{connector}", {"connector": connector}, query, headers, body)


# --------------------------------------------------------------------------- the operator routes
QUERY_KEYS = ["next", "limit", "day", "from", "to", "entity", "source", "correlation", "connector", "status", "type", "since", "subject"]
QUERY_VALUES = st.one_of(
    texts,
    st.sampled_from(["demo_crm/customer/C-1001", "customer#cus_1", "2026-11-25", "open", "dead", "10", "-1", "0", "9" * 30]),
    st.sampled_from(["eyJwayI6eyJTIjoxfX0=", "e30=", "eyJwayI6eyJNIjp7fX19"]),  # forged cursors, as found
)


@st.composite
def operator_calls(draw: st.DrawFn, routes: list[tuple[str, str]]) -> Call:
    method, resource = draw(st.sampled_from(routes))
    params = {}
    path = resource
    for part in resource.split("/"):
        if part.startswith("{"):
            value = draw(
                st.one_of(st.sampled_from(["demo_crm_customer", "q_missing", "x"]), st.text(st.characters(codec="ascii"), min_size=1))
            )
            params[part.strip("{}")] = value
            path = path.replace(part, value)
    query = draw(st.dictionaries(st.sampled_from(QUERY_KEYS), QUERY_VALUES, max_size=4))
    body = b""
    if method in ("POST", "PUT"):
        body = draw(st.one_of(json_values.map(_json), st.binary(max_size=120)))
    token = draw(st.sampled_from([ADMIN_TOKEN] * 9 + ["wrong"]))
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    return Call(method, path, resource, params, query, headers, body)
