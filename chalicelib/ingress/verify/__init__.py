"""Inbound signature verification: one module per vendor scheme, chosen by the connector file.

``make_verifier(config, secrets)`` builds the verifier once per container; its
``verify(request)`` returns a ``VerifiedDelivery`` or raises a ``RejectedRequest``
(``SignatureError`` → 401, ``BodyTooLarge`` → 413, ``MalformedRequest`` → 400).
"""

from __future__ import annotations

from typing import Any

from chalicelib.errors import BodyTooLarge, MalformedRequest, RejectedRequest, SignatureError
from chalicelib.ingress.verify.base import SecretSource, VendorReply, VerifiedDelivery, Verifier
from chalicelib.ingress.verify.dingtalk import DingTalkVerifier
from chalicelib.ingress.verify.generic_hmac import GenericHmacVerifier
from chalicelib.ingress.verify.hubspot import HubSpotVerifier
from chalicelib.ingress.verify.salesforce_outbound import SalesforceOutboundVerifier
from chalicelib.ingress.verify.shopify import ShopifyVerifier
from chalicelib.ingress.verify.square import SquareVerifier
from chalicelib.ingress.verify.standard_webhooks import StandardWebhooksVerifier
from chalicelib.ingress.verify.stripe_style import StripeStyleVerifier
from chalicelib.ingress.verify.wecom import WeComVerifier

SCHEMES: dict[str, type[Verifier]] = {
    cls.scheme: cls
    for cls in (
        GenericHmacVerifier,
        HubSpotVerifier,
        ShopifyVerifier,
        SquareVerifier,
        StandardWebhooksVerifier,
        StripeStyleVerifier,
        SalesforceOutboundVerifier,
        WeComVerifier,
        DingTalkVerifier,
    )
}


def make_verifier(webhook_config: Any, secrets: SecretSource | None = None) -> Verifier:
    """The verifier for a validated ``webhook:`` section; secrets default to the container resolver."""
    try:
        cls = SCHEMES[webhook_config.scheme]
    except KeyError:
        raise ValueError(f"unknown webhook scheme {webhook_config.scheme!r}; known: {sorted(SCHEMES)}") from None
    if secrets is None:
        from chalicelib.runtime.secrets import default_resolver

        secrets = default_resolver()
    return cls(webhook_config, secrets)


__all__ = [
    "SCHEMES",
    "make_verifier",
    "BodyTooLarge",
    "MalformedRequest",
    "RejectedRequest",
    "SecretSource",
    "SignatureError",
    "VendorReply",
    "VerifiedDelivery",
    "Verifier",
]
