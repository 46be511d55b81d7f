"""`salesbridge send CONNECTOR FILE` — deliver a payload to the door signed as that vendor signs it.

The signature is made with the connector's current secret, read the way the app reads it (the
local stack's SSM by default), so a newcomer can exercise every vendor path of a running stack:

    salesbridge send shopify order.json -H "X-Shopify-Topic: orders/create"
    salesbridge send hubspot events.json --curl        # print the signed curl instead of sending

WeCom and DingTalk callbacks are encrypted, not just signed: `send` does not forge them.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import shlex
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode


class SendError(Exception):
    pass


@dataclass
class Signed:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def curl(self) -> str:
        parts = ["curl", "-s", "-X", "POST", shlex.quote(self.url)]
        for name, value in self.headers.items():
            parts += ["-H", shlex.quote(f"{name}: {value}")]
        parts += ["--data-binary", shlex.quote(self.body.decode("utf-8", "replace"))]
        return " ".join(parts)


def content_type(body: bytes) -> str:
    text = body.lstrip()
    if text.startswith(b"<"):
        return "text/xml; charset=utf-8"
    try:
        json.loads(body)
    except ValueError:
        return "text/plain; charset=utf-8"
    return "application/json"


def sign(webhook: Any, secret: str, url: str, body: bytes, headers: dict[str, str], now: float | None = None) -> Signed:
    """The request a vendor using ``webhook.scheme`` would send to ``url`` with ``body``."""
    now = time.time() if now is None else now
    headers = {"Content-Type": content_type(body), **headers}
    key = secret.encode("utf-8")
    scheme = webhook.scheme
    if scheme == "generic_hmac":
        from chalicelib.ingress.verify.generic_hmac import signed_message

        timestamp = ""
        if webhook.timestamp_header:
            timestamp = str(int(now * 1000) if webhook.timestamp_unit == "milliseconds" else int(now))
            headers[webhook.timestamp_header] = timestamp
        digest = hmac.new(key, signed_message(webhook.signed_payload, body, timestamp, "POST", url), getattr(hashlib, webhook.algorithm))
        value = digest.hexdigest() if webhook.encoding == "hex" else base64.b64encode(digest.digest()).decode("ascii")
        headers[webhook.header] = webhook.prefix + value
    elif scheme == "hubspot":
        from chalicelib.ingress.verify.hubspot import V3_HEADER, V3_TIMESTAMP, v3_signature

        if "v3" not in webhook.versions:
            raise SendError("this HubSpot connector accepts only legacy signatures (v1/v2); send signs v3")
        timestamp = str(int(now * 1000))
        headers |= {V3_TIMESTAMP: timestamp, V3_HEADER: v3_signature(secret, "POST", webhook.url or url, body, timestamp)}
    elif scheme == "shopify":
        headers[webhook.header] = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode("ascii")
        headers.setdefault("X-Shopify-Webhook-Id", str(uuid.uuid4()))
        if not any(name.lower() == "x-shopify-topic" for name in headers):
            raise SendError('Shopify deliveries name their topic: add -H "X-Shopify-Topic: orders/create" (or the topic you send)')
    elif scheme == "square":
        message = (webhook.notification_url or url).encode("utf-8") + body
        headers["x-square-hmacsha256-signature"] = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")
    elif scheme == "stripe_style":
        from chalicelib.ingress.verify.stripe_style import sign as stripe_sign

        timestamp = str(int(now))
        headers[webhook.header] = f"t={timestamp},v1={stripe_sign(secret, timestamp, body).hex()}"
    elif scheme == "standard_webhooks":
        from chalicelib.ingress.verify.standard_webhooks import sign as standard_sign
        from chalicelib.ingress.verify.standard_webhooks import signing_key

        msg_id, timestamp = headers.setdefault("webhook-id", f"msg_{uuid.uuid4().hex}"), str(int(now))
        signature = base64.b64encode(standard_sign(signing_key(secret), msg_id, timestamp, body)).decode("ascii")
        headers |= {"webhook-timestamp": timestamp, "webhook-signature": f"v1,{signature}"}
    elif scheme == "salesforce_outbound":
        shared = webhook.shared_secret
        if shared is not None and shared.header:
            headers[shared.header] = secret
        elif shared is not None:
            url += ("&" if "?" in url else "?") + urlencode({shared.query: secret})
    else:
        raise SendError(f"{scheme} callbacks are encrypted by the vendor, not only signed: send cannot make them")
    return Signed(url, body, headers)


def current_secret(webhook: Any) -> str | None:
    """The first (current) secret the connector lists; None when the scheme needs none (Salesforce without a shared secret)."""
    if webhook.scheme == "salesforce_outbound":
        refs = webhook.shared_secret.secrets if webhook.shared_secret else []
    else:
        refs = list(getattr(webhook, "secrets", []))
    if not refs:
        return None
    from chalicelib.errors import SecretError
    from chalicelib.runtime.secrets import read_secret

    try:
        return read_secret(refs[0])
    except SecretError as exc:
        raise SendError(f"cannot read the connector's secret ({exc}); is `make run` running? or pass --secret") from None


def parse_headers(values: list[str]) -> dict[str, str]:
    headers = {}
    for value in values:
        name, sep, text = value.partition(":")
        if not sep or not name.strip():
            raise SendError(f"-H takes 'Name: value', got {value!r}")
        headers[name.strip()] = text.strip()
    return headers


def register(subparsers: Any, root: Path) -> None:
    p = subparsers.add_parser("send", help="deliver a payload to the door, signed for a configured connector with its local secret")
    p.add_argument("connector", help="a connector in connectors/, e.g. shopify")
    p.add_argument("payload", help="the body to send (JSON or XML file), or - for standard input")
    p.add_argument("-H", "--header", action="append", default=[], help="an extra header, 'Name: value' (repeatable)")
    p.add_argument("--secret", help="sign with this secret instead of the connector's current one")
    p.add_argument("--curl", action="store_true", help="print the signed request as a curl command; send nothing")
    p.add_argument("--root", default=str(root))
    p.set_defaults(func=cmd_send)


def cmd_send(args: argparse.Namespace) -> int:
    import os

    import httpx

    from chalicelib.configuration import load_configuration
    from cli.main import CliError, _local_env

    try:
        connector = load_configuration(Path(args.root).resolve()).connectors.get(args.connector)
        if connector is None or connector.webhook is None:
            raise SendError(f"no connector {args.connector!r} with a webhook: section in connectors/")
        body = sys.stdin.buffer.read() if args.payload == "-" else Path(args.payload).read_bytes()
        base = (args.url or os.environ.get("SALESBRIDGE_URL") or "http://127.0.0.1:8000").rstrip("/")
        if args.secret is None:
            os.environ.update({k: v for k, v in _local_env().items() if k not in os.environ})  # the local stack's SSM
        secret = args.secret if args.secret is not None else current_secret(connector.webhook)
        signed = sign(connector.webhook, secret or "", f"{base}/webhooks/{args.connector}", body, parse_headers(args.header))
    except (SendError, OSError) as exc:
        raise CliError(str(exc)) from None
    if args.curl:
        print(signed.curl())
        return 0
    try:
        response = httpx.post(signed.url, content=signed.body, headers=signed.headers, timeout=30)
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach {base}: {exc} (is `make run` running?)") from None
    print(f"{response.status_code} {response.text}")
    return 0 if response.status_code < 300 else 1
