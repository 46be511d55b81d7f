"""The timers-due index as the poller asks it (moto over HTTP): every shard, earliest deadline first overall."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain.state import StateKey


def test_due_lists_every_shard_earliest_first_and_nothing_not_yet_due(aws) -> None:
    from chalicelib.runtime import aws as clients
    from chalicelib.runtime.settings import get_settings, reset_settings
    from chalicelib.store import keys
    from chalicelib.store.timer_index import DynamoTimerIndex

    reset_settings()
    settings = get_settings()
    base = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    due_at = {f"L{n}": base + timedelta(seconds=(n * 37) % 300) for n in range(40)}  # shuffled times over five minutes
    due_at["late"] = base + timedelta(hours=1)  # not due yet
    shards = set()
    for lead, at in due_at.items():
        key = StateKey("rules", ("lead", lead))
        pk, sk = keys.state(key)
        index = keys.timer_index(key, {"next_fire_at": at.isoformat()})
        shards.add(index[keys.TIMER_SHARD])
        item = {"pk": {"S": pk}, "sk": {"S": sk}, **{name: {"S": value} for name, value in index.items()}}
        clients.client("dynamodb").put_item(TableName=settings.state_table, Item=item)
    assert len(shards) > 8  # the leads are spread over the shards
    found = DynamoTimerIndex(settings).due(base + timedelta(minutes=10))
    expected = sorted((at, lead) for lead, at in due_at.items() if lead != "late")
    assert [(at, key.parts[1]) for at, key in found] == expected
