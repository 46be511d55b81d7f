"""Salesforce Outbound Messaging (SOAP): nothing is signed, so check who sent it.

The organisation id must be on the allow-list (15-character ids compared, since an
18-character id only adds a case-checksum) and, optionally, a shared secret must
come in a header or query parameter. Salesforce re-sends until it gets the SOAP
``<Ack>true</Ack>``, so the accepted delivery carries that reply.
"""

from __future__ import annotations

from chalicelib.errors import MalformedRequest, SignatureError, UnsafeOrMalformedXml
from chalicelib.ingress.request import InboundRequest
from chalicelib.ingress.safe_xml import parse_xml
from chalicelib.ingress.verify.base import VendorReply, VerifiedDelivery, Verifier, first_match

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
    " <soapenv:Body>\n"
    f'  <notificationsResponse xmlns="{OUTBOUND_NS}">\n'
    "   <Ack>true</Ack>\n"
    "  </notificationsResponse>\n"
    " </soapenv:Body>\n"
    "</soapenv:Envelope>"
).encode()


def fault(message: str) -> VendorReply:
    """A SOAP fault (client error), so Salesforce's delivery log shows why it was refused."""
    from xml.sax.saxutils import escape

    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
        "<soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode>"
        f"<faultstring>{escape(message)}</faultstring><detail /></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return VendorReply(body.encode("utf-8"), SOAP_CONTENT_TYPE)


def short_id(org_id: str) -> str:
    return org_id[:15]


def find_notifications(root: object) -> object:
    """The ``notifications`` element of the outbound namespace, wherever the envelope puts it."""
    element = root.find(f".//{{{OUTBOUND_NS}}}notifications")  # type: ignore[attr-defined]
    if element is None:
        raise MalformedRequest("malformed_body", "no outbound-message <notifications> element", fault("not a Salesforce outbound message"))
    return element


class SalesforceOutboundVerifier(Verifier):
    scheme = "salesforce_outbound"

    def _verify(self, request: InboundRequest) -> VerifiedDelivery:
        try:
            root = parse_xml(request.body)
        except UnsafeOrMalformedXml as exc:
            raise MalformedRequest(exc.reason, str(exc), fault(str(exc))) from None
        notifications = find_notifications(root)
        org = notifications.find(f"{{{OUTBOUND_NS}}}OrganizationId")  # type: ignore[attr-defined]
        org_id = (org.text or "").strip() if org is not None else ""
        if not org_id:
            raise SignatureError("missing_org", "no OrganizationId", fault("the request did not contain an OrganizationId"))
        wanted = short_id(org_id).encode("utf-8")
        allowed = [short_id(o).encode("utf-8") for o in self.config.organization_ids]
        if first_match([wanted], allowed) is None:
            reply = fault("the OrganizationId did not match the expected value")
            raise SignatureError("unknown_org", f"organisation {org_id} is not on the allow-list", reply)
        index = self._check_shared_secret(request)
        return VerifiedDelivery(
            request, self.scheme, request.body, reply=VendorReply(ACK, SOAP_CONTENT_TYPE), secret_index=index, media_type="application/xml"
        )

    def _check_shared_secret(self, request: InboundRequest) -> int:
        shared = self.config.shared_secret
        if shared is None:
            return 0
        presented = request.header(shared.header) if shared.header else request.query_param(shared.query)
        if not presented:
            raise SignatureError("missing_signature", "shared secret not presented", fault("authentication required"))
        index = first_match([presented.encode("utf-8")], (s.encode("utf-8") for s in self._values(shared.secrets)))
        if index is None:
            raise SignatureError("bad_signature", "shared secret does not match", fault("authentication failed"))
        return index
