"""Test helpers: a client wired for tests (no real sleeping), a collecting sink, server factories."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from chalicelib.connectors.api_config import ApiSections
from chalicelib.connectors.rate_budget import MemoryBucketStore
from chalicelib.connectors.registry import build_client
from chalicelib.domain.inbound import InboundRecord
from tests.vendor_servers import configs
from tests.vendor_servers.generic import GenericServer
from tests.vendor_servers.hubspot import HubSpotServer
from tests.vendor_servers.kingdee import KingdeeServer
from tests.vendor_servers.odoo import OdooServer
from tests.vendor_servers.salesforce import SalesforceServer
from tests.vendor_servers.shopify import ShopifyServer


class Sleeps(list):
    """An injected sleep that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Sink:
    """Collects what would be enqueued; can be told to fail on its Nth call (an enqueue failure)."""

    def __init__(self, fail_on_call: int | None = None, error: type[BaseException] = RuntimeError):
        self.records: list[InboundRecord] = []
        self.calls = 0
        self.fail_on_call, self.error = fail_on_call, error

    def __call__(self, records: list[InboundRecord]) -> None:
        self.calls += 1
        if self.fail_on_call == self.calls:
            raise self.error(f"queue unavailable on call {self.calls}")
        self.records.extend(records)

    @property
    def keys(self) -> list[str]:
        return [r.dedupe_key for r in self.records]


def test_client(config: ApiSections, sleeps: Callable[[float], None] | None = None, **kwargs: Any) -> Any:
    return build_client(
        config, configs.resolve, sleep=sleeps if sleeps is not None else Sleeps(), budget_store=MemoryBucketStore(), **kwargs
    )


test_client.__test__ = False  # type: ignore[attr-defined]

# kind → (server factory(records, **kw), config factory(url, page_size, overlap), record id of server row)
KINDS: dict[str, tuple[Callable[..., Any], Callable[..., ApiSections]]] = {
    "salesforce": (SalesforceServer, lambda url, page_size, overlap: configs.salesforce(url, page_size=page_size, overlap=overlap)),
    "hubspot": (HubSpotServer, lambda url, page_size, overlap: configs.hubspot(url, page_size=page_size, overlap=overlap)),
    "odoo": (OdooServer, lambda url, page_size, overlap: configs.odoo(url, page_size=page_size, overlap=overlap)),
    "kingdee": (KingdeeServer, lambda url, page_size, overlap: configs.kingdee(url, page_size=page_size, overlap=overlap)),
    "shopify": (
        lambda records=0, **kw: ShopifyServer(records, leak_per_second=1e6, **kw),
        lambda url, page_size, overlap: configs.shopify(url, page_size=page_size, overlap=overlap),
    ),
    "generic_rest": (GenericServer, lambda url, page_size, overlap: configs.generic(url, "cursor", page_size=page_size, overlap=overlap)),
}


def expected_keys(connector: str, object_type: str, server: Any) -> set[str]:
    """The dedupe keys a complete sync of ``server``'s current dataset must produce."""

    keys = set()
    for row in server.dataset.records.values():
        modified = row["modified"].astimezone(UTC).isoformat(timespec="microseconds")
        keys.add(f"{connector}:{object_type}:{row['id']}:{modified}")
    return keys
