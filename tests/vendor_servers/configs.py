"""Connector files for the loopback servers, loaded through the real YAML + validation path."""

from __future__ import annotations

from typing import Any

from chalicelib.config.yaml_lines import load_yaml_text
from chalicelib.connectors.api_config import ApiSections, validate_api_sections
from chalicelib.errors import ConfigError

SECRETS = {
    "SF_CLIENT_SECRET": "s3cr3t",
    "HUBSPOT_TOKEN": "pat-na1-test",
    "ODOO_API_KEY": "odoo-api-key",
    "KINGDEE_PASSWORD": "kd-pass",
    "SHOPIFY_TOKEN": "shpat_test",
    "GENERIC_KEY": "k-123",
    "GENERIC_PASSWORD": "pw",
}


def resolve(ref: dict[str, Any]) -> str:
    """Test stand-in for chalicelib.runtime.secrets.resolve: env references from a fixed table."""
    return SECRETS[ref["env"]]


def load(text: str, filename: str = "connectors/test.yaml") -> ApiSections:
    config, problems = validate_api_sections(load_yaml_text(text, filename), filename)
    if problems:
        raise ConfigError(problems)
    assert config is not None
    return config


def salesforce_api(url: str) -> str:
    """The ``api:`` section of a Salesforce connector whose API is the loopback server at ``url``."""
    return f"""api:
  base_url: {url}
  api_version: v60.0
  auth:
    type: oauth2_client_credentials
    token_url: {url}/services/oauth2/token
    client_id: 3MVG9-client
    client_secret: {{env: SF_CLIENT_SECRET}}
"""


def salesforce_connector_file(url: str, *, page_size: int = 10, schedule: str | None = None) -> str:
    """connectors/salesforce.yaml for a stack whose Salesforce API is the loopback server at ``url``."""
    return f"""
kind: connector
name: salesforce
type: salesforce
{salesforce_api(url)}streams:
  - name: accounts
    object: Account
    fields: [Name, AnnualRevenue]
    page_size: {page_size}
    overlap_seconds: 0
""" + (f"    schedule: {schedule}\n" if schedule else "")


def salesforce(url: str, *, page_size: int = 200, overlap: int = 0, rate: str = "") -> ApiSections:
    return load(f"""
name: sf
kind: salesforce
{salesforce_api(url)}{rate}
streams:
  - name: accounts
    object: Account
    fields: [Name, AnnualRevenue]
    page_size: {page_size}
    overlap_seconds: {overlap}
""")


def hubspot(url: str, *, page_size: int = 100, overlap: int = 0, obj: str = "companies", associations: str = "") -> ApiSections:
    return load(f"""
name: hs
kind: hubspot
api:
  base_url: {url}
  auth: {{type: bearer, token: {{env: HUBSPOT_TOKEN}}}}
  rate_limit: {{requests_per_second: 1000, burst: 1000, budget: hubspot-portal-1}}
streams:
  - name: {obj}
    object: {obj}
    fields: [name, annualrevenue]
    page_size: {page_size}
    overlap_seconds: {overlap}
    associations: [{associations}]
""")


def odoo(url: str, *, page_size: int = 50, overlap: int = 0) -> ApiSections:
    return load(f"""
name: odoo
kind: odoo
api:
  base_url: {url}
  database: salesdb
  auth: {{type: basic, username: sync@example.com, password: {{env: ODOO_API_KEY}}}}
streams:
  - name: orders
    object: sale.order
    fields: [name, amount_total, state]
    page_size: {page_size}
    overlap_seconds: {overlap}
""")


def kingdee(url: str, *, page_size: int = 50, overlap: int = 0) -> ApiSections:
    return load(f"""
name: kingdee
kind: kingdee
api:
  base_url: {url}/K3Cloud
  database: 6583f1a2b7c9d0
  timezone: Asia/Shanghai
  auth: {{type: basic, username: salesbridge, password: {{env: KINGDEE_PASSWORD}}}}
streams:
  - name: materials
    object: BD_MATERIAL
    id_field: FMATERIALID
    fields: [FNumber, FName, F_SB_ListPrice]
    page_size: {page_size}
    overlap_seconds: {overlap}
""")


def shopify(url: str, *, page_size: int = 50, overlap: int = 0) -> ApiSections:
    return load(f"""
name: shop
kind: shopify
api:
  base_url: {url}
  api_version: "2024-01"
  auth: {{type: api_key, header: X-Shopify-Access-Token, key: {{env: SHOPIFY_TOKEN}}}}
streams:
  - name: orders
    object: orders
    params: {{status: any}}
    page_size: {page_size}
    overlap_seconds: {overlap}
""")


GENERIC_PAGINATION = {
    "cursor": "{style: body_cursor, cursor_path: meta.next_cursor, param: cursor}",
    "offset": "{style: offset, total_path: total}",
    "page": "{style: page_number, total_pages_path: total_pages}",
    "odata4": "{style: next_url}",
    "odata2": "{style: next_url}",
    "link": "{style: link_header}",
}
GENERIC_RECORDS = {"cursor": "data", "offset": "items", "page": "data", "odata4": "value", "odata2": "d.results", "link": "''"}
GENERIC_SIZE_PARAM = {"cursor": "size", "odata4": "$top", "odata2": "$top", "link": "$top"}


def generic(url: str, style: str, *, page_size: int = 25, overlap: int = 0) -> ApiSections:
    size = GENERIC_SIZE_PARAM.get(style)
    params = f"params: {{{size!r}: {page_size}}}" if size else "params: {}"
    return load(f"""
name: items-api
kind: generic_rest
api:
  base_url: {url}
  auth: {{type: api_key, header: X-API-Key, key: {{env: GENERIC_KEY}}}}
streams:
  - name: items
    object: item
    endpoint: /api/{style}/items
    {params}
    records_path: {GENERIC_RECORDS[style]}
    pagination: {GENERIC_PAGINATION[style]}
    id_field: uuid
    cursor_field: updated_at
    since_param: updated_since
    page_size: {page_size}
    overlap_seconds: {overlap}
""")
