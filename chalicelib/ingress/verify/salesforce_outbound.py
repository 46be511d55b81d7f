"""Salesforce Outbound Messaging (SOAP): nothing is signed, so check who sent it.

Salesforce signs neither body nor URL, so the compensating controls are checked instead, cheapest
first and before any XML is parsed where they allow it: the caller's IP on the allow-list (when
configured), the shared secret in a header or query parameter (when configured), then the
organisation id inside the message on the allow-list (15-character ids compared, since an
18-character id only adds a case-checksum). Every one of these refusals gets the same SOAP fault,
so a caller learns nothing of which check failed; the reason goes to the audit trail only.
Salesforce re-sends until it gets the SOAP ``<Ack>true</Ack>``, so the accepted delivery carries that reply.
"""

from __future__ import annotations

from ipaddress import ip_address

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


AUTHENTICATION_REQUIRED = "authentication required"  # the one answer to every refusal of the sender


def refused(reason: str, detail: str) -> SignatureError:
    """Who sent it is not proven: one fault for every cause; ``reason`` and ``detail`` are for the audit."""
    return SignatureError(reason, detail, fault(AUTHENTICATION_REQUIRED))


class SalesforceOutboundVerifier(Verifier):
    scheme = "salesforce_outbound"

    def _verify(self, request: InboundRequest) -> VerifiedDelivery:
        self._check_caller_ip(request)
        index = self._check_shared_secret(request)  # before parsing: an unauthenticated body is never read
        try:
            root = parse_xml(request.body)
        except UnsafeOrMalformedXml as exc:
            raise MalformedRequest(exc.reason, str(exc), fault(str(exc))) from None
        notifications = find_notifications(root)
        org = notifications.find(f"{{{OUTBOUND_NS}}}OrganizationId")  # type: ignore[attr-defined]
        org_id = (org.text or "").strip() if org is not None else ""
        if not org_id:
            raise refused("missing_org", "no OrganizationId")
        wanted = short_id(org_id).encode("utf-8")
        allowed = [short_id(o).encode("utf-8") for o in self.config.organization_ids]
        if first_match([wanted], allowed) is None:
            raise refused("unknown_org", f"organisation {org_id[:40]} is not on the allow-list")
        return VerifiedDelivery(
            request, self.scheme, request.body, reply=VendorReply(ACK, SOAP_CONTENT_TYPE), secret_index=index, media_type="application/xml"
        )

    def _check_caller_ip(self, request: InboundRequest) -> None:
        networks = self.config.allowed_ips
        if not networks:
            return
        try:
            caller = ip_address(request.source_ip or "")
        except ValueError:
            raise refused("ip_not_allowed", f"caller address {str(request.source_ip)[:60]!r} is not an IP address") from None
        if not any(caller in network for network in networks):
            raise refused("ip_not_allowed", f"caller {caller} is not in the IP allow-list")

    def _check_shared_secret(self, request: InboundRequest) -> int:
        shared = self.config.shared_secret
        if shared is None:
            return 0
        presented = request.header(shared.header) if shared.header else request.query_param(shared.query)
        if not presented:
            raise refused("missing_signature", "shared secret not presented")
        index = first_match([presented.encode("utf-8")], (s.encode("utf-8") for s in self._values(shared.secrets)))
        if index is None:
            raise refused("bad_signature", "shared secret does not match")
        return index
