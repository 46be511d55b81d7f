"""boto3 clients, created once per Lambda container and reused across invocations.

They share one session: each session loads botocore's endpoint, partition and default
configuration data again, which a cold start that makes two clients would otherwise pay twice.
A session is not safe for making clients from several threads at once, so making one is locked.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)

_lock = threading.Lock()
_session: boto3.session.Session | None = None
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    found = _clients.get(service)
    if found is not None:
        return found
    from chalicelib.runtime import tracing

    global _session
    with _lock:
        if service not in _clients:
            tracing.install()  # before the first client: its calls are traced
            if _session is None:
                _session = boto3.session.Session()
            _clients[service] = _session.client(service, config=_CONFIG)
        return _clients[service]


def load_models(services: tuple[str, ...]) -> None:
    """Read these services' SDK descriptions into the shared session ahead of their first client.

    No client is made, so no credentials are resolved and no connection is opened: safe in an init
    that Lambda snapshots (chalicelib/runtime/snapstart.py). The first client then finds the models read.
    """
    global _session
    with _lock:
        if _session is None:
            _session = boto3.session.Session()
        core = _session._session
        core.get_component("endpoint_resolver")  # reads endpoints.json and the partitions
        loader = core.get_component("data_loader")
        for service in services:
            core.get_service_model(service)
            loader.load_service_model(service, "endpoint-rule-set-1", api_version=None)


def reset_clients() -> None:
    """Forget the session and its clients (tests point boto3 at a fresh endpoint)."""
    global _session
    with _lock:
        _session = None
        _clients.clear()
