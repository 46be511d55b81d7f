"""Salesforce Outbound Messaging: organisation allow-list, shared secret, SOAP ack, hardened XML.

Salesforce signs nothing, so there are no signature vectors. Payloads used:
- outbound_message.xml / outbound_message_wrong_org.xml / outbound_message_ack_response.xml: the
  aspnet/WebHooks functional-test fixtures (Salesforce.xml, Salesforce.BadSecret.xml, ResponseBodies/
  Salesforce.xml) @d9c06514 — fixtures/vendors/salesforce/SOURCES.md
"""

from __future__ import annotations

import pytest

from chalicelib.ingress.safe_xml import parse_xml
from chalicelib.ingress.verify import MalformedRequest, SignatureError, make_verifier
from tests.ingress.conftest import TableSecrets, config, request, vendor_bytes

MESSAGE = vendor_bytes("salesforce/outbound_message.xml")
WRONG_ORG = vendor_bytes("salesforce/outbound_message_wrong_org.xml")
ACK = vendor_bytes("salesforce/outbound_message_ack_response.xml")

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>&lol4;</OrganizationId></notifications>
</soapenv:Body></soapenv:Envelope>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>&xxe;</OrganizationId></notifications>
</soapenv:Body></soapenv:Envelope>"""


def salesforce(org_ids=("012345678901234",), shared_secret=None, secrets=None):
    section = {"scheme": "salesforce_outbound", "organization_ids": list(org_ids)}
    if shared_secret:
        section["shared_secret"] = shared_secret
    return make_verifier(config(section), TableSecrets(secrets or {}))


def test_allowed_org_gets_the_exact_soap_ack():
    delivery = salesforce().verify(request(MESSAGE, {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}))
    assert delivery.media_type == "application/xml" and delivery.reply is not None
    assert delivery.reply.content_type.startswith("text/xml")
    # Same document as the reference receiver's response body (aspnet/WebHooks ResponseBodies/Salesforce.xml).
    from xml.etree.ElementTree import tostring

    assert tostring(parse_xml(delivery.reply.body)) == tostring(parse_xml(ACK))


def test_eighteen_character_allow_list_entry_matches_fifteen_character_id():
    assert salesforce(["012345678901234AAA"]).verify(request(MESSAGE)).reply


def test_wrong_org_refused_with_soap_fault():
    # aspnet/WebHooks Salesforce.BadSecret.xml (starts with a UTF-8 BOM): org 0123456789ABCDENNN
    with pytest.raises(SignatureError) as err:
        salesforce().verify(request(WRONG_ORG))
    assert err.value.reason == "unknown_org" and err.value.status == 401
    assert b"<faultcode>soapenv:Client</faultcode>" in err.value.response.body


def test_missing_org():
    body = MESSAGE.replace(b"<OrganizationId>012345678901234</OrganizationId>", b"")
    with pytest.raises(SignatureError) as err:
        salesforce().verify(request(body))
    assert err.value.reason == "missing_org"


def test_shared_secret_in_header_and_query_with_rotation():
    header = salesforce(
        shared_secret={"header": "X-Salesbridge-Token", "secrets": [{"env": "NEW"}, {"env": "OLD"}]},
        secrets={"NEW": "n-token", "OLD": "o-token"},
    )
    assert header.verify(request(MESSAGE, {"x-salesbridge-token": "o-token"})).secret_index == 1
    with pytest.raises(SignatureError) as err:
        header.verify(request(MESSAGE, {"x-salesbridge-token": "guess"}))
    assert err.value.reason == "bad_signature"
    with pytest.raises(SignatureError) as err:
        header.verify(request(MESSAGE))
    assert err.value.reason == "missing_signature"
    query = salesforce(shared_secret={"query": "token", "secrets": [{"env": "T"}]}, secrets={"T": "q-token"})
    assert query.verify(request(MESSAGE, query={"token": "q-token"})).reply


@pytest.mark.parametrize(
    "body,reason",
    [(BILLION_LAUGHS, "unsafe_xml"), (EXTERNAL_ENTITY, "unsafe_xml"), (b"<soapenv:Envelope", "malformed_xml"), (b"", "malformed_xml")],
)
def test_hostile_or_broken_xml_refused_without_expansion(body, reason):
    with pytest.raises(MalformedRequest) as err:
        salesforce().verify(request(body))
    assert err.value.reason == reason and err.value.status == 400


def test_not_an_outbound_message():
    with pytest.raises(MalformedRequest) as err:
        salesforce().verify(request(b"<a><b/></a>"))
    assert err.value.reason == "malformed_body"
