"""Secret references resolved from SSM and Secrets Manager (moto server over HTTP), with a TTL cache."""

from __future__ import annotations

import json
import logging

import pytest

from chalicelib.errors import SecretError
from chalicelib.ingress.request import InboundRequest
from chalicelib.ingress.verify import make_verifier
from chalicelib.runtime import aws as aws_clients
from chalicelib.runtime.secrets import EnvSecret, SecretResolver, SecretsManagerSecret, SsmSecret, read_secret
from tests.ingress.conftest import config, request, vendor_bytes


def test_ssm_secure_string_and_secrets_manager_json_key(aws):
    aws_clients.client("ssm").put_parameter(Name="/salesbridge/shop/secret", Value="steffi", Type="SecureString")
    aws_clients.client("secretsmanager").create_secret(Name="salesbridge/dt", SecretString=json.dumps({"token": "mryue"}))
    aws_clients.client("secretsmanager").create_secret(Name="salesbridge/plain", SecretString="plain-value")
    assert read_secret(SsmSecret(ssm="/salesbridge/shop/secret")) == "steffi"
    assert read_secret(SecretsManagerSecret(secretsmanager="salesbridge/dt", key="token")) == "mryue"
    assert read_secret(SecretsManagerSecret(secretsmanager="salesbridge/plain")) == "plain-value"


def test_errors_name_the_reference_never_the_value(aws):
    aws_clients.client("secretsmanager").create_secret(Name="salesbridge/dt", SecretString=json.dumps({"token": "mryue-value"}))
    with pytest.raises(SecretError, match="ssm:/salesbridge/missing: ParameterNotFound"):
        read_secret(SsmSecret(ssm="/salesbridge/missing"))
    with pytest.raises(SecretError) as err:
        read_secret(SecretsManagerSecret(secretsmanager="salesbridge/dt", key="aes"))
    assert "secretsmanager:salesbridge/dt#aes" in str(err.value) and "mryue-value" not in str(err.value)
    with pytest.raises(SecretError, match="ResourceNotFoundException"):
        read_secret(SecretsManagerSecret(secretsmanager="salesbridge/none"))


def test_verifier_reads_rotated_secrets_from_ssm(aws, caplog):
    ssm = aws_clients.client("ssm")
    ssm.put_parameter(Name="/salesbridge/shopify/new", Value="rotated", Type="SecureString")
    ssm.put_parameter(Name="/salesbridge/shopify/old", Value="steffi", Type="SecureString")
    cfg = config({"scheme": "shopify", "secrets": [{"ssm": "/salesbridge/shopify/new"}, {"ssm": "/salesbridge/shopify/old"}]})
    verifier = make_verifier(cfg, SecretResolver())
    # Shopify PHP library vector: secret 'steffi', body {"foo":"bar"} (fixtures/vendors/shopify/SOURCES.md)
    caplog.set_level(logging.DEBUG, logger="chalicelib")  # botocore's own DEBUG log prints responses: keep it off in Lambda
    body = vendor_bytes("shopify/sdk_test_vector_body.json")
    delivery = verifier.verify(request(body, {"X-Shopify-Hmac-Sha256": "/Redz4YXHLnSmmSN8grr5/Jl/Ua3d7yX3iWbjb8R8wo="}))
    assert delivery.secret_index == 1
    assert "steffi" not in caplog.text and "rotated" not in caplog.text and "steffi" not in repr(verifier)


def test_cache_refetches_after_ttl():
    calls: list[str] = []
    now = [0.0]

    def reader(ref):
        calls.append(ref.describe())
        return f"value-{len(calls)}"

    resolver = SecretResolver(ttl_seconds=60, clock=lambda: now[0], reader=reader)
    ref = SsmSecret(ssm="/a")
    assert resolver.get(ref) == resolver.get(ref) == "value-1"
    now[0] = 61
    assert resolver.get(ref) == "value-2" and calls == ["ssm:/a", "ssm:/a"]
    assert "value" not in repr(resolver)


def test_env_secrets_only_outside_a_deployed_lambda(monkeypatch):
    monkeypatch.setenv("SB_TEST_SECRET", "local-only")
    assert read_secret(EnvSecret(env="SB_TEST_SECRET")) == "local-only"
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "salesbridge-dev")
    monkeypatch.delenv("SALESBRIDGE_LOCAL", raising=False)
    with pytest.raises(SecretError, match="local stack only"):
        read_secret(EnvSecret(env="SB_TEST_SECRET"))
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    monkeypatch.setenv("SB_EMPTY", "")
    with pytest.raises(SecretError, match="empty"):
        read_secret(EnvSecret(env="SB_EMPTY"))
    with pytest.raises(SecretError, match="not set"):
        read_secret(EnvSecret(env="SB_UNSET_VARIABLE"))


def test_request_requires_aware_time_and_raw_bytes():
    from datetime import datetime

    with pytest.raises(ValueError, match="timezone-aware"):
        InboundRequest("POST", "/", {}, b"", datetime(2024, 1, 1))
    with pytest.raises(TypeError, match="raw bytes"):
        request("text")  # type: ignore[arg-type]
    r = request(b"x", {"X-Sig": "sig-value", "x-sig": "other"})
    assert r.header("X-SIG") == "sig-value" and len(r.headers) == 1 and "sig-value" not in repr(r)
