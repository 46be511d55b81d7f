"""Sync bookkeeping in the state table: stream watermarks, stream leases, shared rate budgets.

Each is one small item updated with a conditional write, so overlapping runs (a
schedule and a backfill, or two Lambdas) can never move a watermark backwards,
pull one stream twice at once, or spend more of a vendor's budget than it holds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.connectors.base import Position
from chalicelib.connectors.rate_budget import BucketState, refill
from chalicelib.errors import BudgetExhausted
from chalicelib.runtime import aws
from chalicelib.runtime.settings import Settings
from chalicelib.store import dynamo, keys
from chalicelib.sync.watermark import Watermark


def _conditional_failed(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class DynamoWatermarkStore:
    """Where each stream's sync has got to: one item per stream."""

    def __init__(self, settings: Settings):
        self.table = settings.state_table
        self.writes = 0

    def load(self, connector: str, stream: str) -> Watermark | None:
        item = dynamo.get(self.table, *keys.watermark(connector, stream))
        if not item:
            return None
        position = Position(datetime.fromisoformat(item["modified"]), item["record_id"])
        updated = datetime.fromisoformat(item["updated_at"]) if "updated_at" in item else None
        return Watermark(position, item.get("run_id"), updated)

    def advance(self, connector: str, stream: str, position: Position, *, run_id: str) -> bool:
        self.writes += 1
        try:
            aws.client("dynamodb").update_item(
                TableName=self.table,
                Key=dynamo.key_of(*keys.watermark(connector, stream)),
                UpdateExpression="SET modified = :m, record_id = :i, order_key = :k, run_id = :r, updated_at = :u",
                ConditionExpression="attribute_not_exists(pk) OR order_key < :k",
                ExpressionAttributeValues={
                    ":m": {"S": position.modified.astimezone(UTC).isoformat(timespec="microseconds")},
                    ":i": {"S": position.id},
                    ":k": {"S": position.sortable()},
                    ":r": {"S": run_id},
                    ":u": {"S": datetime.now(UTC).isoformat(timespec="microseconds")},
                },
            )
            return True
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise


SCHEDULE_SECONDS = 300  # app.py's schedule: a stream due "every run" is due every five minutes


@dataclass(frozen=True)
class Lease:
    taken: bool
    overdue_seconds: float  # how long past its schedule the stream last caught up (0: on time)


class SyncLeases:
    """One lease item per stream: a stream is pulled by one run at a time, and only when due.

    The item also remembers when the stream last caught up, so every run can say how far
    past its schedule each stream is (the SyncOverdue alarm), from the one conditional write.
    """

    def __init__(self, settings: Settings):
        self.table = settings.state_table

    def take(self, connector: str, stream: str, interval: int, hold_seconds: int, now: float | None = None) -> Lease:
        """Claim the stream if it is due and nobody holds it."""
        now = time.time() if now is None else now
        pk, sk = keys.sync_lease(connector, stream)
        try:
            previous = (
                aws.client("dynamodb")
                .update_item(
                    TableName=self.table,
                    Key=dynamo.key_of(pk, sk),
                    UpdateExpression="SET started_at = :now, held_until = :hold, first_run = if_not_exists(first_run, :now)",
                    ConditionExpression="attribute_not_exists(pk) OR (started_at <= :due AND held_until <= :now)",
                    ExpressionAttributeValues={
                        ":due": {"N": str(int(now - interval))},
                        ":now": {"N": str(int(now))},
                        ":hold": {"N": str(int(now + hold_seconds))},
                    },
                    ReturnValues="ALL_OLD",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                .get("Attributes", {})
            )
            taken = True
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            previous, taken = exc.response.get("Item", {}), False
        caught_up = previous.get("caught_up_at") or previous.get("first_run") or {"N": str(int(now))}
        return Lease(taken, max(0.0, now - float(caught_up["N"]) - max(interval, SCHEDULE_SECONDS)))

    def release(self, connector: str, stream: str, caught_up: bool = False) -> None:
        values = {":zero": {"N": "0"}} | ({":now": {"N": str(int(time.time()))}} if caught_up else {})
        aws.client("dynamodb").update_item(
            TableName=self.table,
            Key=dynamo.key_of(*keys.sync_lease(connector, stream)),
            UpdateExpression="SET held_until = :zero" + (", caught_up_at = :now" if caught_up else ""),
            ExpressionAttributeValues=values,
        )


class DynamoBucketStore:
    """The shared token bucket of one target API, updated with optimistic concurrency."""

    def __init__(self, settings: Settings, *, max_conflicts: int = 50):
        self.table = settings.state_table
        self.max_conflicts = max_conflicts
        self._known: dict[str, BucketState | None] = {}
        self.writes = 0

    def take(self, api: str, *, capacity: float, rate: float, cost: float, now: float) -> float:
        key = dynamo.key_of(*keys.rate_budget(api))
        state = self._known.get(api) if api in self._known else self._read(key)
        for _ in range(self.max_conflicts):
            tokens = refill(state, capacity=capacity, rate=rate, now=now)
            if tokens < cost:  # a stale view only overestimates tokens, so this wait is a lower bound
                self._known[api] = state
                return (cost - tokens) / rate
            fresh = BucketState(tokens - cost, max(now, state.updated if state else now), (state.version + 1) if state else 1)
            if self._write(key, fresh, state):
                self._known[api] = fresh
                return 0.0
            state = self._read(key)
        raise BudgetExhausted(f"rate budget {api!r}: {self.max_conflicts} conflicting updates in a row")

    def _read(self, key: dict[str, Any]) -> BucketState | None:
        item = aws.client("dynamodb").get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        if not item:
            return None
        return BucketState(float(item["tokens"]["N"]), float(item["updated"]["N"]), int(item["version"]["N"]))

    def _write(self, key: dict[str, Any], fresh: BucketState, seen: BucketState | None) -> bool:
        self.writes += 1
        values = {":t": {"N": _number(fresh.tokens)}, ":u": {"N": _number(fresh.updated)}, ":v": {"N": str(fresh.version)}}
        if seen is None:
            condition = "attribute_not_exists(pk)"
        else:
            condition = "version = :seen"
            values[":seen"] = {"N": str(seen.version)}
        try:
            aws.client("dynamodb").update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET tokens = :t, updated = :u, version = :v",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
            return True
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise


def _number(value: float) -> str:
    return str(Decimal(repr(value)).quantize(Decimal("0.000001")))
