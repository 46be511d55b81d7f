"""Connector-file validation: every problem names file:line:column and the field to edit."""

from __future__ import annotations

from chalicelib.config.yaml_lines import load_yaml_text
from chalicelib.connectors.api_config import validate_api_sections

FILE = "connectors/acme.yaml"


def problems(text: str):
    config, found = validate_api_sections(load_yaml_text(text, FILE), FILE)
    return config, [str(p) for p in found]


GOOD = """\
name: acme
kind: salesforce
api:
  base_url: https://acme.my.salesforce.com
  api_version: v60.0
  auth:
    type: oauth2_client_credentials
    token_url: https://acme.my.salesforce.com/services/oauth2/token
    client_id: 3MVG9-client
    client_secret: {secretsmanager: salesbridge/acme, key: client_secret}
  rate_limit: {requests_per_second: 5, burst: 25}
streams:
  - name: accounts
    object: Account
    fields: [Name, Rating]
"""


def test_valid_file():
    config, found = problems(GOOD)
    assert found == [] and config is not None
    assert config.api.auth.client_secret.as_dict() == {"secretsmanager": "salesbridge/acme", "key": "client_secret"}
    assert config.streams[0].overlap_seconds == 60.0


def test_literal_secret_is_refused_at_its_line():
    _, found = problems(GOOD.replace("{secretsmanager: salesbridge/acme, key: client_secret}", "hunter2"))
    assert found == [
        "connectors/acme.yaml:10:20: api.auth.client_secret: secrets must be references "
        "({ssm: /path}, {secretsmanager: name} or {env: VAR}), never literal values"
    ]


def test_unknown_and_missing_fields():
    text = GOOD.replace("    fields: [Name, Rating]\n", "    feilds: [Name]\n").replace("  api_version: v60.0\n", "")
    _, found = problems(text)
    assert "connectors/acme.yaml:14:5: streams[0].feilds: unknown field 'feilds'; did you mean 'fields'?" in found


def test_kind_rules_point_at_the_stream():
    _, found = problems(GOOD.replace("    fields: [Name, Rating]\n", "    endpoint: /x\n"))
    assert "connectors/acme.yaml:13:5: streams[0].fields: required for kind 'salesforce'" in found
    assert "connectors/acme.yaml:15:5: streams[0].endpoint: only for kind 'generic_rest', not 'salesforce'" in found


def test_wrong_auth_type_and_bad_url():
    _, found = problems(
        GOOD.replace("type: oauth2_client_credentials", "type: oauth1").replace(
            "base_url: https://acme.my.salesforce.com", "base_url: acme.my.salesforce.com"
        )
    )
    assert any(p.startswith("connectors/acme.yaml:4:13: api.base_url: must be an absolute http(s) URL") for p in found)
    assert any(p.startswith("connectors/acme.yaml:7:5: api.auth.type:") and "oauth2_client_credentials" in p for p in found)


def test_credential_headers_must_use_auth():
    _, found = problems(GOOD.replace("  rate_limit:", "  headers: {Authorization: Bearer abc}\n  rate_limit:"))
    assert any("api.headers" in p and "carries a credential" in p for p in found)


KINGDEE = """\
name: erp
kind: kingdee
api:
  base_url: https://erp.example.com/K3Cloud
  database: 6583f1a2b7c9d0
  timezone: Asia/Shanghai
  auth: {type: basic, username: salesbridge, password: {ssm: kingdee/password}}
streams:
  - name: materials
    object: BD_MATERIAL
    id_field: FMATERIALID
    fields: [FNumber]
    where: "FDocumentStatus = 'C'"
"""


def test_kingdee_needs_its_data_centre_a_login_and_an_id_field():
    config, found = problems(KINGDEE)
    assert found == [] and config is not None and config.api.timezone == "Asia/Shanghai"
    _, found = problems(KINGDEE.replace("  database: 6583f1a2b7c9d0\n", "").replace("    id_field: FMATERIALID\n", ""))
    assert "connectors/acme.yaml:3:1: api.database: required for kind 'kingdee' (the data centre id, acctID)" in found
    assert any(p.startswith("connectors/acme.yaml:8:5: streams[0].id_field: required for kind 'kingdee'") for p in found)


def test_a_time_zone_is_checked_and_only_for_naive_time_apis():
    _, found = problems(KINGDEE.replace("Asia/Shanghai", "Asia/Shangai"))
    assert any(p.startswith("connectors/acme.yaml:6:13: api.timezone:") and "unknown time zone 'Asia/Shangai'" in p for p in found)
    _, found = problems(GOOD.replace("  api_version: v60.0\n", "  api_version: v60.0\n  timezone: Asia/Shanghai\n"))
    assert any(p.startswith("connectors/acme.yaml:6:3: api.timezone: only for kinds 'kingdee' and 'generic_rest'") for p in found)
