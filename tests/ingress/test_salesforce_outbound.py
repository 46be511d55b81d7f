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


def salesforce(org_ids=("012345678901234",), shared_secret=None, secrets=None, allowed_ips=None):
    section = {"scheme": "salesforce_outbound", "organization_ids": list(org_ids)}
    if shared_secret:
        section["shared_secret"] = shared_secret
    if allowed_ips is not None:
        section["allowed_ips"] = allowed_ips
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
    assert b"OrganizationId" not in err.value.response.body, "the reason is for the audit trail only"


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


TOKEN = {"query": "token", "secrets": [{"env": "T"}]}


def refusal(verifier, *args, **kwargs):
    with pytest.raises(SignatureError) as err:
        verifier.verify(request(*args, **kwargs))
    return err.value


def test_every_refusal_of_the_sender_gets_the_same_answer():
    """Org mismatch, missing org, missing or wrong token, caller outside the IP allow-list: one fault; reasons differ in the audit."""
    guarded = salesforce(shared_secret=TOKEN, secrets={"T": "q-token"})
    fenced = salesforce(allowed_ips=["198.51.100.0/24"])
    no_org = MESSAGE.replace(b"<OrganizationId>012345678901234</OrganizationId>", b"")
    refusals = {
        "unknown_org": refusal(guarded, WRONG_ORG, query={"token": "q-token"}),
        "missing_org": refusal(guarded, no_org, query={"token": "q-token"}),
        "missing_signature": refusal(guarded, MESSAGE),
        "bad_signature": refusal(guarded, MESSAGE, query={"token": "guess"}),
        "ip_not_allowed": refusal(fenced, MESSAGE),
    }
    assert {reason: err.reason for reason, err in refusals.items()} == {reason: reason for reason in refusals}
    answers = {(err.status, err.response.body, err.response.content_type) for err in refusals.values()}
    assert len(answers) == 1 and b"authentication required" in next(iter(answers))[1]


def test_the_token_is_checked_before_the_body_is_parsed():
    unknown_encoding = b'<?xml version="1.0" encoding="x"?><a/>'
    guarded = salesforce(shared_secret=TOKEN, secrets={"T": "q-token"})
    assert refusal(guarded, unknown_encoding).reason == "missing_signature"
    with pytest.raises(MalformedRequest) as err:
        guarded.verify(request(unknown_encoding, query={"token": "q-token"}))
    assert err.value.reason == "malformed_xml" and err.value.status == 400


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0" encoding="x"?><a/>',
        b'<?xml version="1.0" encoding="rot13"?><a/>',
        b'<?xml version="1.0" encoding="utf-16"?><a/>',
        b"<a>\x00</a>",
        b"\xff\xfe\x00",
    ],
)
def test_every_xml_that_cannot_be_read_is_a_400(body):
    with pytest.raises(MalformedRequest) as err:
        salesforce().verify(request(body))
    assert err.value.reason == "malformed_xml" and err.value.status == 400


def test_the_ip_allow_list_takes_networks_of_both_families():
    fenced = salesforce(allowed_ips=["203.0.113.0/28", "2001:db8::/32"])
    assert fenced.verify(request(MESSAGE)).reply  # the test request comes from 203.0.113.9
    assert refusal(salesforce(allowed_ips=["203.0.113.16/28"]), MESSAGE).reason == "ip_not_allowed"
    from dataclasses import replace

    ipv6 = replace(request(MESSAGE), source_ip="2001:db8::5")
    assert fenced.verify(ipv6).reply
    for address in (None, "not-an-ip", "2001:db9::1"):
        with pytest.raises(SignatureError) as err:
            fenced.verify(replace(request(MESSAGE), source_ip=address))
        assert err.value.reason == "ip_not_allowed"


def test_an_allow_list_entry_that_is_not_a_network_is_a_configuration_error():
    from chalicelib.errors import ConfigError

    with pytest.raises((ConfigError, ValueError)) as err:
        config({"scheme": "salesforce_outbound", "organization_ids": ["012345678901234"], "allowed_ips": ["13.108.0.0/33"]})
    assert "allowed_ips" in str(err.value)
