"""The storage port: read what a record needs in one go, commit one plan atomically.

Processing a record is read → evaluate → commit. ``Store.read`` returns a ``Snapshot``
(the evaluation state, what is known of the input, and the adapter's private
concurrency tokens); the caller builds a ``Plan`` of everything the record changes
and ``Store.commit`` writes all of it or none of it, conditional on nothing read
having changed meanwhile (``ConflictError``: re-read and re-apply). Audit entries
travel in the plan too: the adapter chains them onto the head it read, so every
audit write goes through this one path.

Two adapters implement it: ``DynamoStore`` (production, chalicelib.store.dynamo_store)
and ``MemoryStore`` (unit tests and in-memory benchmarks, chalicelib.store.memory_store).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from chalicelib.domain.canonical import SourceRef
from chalicelib.domain.events import CloudEvent
from chalicelib.domain.inbound import InboundRecord
from chalicelib.domain.state import Item, StateKey, States
from chalicelib.store.audit import AuditEntry

DONE_STATUSES = ("applied", "skipped", "discarded")  # final: neither a redelivery nor a replay moves them


@dataclass(frozen=True)
class InputMark:
    """What is known of one input: the one outcome it had (applied, stale, skipped, quarantined, discarded)."""

    status: str
    entity: str | None = None


@dataclass(frozen=True)
class QuarantineMark:
    """An input's quarantine record as it stood when read."""

    status: str
    first_at: str
    attempts: int


@dataclass
class Snapshot:
    """What one read returned. ``tokens`` belong to the adapter (versions and chain heads read)."""

    states: States = field(default_factory=dict)
    input: InputMark | None = None
    quarantined: QuarantineMark | None = None
    tokens: dict[Any, Any] = field(default_factory=dict)


@dataclass
class ChainAppend:
    """Entries to append to one audit chain (an entity reference, or ``input#…``, ``consent#…`` …).

    ``headless``: a chain of its own that starts afresh and whose head no item keeps
    (a refusal's one entry, an erasure's tombstone).
    """

    chain: str
    entries: list[AuditEntry]
    headless: bool = False


@dataclass
class InputOutcome:
    """The input's one outcome, recorded with its dedupe key (and its raw copy, kept for replay)."""

    record: InboundRecord
    status: str
    entity: str | None
    keep_raw: bool = True


@dataclass
class Quarantined:
    """Why the input could not be applied; the adapter keeps it with its raw input until replayed."""

    code: str
    message: str
    mapping: str | None = None
    mapping_version: str | None = None
    field: str | None = None
    candidates: tuple[str, ...] = ()  # an ambiguous identity: the entities the record could be


@dataclass(frozen=True)
class QuarantineClosing:
    """How an input's open quarantine record closes: ``replayed`` (it went through again) or ``discarded``.

    ``by`` is the operator; a discard says why (``reason``), kept on the record and in the audit trail.
    """

    status: Literal["replayed", "discarded"]
    by: str
    reason: str | None = None


@dataclass
class DeliveryState:
    """Where one outbox event stands with each of its targets."""

    event_id: str
    targets: dict[str, dict[str, Any]]
    status: str
    attempts: int


@dataclass
class Plan:
    """Everything one unit of work changes, committed together or not at all."""

    snapshot: Snapshot
    puts: dict[StateKey, Item] = field(default_factory=dict)
    audit: list[ChainAppend] = field(default_factory=list)
    events: list[CloudEvent] = field(default_factory=list)
    input: InputOutcome | None = None
    xref: tuple[SourceRef, str] | None = None  # a source record first seen: its canonical id
    quarantine: Quarantined | None = None
    closes_quarantine: QuarantineClosing | None = None  # the input's quarantine record is closed
    delivery: DeliveryState | None = None


class Store(Protocol):
    def read(self, keys: Iterable[StateKey], *, input_key: str | None = None, with_quarantine: bool = False) -> Snapshot:
        """The state items (absent ones as None), and the input's mark when ``input_key`` is given."""
        ...

    def read_more(self, snapshot: Snapshot, keys: Iterable[StateKey]) -> States:
        """A second read into the same snapshot (the rare case evaluation needs more); returns what was added."""
        ...

    def commit(self, plan: Plan) -> None:
        """Write the plan atomically; raises ConflictError or EventAlreadyStored and writes nothing."""
        ...

    def raw_copies_after(self) -> AbstractContextManager[None]:
        """Within: the raw input copies of committed plans are written together when it ends, outside the transactions."""
        ...
