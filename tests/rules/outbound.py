"""Salesforce Outbound Messages as the org sends them (SOAP), for the rules' end-to-end tests."""

from __future__ import annotations

import itertools
from typing import Any
from xml.sax.saxutils import escape

ORG = "00D000000000062EAA"
TOKEN = "local-salesforce-token"  # local/seed.py puts it in the stand-in's SSM
_NOTIFICATION_IDS = itertools.count(1)


def message(sobject: str, **fields: Any) -> bytes:
    """One notification about one sObject; every value as text, as Salesforce sends it."""
    values = "".join(f"<sf:{name}>{escape(str(value))}</sf:{name}>" for name, value in fields.items() if value is not None)
    notification = f"04l1I{next(_NOTIFICATION_IDS):013d}"
    return f"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound">
<OrganizationId>{ORG}</OrganizationId><ActionId>04k1I000000bmsHQAQ</ActionId>
<Notification><Id>{notification}</Id>
<sObject xsi:type="sf:{sobject}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">{values}</sObject>
</Notification></notifications></soapenv:Body></soapenv:Envelope>""".encode()


def post(client: Any, sobject: str, **fields: Any) -> Any:
    response = client.http.post(
        f"/webhooks/salesforce?token={TOKEN}",
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
        body=message(sobject, **fields),
    )
    assert response.status_code == 200, response.body
    return response
