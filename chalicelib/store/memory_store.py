"""The storage port in process memory: the same contract as DynamoStore, for unit tests and benchmarks.

Versions, chain heads, the one-outcome-per-input rule and the outbox's "an event id
is stored once" behave as in DynamoDB, so code tested against this store behaves
the same on the real one. ``reads`` and ``keys_read`` count what a run asked for.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.events import CloudEvent
from chalicelib.domain.state import Item, StateKey, States
from chalicelib.errors import ConflictError, EventAlreadyStored
from chalicelib.store import audit, keys
from chalicelib.store.audit import ChainHead
from chalicelib.store.port import InputMark, Plan, QuarantineMark, Snapshot


@dataclass
class _Versioned:
    item: Item
    version: int
    head: ChainHead = field(default_factory=ChainHead)


class MemoryStore:
    def __init__(self) -> None:
        self.states: dict[StateKey, _Versioned] = {}
        self.inputs: dict[str, _Versioned] = {}  # dedupe key -> mark (item: status, entity)
        self.audit: dict[str, list[dict[str, Any]]] = {}  # chain id -> chained items
        self.outbox: dict[str, CloudEvent] = {}
        self.xrefs: dict[tuple[str, str, str], str] = {}
        self.quarantine: dict[str, dict[str, Any]] = {}
        self.raw_inputs: list[Any] = []
        self.reads = 0
        self.keys_read = 0
        self.max_keys = 0  # the most state keys one record asked for
        self.events_refused = 0  # commits refused because an event id was already stored
        self._lock = threading.Lock()

    @contextmanager
    def raw_copies_after(self) -> Iterator[None]:
        yield  # in memory a raw copy costs nothing: kept with its commit, as before

    # ------------------------------------------------------------------ reading

    def read(self, state_keys: Iterable[StateKey], *, input_key: str | None = None, with_quarantine: bool = False) -> Snapshot:
        with self._lock:
            self.reads += 1
            snapshot = Snapshot()
            wanted = list(dict.fromkeys(state_keys))
            self.max_keys = max(self.max_keys, len(wanted) + (input_key is not None))
            self._take(snapshot, wanted)
            if input_key is not None:
                mark = self.inputs.get(input_key)
                snapshot.tokens["input"] = (mark.version, mark.head) if mark else (None, ChainHead())
                if mark is not None:
                    snapshot.input = InputMark(mark.item["status"], mark.item.get("entity"))
                previous = self.quarantine.get(keys.quarantine_id(input_key)) if with_quarantine else None
                if previous is not None:
                    snapshot.quarantined = QuarantineMark(previous["status"], previous["first_at"], previous["attempts"])
            return snapshot

    def read_more(self, snapshot: Snapshot, state_keys: Iterable[StateKey]) -> States:
        with self._lock:
            self.reads += 1
            wanted = [k for k in dict.fromkeys(state_keys) if k not in snapshot.states]
            self._take(snapshot, wanted)
            return {k: snapshot.states[k] for k in wanted}

    def _take(self, snapshot: Snapshot, wanted: list[StateKey]) -> None:
        self.keys_read += len(wanted)
        for key in wanted:
            stored = self.states.get(key)
            snapshot.states[key] = copy.deepcopy(stored.item) if stored else None
            snapshot.tokens[key] = (stored.version, stored.head) if stored else (None, ChainHead())

    def item(self, key: StateKey) -> Item | None:
        stored = self.states.get(key)
        return stored.item if stored else None

    # ------------------------------------------------------------------ committing

    def commit(self, plan: Plan) -> None:
        with self._lock:
            tokens = plan.snapshot.tokens
            for key in plan.puts:
                if self._version(key) != tokens.get(key, (None, None))[0]:
                    raise ConflictError(f"{key} changed since it was read")
            if plan.input is not None:
                mark = self.inputs.get(plan.input.record.dedupe_key)
                if (mark.version if mark else None) != tokens.get("input", (None, None))[0]:
                    raise ConflictError(f"input {plan.input.record.dedupe_key} changed since it was read")
            stored = [e.id for e in plan.events if e.id in self.outbox]
            if stored:
                self.events_refused += 1
                raise EventAlreadyStored(stored)
            heads = self._chain(plan)
            for key, item in plan.puts.items():
                previous = self.states.get(key)
                head = heads.get(key, previous.head if previous else ChainHead())
                self.states[key] = _Versioned(copy.deepcopy(item), (previous.version if previous else 0) + 1, head)
            if plan.input is not None:
                record = plan.input.record
                previous = self.inputs.get(record.dedupe_key)
                head = heads.get("input", previous.head if previous else ChainHead())
                outcome = {"status": plan.input.status, "entity": plan.input.entity}
                self.inputs[record.dedupe_key] = _Versioned(outcome, (previous.version if previous else 0) + 1, head)
                if plan.input.keep_raw:
                    self.raw_inputs.append(record)
                qid = keys.quarantine_id(record.dedupe_key)
                if plan.quarantine is not None:
                    before = self.quarantine.get(qid)
                    self.quarantine[qid] = {
                        "status": "open",
                        "code": plan.quarantine.code,
                        "message": plan.quarantine.message,
                        "first_at": before["first_at"] if before else record.received_at.isoformat(),
                        "attempts": before["attempts"] + 1 if before else 1,
                        "record": record,
                    }
                if plan.closes_quarantine is not None and qid in self.quarantine:
                    closing = plan.closes_quarantine
                    closed = {"status": closing.status, f"{closing.status}_by": closing.by}
                    self.quarantine[qid] = dict(self.quarantine[qid], **closed, **({"reason": closing.reason} if closing.reason else {}))
            for event in plan.events:
                self.outbox[event.id] = event
            if plan.xref is not None:
                source, entity_id = plan.xref
                self.xrefs[(source.system, source.entity, source.id)] = entity_id

    def _version(self, key: StateKey) -> int | None:
        stored = self.states.get(key)
        return stored.version if stored else None

    def _chain(self, plan: Plan) -> dict[Any, ChainHead]:
        heads: dict[Any, ChainHead] = {}
        for append in plan.audit:
            owner = None if append.headless else keys.chain_owner(append.chain)
            if owner is None:
                head = ChainHead()
            else:
                head = heads.get(owner) or plan.snapshot.tokens.get(owner, (None, ChainHead()))[1]
            items, after = audit.chain(append.chain, append.entries, head, retention_days=0)
            self.audit.setdefault(append.chain, []).extend(items)
            if owner is not None:
                heads[owner] = after
        return heads
