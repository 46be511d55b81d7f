"""Sync throughput vs a bare httpx loop over the same 10,000 records from the same loopback server.

Prints one line: records/second of each (best of 3 alternating runs) and their ratio
(target ≥ 0.8). The sync runs the real path — config validation, auth, rate budget,
retry policy, pagination, position checks, InboundRecord building, checkpoint per
page — with the in-memory watermark and budget stores, so DynamoDB latency (a
moto stand-in here) is not what is measured.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from chalicelib.connectors.rate_budget import MemoryBucketStore  # noqa: E402
from chalicelib.connectors.registry import build_client  # noqa: E402
from chalicelib.sync.runner import run_stream  # noqa: E402
from chalicelib.sync.watermark import MemoryWatermarkStore  # noqa: E402
from tests.vendor_servers import configs  # noqa: E402
from tests.vendor_servers.generic import GenericServer  # noqa: E402

RECORDS, PAGE = 10_000, 200


def bare(url: str) -> int:
    """The floor: fetch every page with httpx, parse JSON, follow the cursor. Nothing else."""
    count, cursor = 0, None
    with httpx.Client(base_url=url, headers={"X-API-Key": "k-123"}) as client:
        while True:
            params = {"size": PAGE, **({"cursor": cursor} if cursor else {})}
            body = client.get("/api/cursor/items", params=params).json()
            count += len(body["data"])
            cursor = body["meta"]["next_cursor"]
            if not cursor:
                return count


def synced(url: str) -> int:
    config = configs.load(f"""
name: bench
kind: generic_rest
api:
  base_url: {url}
  auth: {{type: api_key, header: X-API-Key, key: {{env: GENERIC_KEY}}}}
  rate_limit: {{requests_per_second: 100000, burst: 100000}}
streams:
  - name: items
    object: item
    endpoint: /api/cursor/items
    params: {{size: {PAGE}}}
    records_path: data
    pagination: {{style: body_cursor, cursor_path: meta.next_cursor, param: cursor}}
    id_field: uuid
    cursor_field: updated_at
    page_size: {PAGE}
""")
    collected: list = []
    with build_client(config, configs.resolve, budget_store=MemoryBucketStore()) as client:
        result = run_stream(
            config, config.streams[0], sink=collected.extend, deadline=lambda: 900.0, client=client, store=MemoryWatermarkStore()
        )
    assert result.reason == "caught_up" and len({r.dedupe_key for r in collected}) == RECORDS, result
    return len(collected)


def rate(fn, url: str) -> float:
    started = time.perf_counter()
    count = fn(url)
    return count / (time.perf_counter() - started)


def main() -> None:
    with GenericServer(RECORDS) as server:
        bare(server.url), synced(server.url)  # warm up both paths
        bare_best = sync_best = 0.0
        for _ in range(3):
            bare_best = max(bare_best, rate(bare, server.url))
            sync_best = max(sync_best, rate(synced, server.url))
    ratio = sync_best / bare_best
    verdict = "ok" if ratio >= 0.8 else "BELOW TARGET"
    print(
        f"sync throughput: {sync_best:,.0f} records/s vs bare httpx loop {bare_best:,.0f} records/s over "
        f"{RECORDS:,} records in pages of {PAGE} (loopback server, in-memory watermark+budget stores, best of 3) "
        f"ratio {ratio:.2f} (target >= 0.8: {verdict})"
    )


if __name__ == "__main__":
    main()
