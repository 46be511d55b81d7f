"""The pipeline's contract, in memory: dedupe → required_state_keys → one read → process → commit.

A dict stands in for the DynamoDB table and a dict of event ids for the outbox (the outbox delivers
each id once, so a second event with the same id is counted, not kept).
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.canonical import CanonicalRecord
from chalicelib.domain.events import CloudEvent
from chalicelib.errors import StateKeysMissing, TriggerInputError
from chalicelib.triggers.config import TriggerConfig
from chalicelib.triggers.process import MAX_KEYS, process, required_state_keys


class MemoryDriver:
    def __init__(self, config: TriggerConfig):
        self.config = config
        self.table: dict[tuple[str, str], dict[str, Any]] = {}
        self.seen: set[str] = set()
        self.outbox: dict[str, CloudEvent] = {}
        self.stats = {
            "delivered": 0,
            "deduplicated": 0,
            "applied": 0,
            "stale": 0,
            "quarantined": 0,
            "re-read": 0,
            "repeated event ids": 0,
            "max keys read": 0,
        }

    def deliver(self, dedupe_key: str, record: CanonicalRecord, entity_id: str) -> None:
        self.stats["delivered"] += 1
        if dedupe_key in self.seen:
            self.stats["deduplicated"] += 1
            return
        keys = required_state_keys(record, entity_id, self.config)
        while True:
            if len(keys) > MAX_KEYS:
                raise RuntimeError(f"{len(keys)} state keys for one record")
            self.stats["max keys read"] = max(self.stats["max keys read"], len(keys))
            states = {key: self.table.get(key) for key in keys}  # one BatchGetItem
            try:
                outcome = process(record, entity_id, states, self.config, correlation_id=dedupe_key)
                break
            except StateKeysMissing as exc:
                self.stats["re-read"] += 1
                keys = keys + exc.keys
            except TriggerInputError:
                self.stats["quarantined"] += 1
                self.seen.add(dedupe_key)
                return
        self.seen.add(dedupe_key)  # the commit: dedupe mark, state and outbox together
        self.stats["stale" if outcome.stale else "applied"] += 1
        self.table.update(outcome.puts)
        for key in outcome.deletes:
            self.table.pop(key, None)
        for event in outcome.events:
            if event.id in self.outbox:
                self.stats["repeated event ids"] += 1
            else:
                self.outbox[event.id] = event

    def events(self) -> list[CloudEvent]:
        return list(self.outbox.values())
