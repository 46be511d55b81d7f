"""Generic HMAC (header + secret named in the connector file).

No vendor publishes vectors for a generic scheme; the cross-check below signs the
Stripe-dotnet published fixture the way the Stripe scheme does (t.body, hex) and the
GitHub-style ``sha256=`` prefix over the Shopify PHP vector body (values computed
here with the standard library's hmac, independent of the code under test).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from chalicelib.ingress.verify import SignatureError, make_verifier
from tests.ingress.conftest import TableSecrets, at, config, request, vendor_bytes

BODY = b'{"order":{"id":"SO-1","total":"19.90"}}'


def generic(secrets=None, **extra):
    secrets = secrets or {"G": "s3"}
    section = {"scheme": "generic_hmac", "header": "X-Signature", "secrets": [{"env": n} for n in secrets], **extra}
    return make_verifier(config(section), TableSecrets(secrets))


def test_stripe_dotnet_vector_through_the_generic_template():
    # stripe-dotnet fixture: secret webhook_secret, t=1533204620 → v1=2220f87e...c3c7 (published)
    body = vendor_bytes("stripe/event_test_signature.json")
    verifier = generic({"G": "webhook_secret"}, timestamp_header="X-Ts", signed_payload="{timestamp}.{body}")
    headers = {"X-Signature": "2220f87ef101a04665f11cdf770523143f875572008577fa0f20882ddb9cc3c7", "X-Ts": "1533204620"}
    assert verifier.verify(request(body, headers, received_at=at(1533204620 + 60))).signed_at == at(1533204620)
    with pytest.raises(SignatureError) as err:
        verifier.verify(request(body, headers, received_at=at(1533204620 + 301)))
    assert err.value.reason == "timestamp_outside_window"
    with pytest.raises(SignatureError) as err:
        verifier.verify(request(body, {"X-Signature": headers["X-Signature"]}, received_at=at(1533204620)))
    assert err.value.reason == "missing_timestamp"


def test_prefixed_hex_signature():
    signature = "sha256=" + hmac.new(b"s3", BODY, hashlib.sha256).hexdigest()
    assert generic(prefix="sha256=").verify(request(BODY, {"x-signature": signature})).body == BODY
    with pytest.raises(SignatureError) as err:
        generic(prefix="sha256=").verify(request(BODY, {"x-signature": signature[7:]}))
    assert err.value.reason == "malformed_signature"


def test_base64_sha512_and_rotation():
    signature = base64.b64encode(hmac.new(b"old", BODY, hashlib.sha512).digest()).decode()
    verifier = generic({"NEW": "new", "OLD": "old"}, encoding="base64", algorithm="sha512")
    assert verifier.verify(request(BODY, {"X-Signature": signature})).secret_index == 1


@pytest.mark.parametrize("tamper", [lambda b: b + b" ", lambda b: b.replace(b"19.90", b"1.90")])
def test_forged_body(tamper):
    signature = hmac.new(b"s3", BODY, hashlib.sha256).hexdigest()
    with pytest.raises(SignatureError) as err:
        generic().verify(request(tamper(BODY), {"X-Signature": signature}))
    assert err.value.reason == "bad_signature"


def test_milliseconds_and_method_url_in_template():
    ts = "1700000000123"
    message = f"POST https://hooks.example.com/webhooks/test {ts} ".encode() + BODY
    signature = hmac.new(b"s3", message, hashlib.sha256).hexdigest()
    verifier = generic(timestamp_header="X-Ts", timestamp_unit="milliseconds", signed_payload="{method} {url} {timestamp} {body}")
    assert verifier.verify(request(BODY, {"X-Signature": signature, "X-Ts": ts}, received_at=at(1_700_000_000))).signed_at
    with pytest.raises(SignatureError):
        verifier.verify(request(BODY, {"X-Signature": signature, "X-Ts": ts}, method="PUT", received_at=at(1_700_000_000)))


def test_non_ascii_signature_header_is_refused_cleanly():
    with pytest.raises(SignatureError) as err:
        generic().verify(request(BODY, {"X-Signature": "签名"}))
    assert err.value.reason == "malformed_signature"
