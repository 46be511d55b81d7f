"""Shopify and Square body HMACs against the published vectors.

Sources:
- Shopify/shopify-api-php tests/Webhooks/RegistryTest.php @07c22ddb (header /Redz4YXH..., body {"foo":"bar"})
  with apiSecretKey 'steffi' from tests/BaseTestCase.php @01da173a — fixtures/vendors/shopify/SOURCES.md
- square/square-python-sdk tests/integration/test_webhooks_helper.py @ef5c175f (two vectors and the
  negative cases) — fixtures/vendors/square/SOURCES.md
"""

from __future__ import annotations

import json

import pytest

from chalicelib.ingress.verify import BodyTooLarge, SignatureError, make_verifier
from tests.ingress.conftest import TableSecrets, config, request, vendor_bytes

SHOPIFY_BODY = vendor_bytes("shopify/sdk_test_vector_body.json")
SHOPIFY_SIG = "/Redz4YXHLnSmmSN8grr5/Jl/Ua3d7yX3iWbjb8R8wo="


def shopify(secrets=None, **extra):
    secrets = secrets or {"SHOP": "steffi"}
    cfg = config({"scheme": "shopify", "secrets": [{"env": n} for n in secrets], **extra})
    return make_verifier(cfg, TableSecrets(secrets))


def test_shopify_published_vector():
    headers = {
        "X-Shopify-Hmac-Sha256": SHOPIFY_SIG,
        "X-Shopify-Topic": "products/update",
        "X-Shopify-Shop-Domain": "test-shop.myshopify.io",
    }
    assert shopify().verify(request(SHOPIFY_BODY, headers)).body == SHOPIFY_BODY


def test_shopify_http2_lowercase_header():
    assert shopify().verify(request(SHOPIFY_BODY, {"x-shopify-hmac-sha256": SHOPIFY_SIG})).secret_index == 0


@pytest.mark.parametrize("sig,reason", [("whoops_this_is_wrong", "malformed_signature"), ("AAAA" + SHOPIFY_SIG[4:], "bad_signature")])
def test_shopify_forged(sig, reason):
    # 'whoops_this_is_wrong' is the negative case of the same PHP test
    with pytest.raises(SignatureError) as err:
        shopify().verify(request(SHOPIFY_BODY, {"X-Shopify-Hmac-Sha256": sig}))
    assert err.value.reason == reason


def test_shopify_missing_hmac():
    with pytest.raises(SignatureError) as err:
        shopify().verify(request(SHOPIFY_BODY, {"X-Shopify-Topic": "products/update"}))
    assert err.value.reason == "missing_signature"


def test_shopify_rotation_accepts_old_secret_for_the_switch_hour():
    # Shopify docs: after rotating, it can take up to an hour before the new secret signs.
    delivery = shopify({"NEW": "rotated-secret", "OLD": "steffi"}).verify(request(SHOPIFY_BODY, {"X-Shopify-Hmac-Sha256": SHOPIFY_SIG}))
    assert delivery.secret_index == 1


def test_oversized_body_refused_before_any_hashing():
    big = b"{" + b" " * 2048 + b"}"
    with pytest.raises(BodyTooLarge) as err:
        shopify(max_body_bytes=1024).verify(request(big, {"X-Shopify-Hmac-Sha256": SHOPIFY_SIG}))
    assert err.value.status == 413 and err.value.reason == "body_too_large"


SQUARE_BODY = vendor_bytes("square/webhooks_test_notification.json")
SQUARE_URL = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"
SQUARE_SIG = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="


def square(key="Ibxx_5AKakO-3qeNVR61Dw", url=SQUARE_URL):
    cfg = config({"scheme": "square", "secrets": [{"env": "SQ"}], "notification_url": url})
    return make_verifier(cfg, TableSecrets({"SQ": key}))


def test_square_published_vectors():
    assert square().verify(request(SQUARE_BODY, {"x-square-hmacsha256-signature": SQUARE_SIG})).body == SQUARE_BODY
    escaped = vendor_bytes("square/escaped_chars_vector_body.json")
    sig = "Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U="
    assert square("signature-key", "https://webhook.site/webhooks").verify(request(escaped, {"x-square-hmacsha256-signature": sig}))


def test_square_url_defaults_to_the_request_url():
    cfg = config({"scheme": "square", "secrets": [{"env": "SQ"}]})
    verifier = make_verifier(cfg, TableSecrets({"SQ": "Ibxx_5AKakO-3qeNVR61Dw"}))
    assert verifier.verify(request(SQUARE_BODY, {"x-square-hmacsha256-signature": SQUARE_SIG}, url=SQUARE_URL))


@pytest.mark.parametrize(
    "key,url,sig,body",
    [
        # the negative cases of square-python-sdk's test_webhooks_helper.py
        ("Ibxx_5AKakO-3qeNVR61Dw", "https://webhook.site/79a4f3a-dcfa-49ee-bac5-9d0edad886b9", SQUARE_SIG, SQUARE_BODY),
        ("MCmhFRxGX82xMwg5FsaoQA", SQUARE_URL, SQUARE_SIG, SQUARE_BODY),
        ("Ibxx_5AKakO-3qeNVR61Dw", SQUARE_URL, "1z2n3DEJJiUPKcPzQo1ftvbxGdw=", SQUARE_BODY),
        ("Ibxx_5AKakO-3qeNVR61Dw", SQUARE_URL, SQUARE_SIG, json.dumps(json.loads(SQUARE_BODY), indent=2).encode()),
        ("Ibxx_5AKakO-3qeNVR61Dw", SQUARE_URL, SQUARE_SIG, SQUARE_BODY.replace(b"2022-07-13T20:30:59", b"2022-06-13T20:30:59")),
    ],
)
def test_square_published_negative_cases(key, url, sig, body):
    with pytest.raises(SignatureError) as err:
        square(key, url).verify(request(body, {"x-square-hmacsha256-signature": sig}))
    assert err.value.reason == "bad_signature"
