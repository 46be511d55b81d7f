"""Local-only secret values, stored in the AWS stand-in's SSM like a deployed stage stores its own."""

from __future__ import annotations

from typing import Any

LOCAL_PARAMETERS = {
    "/salesbridge/demo_crm/webhook-secret": "demo-secret",
    "/salesbridge/demo_erp/webhook-secret": "demo-erp-secret",
    "/salesbridge/hubspot/client-secret": "local-hubspot-secret",
    "/salesbridge/salesforce/outbound-token": "local-salesforce-token",
    "/salesbridge/shopify/webhook-secret": "local-shopify-secret",
    "/salesbridge/kingdee/webhook-secret": "local-kingdee-secret",
    "/salesbridge/odoo/webhook-secret": "local-odoo-secret",
    "/salesbridge/web_events/webhook-secret": "local-web-events-secret",
}


def seed_parameters(session: Any) -> None:
    ssm = session.client("ssm")
    for name, value in LOCAL_PARAMETERS.items():
        ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
