"""The webhook: section of connector files: every example loads; mistakes name file:line:column and field."""

from __future__ import annotations

import pytest

from chalicelib.config.yaml_lines import load_yaml_file, load_yaml_text
from chalicelib.ingress.verify import SCHEMES
from chalicelib.ingress.webhook_config import SCHEME_MODELS, validate_webhook_section
from tests.ingress.conftest import FIXTURES

EXAMPLES = sorted((FIXTURES / "connectors").glob("*.yaml"))


def problems_of(text: str):
    return validate_webhook_section(load_yaml_text(text, "connectors/x.yaml")["webhook"], "connectors/x.yaml")


def test_every_scheme_has_an_example_and_a_verifier():
    assert {load_yaml_file(p)["webhook"]["scheme"] for p in EXAMPLES} == set(SCHEME_MODELS) == set(SCHEMES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_validate(path):
    cfg, problems = validate_webhook_section(load_yaml_file(path)["webhook"], str(path))
    assert problems == [] and cfg.shape() is not None


def test_literal_secret_is_refused_without_echoing_it():
    cfg, problems = problems_of("webhook:\n  scheme: shopify\n  secrets:\n    - shpss_0123456789abcdef\n")
    assert cfg is None
    [problem] = problems
    assert (problem.line, problem.column, problem.field) == (4, 7, "webhook.secrets[0]")
    assert "cannot be written in a configuration file" in problem.message
    assert "shpss_0123456789abcdef" not in str(problem)


def test_all_mistakes_reported_at_once_with_positions():
    text = (
        "webhook:\n  scheme: hubspot\n  secrets: [{ssm: /a}, {vault: /b}]\n  versions: [v4]\n  max_body_bytes: 0\n  tolerence_seconds: 60\n"
    )
    _, problems = problems_of(text)
    found = {(p.field, p.line) for p in problems}
    assert found == {("webhook.secrets[1]", 3), ("webhook.versions[0]", 4), ("webhook.max_body_bytes", 5), ("webhook.tolerence_seconds", 6)}
    assert all(p.file == "connectors/x.yaml" and p.column > 0 for p in problems)


def test_unknown_and_missing_scheme_and_missing_field():
    [p] = problems_of("webhook:\n  scheme: github\n")[1]
    assert (p.field, p.line, p.column) == ("webhook.scheme", 2, 3) and "expected one of" in p.message
    [p] = problems_of("webhook:\n  secrets: [{ssm: /a}]\n")[1]
    assert p.field == "webhook.scheme" and "missing scheme" in p.message
    [p] = problems_of("webhook:\n  scheme: generic_hmac\n  secrets: [{ssm: /a}]\n")[1]
    assert p.field == "webhook.header" and p.message == "missing required field 'header'"


def test_generic_hmac_timestamp_must_be_signed():
    [p] = problems_of("webhook:\n  scheme: generic_hmac\n  header: X-Sig\n  timestamp_header: X-Ts\n  secrets: [{ssm: /a}]\n")[1]
    assert "does not sign {timestamp}" in p.message


def test_salesforce_org_id_and_shared_secret_place():
    text = (
        "webhook:\n  scheme: salesforce_outbound\n  organization_ids: [00D1]\n"
        "  shared_secret: {header: X, query: t, secrets: [{ssm: /a}]}\n"
    )
    fields = {p.field: p.line for p in problems_of(text)[1]}
    assert fields == {"webhook.organization_ids[0]": 3, "webhook.shared_secret": 4}


def test_section_must_be_a_mapping():
    [p] = validate_webhook_section(["scheme"], "c.yaml")[1]
    assert p.field == "webhook"
