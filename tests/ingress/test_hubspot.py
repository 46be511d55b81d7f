"""HubSpot signatures v1/v2/v3 against the published vectors.

Sources (see fixtures/vendors/hubspot/SOURCES.md):
- HubSpot docs "v1 request validation" (contact.creation body, expect 232db261...)
  https://developers.hubspot.com/docs/faq/v1-request-validation
- HubSpot docs "v2 request validation", GET example (expect eee2dddc...)
  https://developers.hubspot.com/docs/faq/v2-request-validation
- HubSpot/hubspot-api-python tests/spec/utils/test_signature.py @83aedb04, TEST_DATA (v1/v2/v3)
"""

from __future__ import annotations

import base64

import pytest

from chalicelib.ingress.verify import SignatureError, make_verifier
from chalicelib.ingress.verify.hubspot import v1_signature, v2_signature, v3_signature
from tests.ingress.conftest import TableSecrets, at, config, request, vendor_bytes

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URL = "https://www.example.com/webhook_uri"
SDK_BODY = vendor_bytes("hubspot/sdk_test_vector_body.txt")  # {'example_field':'example_value'}
DOCS_BODY = vendor_bytes("hubspot/contact_creation_webhook_body.json")


def verifier(versions=("v3",), secrets=None, **extra):
    names = list(secrets or {"HS": SECRET})
    cfg = config({"scheme": "hubspot", "secrets": [{"env": n} for n in names], "versions": list(versions), **extra})
    return make_verifier(cfg, TableSecrets(secrets or {"HS": SECRET}))


def test_published_signing_vectors_reproduce():
    # hubspot-api-python TEST_DATA: v1, v2, v3 (timestamp "15000000" used as text)
    assert v1_signature(SECRET, SDK_BODY) == "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750"
    assert v2_signature(SECRET, "POST", URL, SDK_BODY) == "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383"
    assert v3_signature(SECRET, "POST", URL, SDK_BODY, "15000000") == "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="
    # HubSpot docs v1 (contact.creation array) and v2 GET without body
    assert v1_signature(SECRET, DOCS_BODY) == "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
    assert v2_signature(SECRET, "GET", URL, b"") == "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"


def v3_headers(signature="HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=", timestamp="15000000"):
    return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp}


def test_v3_sdk_vector_verifies_with_clock_at_its_timestamp():
    # SDK timestamp 15000000 ms = 15000 s after the epoch; the request arrives 10 s later.
    delivery = verifier().verify(request(SDK_BODY, v3_headers(), url=URL, received_at=at(15_010)))
    assert delivery.body == SDK_BODY and delivery.secret_index == 0 and delivery.signed_at == at(15_000)


def test_v3_stale_timestamp_is_a_replay():
    with pytest.raises(SignatureError) as err:
        verifier().verify(request(SDK_BODY, v3_headers(), url=URL, received_at=at(15_000 + 301)))
    assert err.value.reason == "timestamp_outside_window"


def test_v3_window_is_configurable():
    delivery = verifier(tolerance_seconds=600).verify(request(SDK_BODY, v3_headers(), url=URL, received_at=at(15_000 + 500)))
    assert delivery.signed_at == at(15_000)


@pytest.mark.parametrize(
    "change",
    [
        {"body": SDK_BODY + b" "},
        {"url": URL + "?x=1"},
        {"method": "PUT"},
        {"headers": v3_headers(timestamp="15000001")},
        {"headers": v3_headers(signature=base64.b64encode(b"\0" * 32).decode())},
    ],
)
def test_v3_forged_inputs_are_refused(change):
    kwargs = {"body": SDK_BODY, "headers": v3_headers(), "url": URL, "received_at": at(15_010)} | change
    body = kwargs.pop("body")
    with pytest.raises(SignatureError) as err:
        verifier().verify(request(body, **kwargs))
    assert err.value.reason == "bad_signature" and err.value.status == 401


def test_v3_missing_and_malformed_headers():
    with pytest.raises(SignatureError) as err:
        verifier().verify(request(SDK_BODY, {}, url=URL))
    assert err.value.reason == "missing_signature"
    with pytest.raises(SignatureError) as err:
        verifier().verify(request(SDK_BODY, {"X-HubSpot-Signature-v3": "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="}, url=URL))
    assert err.value.reason == "missing_timestamp"
    with pytest.raises(SignatureError) as err:
        verifier().verify(request(SDK_BODY, v3_headers(timestamp="15e6"), url=URL))
    assert err.value.reason == "malformed_timestamp"
    with pytest.raises(SignatureError) as err:
        verifier().verify(request(SDK_BODY, v3_headers(signature="not base64!!"), url=URL))
    assert err.value.reason == "malformed_signature"


def test_v3_header_names_are_case_insensitive():
    headers = {k.lower(): v for k, v in v3_headers().items()}
    assert verifier().verify(request(SDK_BODY, headers, url=URL, received_at=at(15_001))).scheme == "hubspot"


def test_rotation_previous_secret_still_accepted_and_reported():
    secrets = {"NEW": "a-new-client-secret", "OLD": SECRET}
    delivery = verifier(secrets=secrets).verify(request(SDK_BODY, v3_headers(), url=URL, received_at=at(15_001)))
    assert delivery.secret_index == 1
    with pytest.raises(SignatureError):
        verifier(secrets={"NEW": "a-new-client-secret"}).verify(request(SDK_BODY, v3_headers(), url=URL, received_at=at(15_001)))


def test_configured_public_url_replaces_the_internal_one():
    # Behind API Gateway the Lambda may see another host/stage; HubSpot signed the public URL.
    inside = "https://abc123.execute-api.us-east-1.amazonaws.com/api/webhooks/hubspot"
    delivery = verifier(url=URL).verify(request(SDK_BODY, v3_headers(), url=inside, received_at=at(15_001)))
    assert delivery.secret_index == 0


def test_v3_uri_with_percent_escapes_verifies_in_decoded_form():
    url = "https://www.example.com/webhook_uri?email=a%40b.example"
    decoded = "https://www.example.com/webhook_uri?email=a@b.example"
    signature = v3_signature(SECRET, "POST", decoded, SDK_BODY, "1700000000000")
    delivery = verifier().verify(request(SDK_BODY, v3_headers(signature, "1700000000000"), url=url, received_at=at(1_700_000_000)))
    assert delivery.signed_at == at(1_700_000_000)


def test_legacy_v1_docs_vector_only_when_enabled():
    headers = {
        "X-HubSpot-Signature": "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de",
        "X-HubSpot-Signature-Version": "v1",
    }
    assert verifier(versions=["v3", "v1"]).verify(request(DOCS_BODY, headers)).body == DOCS_BODY
    with pytest.raises(SignatureError) as err:
        verifier(versions=["v3"]).verify(request(DOCS_BODY, headers))
    assert err.value.reason == "missing_signature"
    with pytest.raises(SignatureError) as err:
        verifier(versions=["v1"]).verify(request(DOCS_BODY + b" ", headers))
    assert err.value.reason == "bad_signature"


def test_legacy_v2_docs_get_vector():
    headers = {
        "X-HubSpot-Signature": "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e",
        "X-HubSpot-Signature-Version": "v2",
    }
    assert verifier(versions=["v2"]).verify(request(b"", headers, method="GET", url=URL)).scheme == "hubspot"
    with pytest.raises(SignatureError) as err:
        verifier(versions=["v1"]).verify(request(b"", headers, method="GET", url=URL))
    assert err.value.reason == "unsupported_signature_version"


def test_failing_v3_never_falls_back_to_legacy():
    headers = v3_headers(signature=base64.b64encode(b"\1" * 32).decode()) | {
        "X-HubSpot-Signature": "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750",
        "X-HubSpot-Signature-Version": "v1",
    }
    with pytest.raises(SignatureError) as err:
        verifier(versions=["v3", "v1"]).verify(request(SDK_BODY, headers, url=URL, received_at=at(15_001)))
    assert err.value.reason == "bad_signature"
