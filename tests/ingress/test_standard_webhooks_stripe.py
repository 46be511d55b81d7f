"""Standard Webhooks v1 and Stripe-style t=,v1= against the published vectors.

Sources:
- standard-webhooks/standard-webhooks @b2fa7b87: the sign() vector shared by the Go, Python, PHP, JS,
  Java and C# test suites (secret whsec_MfKQ9r8G..., msg_p5jXN8AQM9LWM0D4loKWxJek, 1614265330,
  {"test": 2432232314} → v1,g0hM9SsE...) and their negative vectors — fixtures/vendors/standard_webhooks/SOURCES.md
- stripe/stripe-dotnet src/StripeTests/Resources/event_test_signature.json @946a3808 and the header of
  EventUtilityTest.cs @04a2fb3d (secret webhook_secret, t=1533204620) — fixtures/vendors/stripe/SOURCES.md
"""

from __future__ import annotations

import pytest

from chalicelib.errors import SecretError
from chalicelib.ingress.verify import SignatureError, make_verifier
from tests.ingress.conftest import TableSecrets, at, config, request, vendor_bytes

SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_BODY = vendor_bytes("standard_webhooks/test_vector_payload.txt")
SW_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
WRONG = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="


def standard(secrets=None):
    secrets = secrets or {"SW": SW_SECRET}
    return make_verifier(config({"scheme": "standard_webhooks", "secrets": [{"env": n} for n in secrets]}), TableSecrets(secrets))


def sw_headers(signature=SW_SIG, timestamp="1614265330", msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek"):
    return {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature}


def test_standard_webhooks_published_vector():
    delivery = standard().verify(request(SW_BODY, sw_headers(), received_at=at(1614265330 + 5)))
    assert delivery.signed_at == at(1614265330)


def test_multi_signature_header_any_valid_v1_accepted():
    # From the Go/JS/PHP/Java suites: wrong v1, a v2 entry, the valid v1, wrong v1 again.
    header = f"{WRONG} v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {SW_SIG} {WRONG}"
    assert standard().verify(request(SW_BODY, sw_headers(header), received_at=at(1614265330)))


@pytest.mark.parametrize("signature", [WRONG, "v1,", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLawdd", "v2," + SW_SIG[3:]])
def test_standard_webhooks_published_negative_vectors(signature):
    with pytest.raises(SignatureError) as err:
        standard().verify(request(SW_BODY, sw_headers(signature), received_at=at(1614265330)))
    assert err.value.reason == "bad_signature"


@pytest.mark.parametrize("timestamp", ["161426533.0", "invalid timestamp", "-161426533"])
def test_standard_webhooks_malformed_timestamps(timestamp):
    with pytest.raises(SignatureError) as err:
        standard().verify(request(SW_BODY, sw_headers(timestamp=timestamp), received_at=at(1614265330)))
    assert err.value.reason == "malformed_timestamp"


@pytest.mark.parametrize("offset", [-301, 301])
def test_standard_webhooks_window_is_two_sided(offset):
    # reference libraries: "Message timestamp too old" / "too new", 5 minutes
    with pytest.raises(SignatureError) as err:
        standard().verify(request(SW_BODY, sw_headers(), received_at=at(1614265330 + offset)))
    assert err.value.reason == "timestamp_outside_window"


def test_standard_webhooks_missing_headers():
    for missing, reason in (
        ("webhook-id", "missing_signature"),
        ("webhook-signature", "missing_signature"),
        ("webhook-timestamp", "missing_timestamp"),
    ):
        headers = sw_headers()
        del headers[missing]
        with pytest.raises(SignatureError) as err:
            standard().verify(request(SW_BODY, headers, received_at=at(1614265330)))
        assert err.value.reason == reason


def test_standard_webhooks_id_is_signed():
    with pytest.raises(SignatureError):
        standard().verify(request(SW_BODY, sw_headers(msg_id="msg_other"), received_at=at(1614265330)))


def test_standard_webhooks_rotation_and_bad_secret():
    assert (
        standard({"NEW": "whsec_" + "QUJD" * 8, "OLD": SW_SECRET})
        .verify(request(SW_BODY, sw_headers(), received_at=at(1614265330)))
        .secret_index
        == 1
    )
    # "empty secret" in the reference suites: a configuration fault, not a 401
    with pytest.raises(SecretError):
        standard({"SW": "whsec_"}).verify(request(SW_BODY, sw_headers(), received_at=at(1614265330)))


STRIPE_BODY = vendor_bytes("stripe/event_test_signature.json")
STRIPE_HEADER = vendor_bytes("stripe/stripe_signature_header.txt").decode()
T = 1533204620


def stripe(secrets=None, **extra):
    secrets = secrets or {"ST": "webhook_secret"}
    return make_verifier(config({"scheme": "stripe_style", "secrets": [{"env": n} for n in secrets], **extra}), TableSecrets(secrets))


def test_stripe_published_vector_inside_tolerance():
    delivery = stripe().verify(request(STRIPE_BODY, {"Stripe-Signature": STRIPE_HEADER}, received_at=at(T + 100)))
    assert delivery.signed_at == at(T)


def test_stripe_outside_tolerance():
    # stripe-dotnet: now = t + 300 + 100 → rejected
    with pytest.raises(SignatureError) as err:
        stripe().verify(request(STRIPE_BODY, {"Stripe-Signature": STRIPE_HEADER}, received_at=at(T + 400)))
    assert err.value.reason == "timestamp_outside_window"


@pytest.mark.parametrize("body", [STRIPE_BODY + b"this_changes_the_json", STRIPE_BODY.rstrip(b"\n")])
def test_stripe_changed_or_trimmed_body(body):
    with pytest.raises(SignatureError) as err:
        stripe().verify(request(body, {"Stripe-Signature": STRIPE_HEADER}, received_at=at(T)))
    assert err.value.reason == "bad_signature"


@pytest.mark.parametrize(
    "header",
    ["t=,v1=2220f87ef101a04665f11cdf770523143f875572008577fa0f20882ddb9cc3c7", "t,v1=,v0=", "t,v1=,v0", "t,v1=,", "t,,", ",,", "t"],
)
def test_stripe_published_malformed_headers(header):
    with pytest.raises(SignatureError) as err:
        stripe().verify(request(STRIPE_BODY, {"Stripe-Signature": header}, received_at=at(T)))
    assert err.value.reason in {"missing_timestamp", "missing_signature"}


def test_stripe_only_v0_refused_and_extra_invalid_v1_tolerated():
    v0_only = "t=1533204620,v0=63f3a72374a733066c4be69ed7f8e5ac85c22c9f0a6a612ab9a025a9e4ee7eef"
    with pytest.raises(SignatureError) as err:
        stripe().verify(request(STRIPE_BODY, {"Stripe-Signature": v0_only}, received_at=at(T)))
    assert err.value.reason == "missing_signature"
    extra = STRIPE_HEADER + ",v1=" + "deadbeef" * 8
    assert stripe().verify(request(STRIPE_BODY, {"Stripe-Signature": extra}, received_at=at(T)))


def test_stripe_rotation_and_custom_header():
    verifier = stripe({"NEW": "whsec_new", "OLD": "webhook_secret"}, header="X-Signature")
    assert verifier.verify(request(STRIPE_BODY, {"x-signature": STRIPE_HEADER}, received_at=at(T))).secret_index == 1
