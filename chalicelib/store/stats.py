"""Per-connector, per-hour counters of what happened to inputs, for the console's overview chart.

One item per (connector, UTC hour) in their own table (``salesbridge-stats``; key in chalicelib.store.keys),
holding one number per outcome and expiring after 35 days (TTL).
Each SQS batch adds its tallies with one ``UpdateItem … ADD`` per connector; the door adds one
per refusal.

The counters are approximate, on purpose: they are written after the batch, outside the
records' transactions, so a batch that is redelivered after a crash counts its records
again, and a counter write that fails is logged and dropped. Keeping them exact would put
a hot item into every record's transaction (conflicts between all records of a connector)
for a number that only draws a chart; the audit trail stays the exact account. They live
apart from the state table because they are not state: a replayed or redelivered input
must leave the state exactly as one delivery would, and the counters cannot promise that.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.runtime import aws
from chalicelib.store import dynamo, keys

log = logging.getLogger("salesbridge.stats")

# What the overview shows; "received" counts every input a batch finished with.
OUTCOMES = ("received", "applied", "stale", "skipped", "duplicate", "quarantined", "refused")
RETENTION_DAYS = 35


def hour_of(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H")


def _key(connector: str, hour: str) -> dict[str, dict[str, str]]:
    return dynamo.key_of(*keys.hourly_counts(connector, hour))


def add(table: str, connector: str, counts: Mapping[str, int], at: datetime | None = None) -> bool:
    """Add ``counts`` to the connector's current hour in one request; False (logged) when it failed."""
    wanted = {name: int(n) for name, n in counts.items() if n and name in OUTCOMES}
    if not wanted:
        return True
    moment = at or datetime.now(UTC)
    hour = hour_of(moment)
    names = {f"#{name}": name for name in wanted}
    values = {f":{name}": {"N": str(n)} for name, n in wanted.items()}
    values[":expires"] = {"N": str(int((moment + timedelta(days=RETENTION_DAYS)).timestamp()))}
    try:
        aws.client("dynamodb").update_item(
            TableName=table,
            Key=_key(connector, hour),
            UpdateExpression="ADD "
            + ", ".join(f"#{name} :{name}" for name in wanted)
            + " SET expires_at = if_not_exists(expires_at, :expires)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except Exception:  # noqa: BLE001 - a chart's counter must never fail the work it counts
        log.warning("could not add %s to the counters of %s at %s", wanted, connector, hour, exc_info=True)
        return False
    return True


def count_outcomes(table: str, outcomes: Iterable[tuple[str, str]], at: datetime | None = None) -> int:
    """Tally a batch's ``(connector, outcome status)`` pairs: one request per connector; returns requests made."""
    per_connector: dict[str, Counter[str]] = {}
    for connector, status in outcomes:
        tally = per_connector.setdefault(connector, Counter())
        tally["received"] += 1
        tally[status] += 1
    for connector, tally in per_connector.items():
        add(table, connector, tally, at)
    return len(per_connector)


def count_refused(table: str, connector: str) -> bool:
    return add(table, connector, {"refused": 1})


# --------------------------------------------------------------------------- the door's refusals
# Exact, unlike the chart's counters: one ``ADD`` per refusal on one item per (connector, reason,
# minute), so a flood of refusals grows a number, not the table. The door keeps the first few of each
# minute in full in the audit trail; the count says how many there were in all.


def minute_of(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def count_refusal(table: str, connector: str, reason: str, at: datetime | None = None) -> int:
    """Count one refusal; returns how many this (connector, reason) has in the minute, this one included. Raises when it cannot."""
    moment = at or datetime.now(UTC)
    response = aws.client("dynamodb").update_item(
        TableName=table,
        Key=dynamo.key_of(*keys.refusal_counts(connector, minute_of(moment), reason)),
        UpdateExpression="ADD refused :one SET expires_at = if_not_exists(expires_at, :expires)",
        ExpressionAttributeValues={
            ":one": {"N": "1"},
            ":expires": {"N": str(int((moment + timedelta(days=RETENTION_DAYS)).timestamp()))},
        },
        ReturnValues="UPDATED_NEW",
    )
    return int(response["Attributes"]["refused"]["N"])


@dataclass(frozen=True)
class RefusalCount:
    connector: str
    minute: str  # "2026-11-25T08:15" (UTC)
    reason: str
    refused: int


def read_refusals(table: str, connector: str, since: datetime, until: datetime | None = None) -> list[RefusalCount]:
    """A connector's refusal counts per minute and reason from ``since`` to ``until`` (now), oldest first."""
    pk, first = keys.refusal_counts(connector, minute_of(since), "")
    _, last = keys.refusal_counts(connector, minute_of(until or datetime.now(UTC)), "~")
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":first": {"S": first}, ":last": {"S": last}},
    }
    found: list[RefusalCount] = []
    client = aws.client("dynamodb")
    while True:
        response = client.query(**kwargs)
        for item in response.get("Items", []):
            minute, reason = keys.minute_and_reason(item["sk"]["S"])
            found.append(RefusalCount(connector, minute, reason, int(item["refused"]["N"])))
        if "LastEvaluatedKey" not in response:
            return found
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


@dataclass(frozen=True)
class HourCounts:
    hour: str  # "2026-11-25T08" (UTC)
    counts: dict[str, int] = field(default_factory=dict)

    def get(self, outcome: str) -> int:
        return self.counts.get(outcome, 0)


def read_hours(table: str, connector: str, hours: int, now: datetime | None = None) -> list[HourCounts]:
    """The last ``hours`` hours (the current one included), oldest first; hours without traffic count zero."""
    end = (now or datetime.now(UTC)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    wanted = [hour_of(end - timedelta(hours=n)) for n in range(hours - 1, -1, -1)]
    found: dict[str, dict[str, int]] = {}
    (pk, first), (_, last) = keys.hourly_counts(connector, wanted[0]), keys.hourly_counts(connector, wanted[-1])
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":first": {"S": first}, ":last": {"S": last}},
    }
    client = aws.client("dynamodb")
    while True:
        response = client.query(**kwargs)
        for item in response.get("Items", []):
            found[keys.hour_of_counts(item["sk"]["S"])] = {
                name: int(item[name]["N"]) for name in OUTCOMES if name in item and "N" in item[name]
            }
        if "LastEvaluatedKey" not in response:
            break
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return [HourCounts(hour, found.get(hour, {})) for hour in wanted]
