"""Test helpers: drive the app like Lambda does, against the moto server."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

DEMO_SECRET = "demo-secret"
ADMIN_TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def demo_body(
    customer_id: str = "C-1001",
    tier: str = "Gold",
    updated_at: str = "2026-11-01T08:00:00+08:00",
    event_id: str | None = None,
    **extra: Any,
) -> bytes:
    customer = {"id": customer_id, "name": "Acme Trading", "tier": tier, "email": "buyer@acme.example", "updated_at": updated_at, **extra}
    return json.dumps({"event_id": event_id or f"evt-{customer_id}-{updated_at}", "customer": customer}).encode()


def demo_signature(body: bytes, secret: str = DEMO_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_demo(client: Any, body: bytes, signature: str | None = None) -> Any:
    headers = {"Content-Type": "application/json", "X-Demo-Signature": signature or demo_signature(body)}
    return client.http.post("/webhooks/demo_crm", headers=headers, body=body)


def drain(max_rounds: int = 20) -> int:
    """Run the queue handler until both lanes (webhook, bulk) are empty, as the local worker does; returns messages handled."""
    import os

    import app as application
    from chalicelib.runtime.queue import LANES
    from local.worker import poll_lanes_once

    lanes = [os.environ[lane.queue_env] for lane in LANES]
    total = 0
    for _ in range(max_rounds):
        handled = poll_lanes_once(application.process_inbound, lanes, wait_seconds=0)
        if handled == 0:
            break
        total += handled
    return total


def get_json(client: Any, path: str) -> tuple[int, Any]:
    response = client.http.get(path, headers=ADMIN)
    return response.status_code, json.loads(response.body or b"null")
