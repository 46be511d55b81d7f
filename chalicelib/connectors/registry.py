"""From a validated connector config to a ready client and source: the one place kinds are named."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.connectors.api_config import ApiSections, StreamConfig
from chalicelib.connectors.base import Source
from chalicelib.connectors.rate_budget import BucketStore

Resolver = Callable[[dict[str, Any]], str]


def build_client(
    config: ApiSections,
    resolve: Resolver,
    *,
    deadline: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
    budget_store: BucketStore | None = None,
    transport: Any = None,
) -> Any:
    """An ApiClient for ``config.api``: auth from secret references, the shared budget, retry policy."""
    import time

    from chalicelib.connectors.auth import build_auth
    from chalicelib.connectors.client import ApiClient
    from chalicelib.connectors.rate_budget import RateBudget
    from chalicelib.connectors.retry import RetryPolicy

    api = config.api
    sleep = sleep if sleep is not None else time.sleep
    policy = RetryPolicy(max_attempts=api.retry.max_attempts, max_wait=api.retry.max_wait_seconds, sleep=sleep, deadline=deadline)
    budget = None
    if api.rate_limit is not None:
        if budget_store is None:
            raise ValueError(f"connector {config.name}: its rate_limit needs a budget store (the shared one in DynamoDB in production)")
        budget = RateBudget(
            api.rate_limit.budget or config.name,
            rate=api.rate_limit.requests_per_second,
            capacity=api.rate_limit.burst,
            store=budget_store,
            sleep=sleep,
            deadline=deadline,
        )
    auth = None if config.kind in ("odoo", "kingdee") else build_auth(api.auth, resolve)  # both log in with a call
    return ApiClient(
        api.base_url,
        auth=auth,
        budget=budget,
        retry=policy,
        timeout=api.timeout_seconds,
        headers=dict(api.headers),
        transport=transport,
        sleep=sleep,
    )


def build_source(config: ApiSections, stream: StreamConfig, client: Any, resolve: Resolver | None = None) -> Source:
    if config.kind == "salesforce":
        from chalicelib.connectors.salesforce import SalesforceSource

        return SalesforceSource(config, stream, client)
    if config.kind == "hubspot":
        from chalicelib.connectors.hubspot import HubSpotSource

        return HubSpotSource(config, stream, client)
    if config.kind == "odoo":
        from chalicelib.connectors.odoo import OdooSource

        return OdooSource(config, stream, client, resolve)
    if config.kind == "kingdee":
        from chalicelib.connectors.kingdee import KingdeeSource

        return KingdeeSource(config, stream, client, resolve)
    if config.kind == "shopify":
        from chalicelib.connectors.shopify import ShopifySource

        return ShopifySource(config, stream, client)
    from chalicelib.connectors.generic_rest import GenericRestSource

    return GenericRestSource(config, stream, client)
