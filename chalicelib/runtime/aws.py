"""boto3 clients, created once per Lambda container and reused across invocations."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str) -> Any:
    from chalicelib.runtime import tracing

    tracing.install()  # before the first client: its calls are traced
    return boto3.session.Session().client(service, config=_CONFIG)


def reset_clients() -> None:
    """Forget cached clients (tests point boto3 at a fresh endpoint)."""
    client.cache_clear()
