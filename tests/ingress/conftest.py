from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib.errors import SecretError
from chalicelib.ingress.request import InboundRequest
from chalicelib.ingress.webhook_config import parse_webhook_section
from chalicelib.runtime.secrets import SecretResolver

VENDORS = Path(__file__).parent / "fixtures" / "vendors"
FIXTURES = Path(__file__).parent / "fixtures"


def vendor_bytes(relative: str) -> bytes:
    return (VENDORS / relative).read_bytes()


def at(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=UTC)


def request(
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    method: str = "POST",
    url: str = "https://hooks.example.com/webhooks/test",
    query: dict[str, str] | None = None,
    received_at: datetime | None = None,
) -> InboundRequest:
    return InboundRequest(
        method=method,
        path="/webhooks/test",
        headers=headers or {},
        body=body,
        query=query or {},
        source_ip="203.0.113.9",
        received_at=received_at or datetime.now(UTC),
        url=url,
    )


class TableSecrets(SecretResolver):
    """A real resolver whose backing store is a dict keyed by ``{env: NAME}`` names (no AWS needed)."""

    def __init__(self, values: dict[str, str]) -> None:
        def read(ref: Any) -> str:
            try:
                return values[ref.env]
            except KeyError:
                raise SecretError(f"{ref.describe()}: not set") from None

        super().__init__(reader=read)


def config(section: dict[str, Any]) -> Any:
    return parse_webhook_section(section)


@pytest.fixture()
def table_secrets():
    return TableSecrets
