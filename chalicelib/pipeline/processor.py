"""Apply one queued input: the heart of "nothing lost, nothing twice".

Per record: map it (a failure quarantines it), resolve canonical ids, read every
state item it needs and the input's dedupe mark in one request, evaluate it
(consent, golden merge, triggers), and commit state + audit entries + outbox events
+ the input's one outcome as one plan, conditional on nothing read having changed.
A conflict re-reads and re-applies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.configuration import Configuration
from chalicelib.domain import identity
from chalicelib.domain.canonical import CanonicalRecord
from chalicelib.domain.inbound import InboundRecord
from chalicelib.domain.state import golden_key, xref_key
from chalicelib.errors import (
    AmbiguousIdentity,
    ConflictError,
    EventAlreadyStored,
    RecordMappingError,
    RetryLater,
    TriggerInputError,
    Unstorable,
)
from chalicelib.mapping import MappingSet
from chalicelib.pipeline.evaluate import Evaluation, Rules, evaluate, prepare, read_identity, read_state
from chalicelib.pipeline.record_outcome import RecordOutcome, Status
from chalicelib.runtime import clock
from chalicelib.runtime.settings import Settings
from chalicelib.store import audit, keys
from chalicelib.store.audit import AuditEntry
from chalicelib.store.port import DONE_STATUSES, ChainAppend, InputOutcome, Plan, QuarantineClosing, Quarantined, Snapshot, Store

MAX_ATTEMPTS = 8
DEAD_LETTER_ERROR_CHARS = 500  # the error's text kept in the audit entry of a dead-lettered message


@dataclass(frozen=True)
class ProcessingConfig:
    """What processing needs from the configuration."""

    mappings: MappingSet
    rules: Rules
    pii_key: bytes


def processing_config(config: Configuration) -> ProcessingConfig:
    return ProcessingConfig(config.mappings, Rules.of(config), config.pii_key)


@dataclass
class Processor:
    config: ProcessingConfig
    store: Store
    actor: str = "pipeline"
    clock: Callable[[], datetime] | None = None  # what the rules take for now (default the wall clock)

    @classmethod
    def of(cls, config: Configuration, settings: Settings) -> Processor:
        """The production processor: the loaded configuration over DynamoDB."""
        from chalicelib.store.dynamo_store import DynamoStore

        return cls(processing_config(config), DynamoStore(settings))

    def record_dead_letter(self, message_id: str, body: str, attempts: int, error: BaseException) -> None:
        """One audit entry for a message about to be dead-lettered: which input, after how many attempts, and why."""
        try:
            inbound: InboundRecord | None = InboundRecord.from_message(body)
        except ValueError:
            inbound = None
        details: dict[str, Any] = {
            "message_id": message_id,
            "attempts": attempts,
            "error": f"{type(error).__name__}: {str(error)[:DEAD_LETTER_ERROR_CHARS]}",
        }
        if inbound is not None:
            details.update(connector=inbound.connector, object=inbound.object, dedupe_key=inbound.dedupe_key, entity=inbound.entity_hint)
        entry = AuditEntry(
            action="dead_lettered",
            actor=self.actor,
            correlation_id=(inbound.receipt_id if inbound else None) or message_id,
            connector=inbound.connector if inbound else None,
            details=details,
        )
        self.store.commit(Plan(Snapshot(), audit=[ChainAppend(keys.dead_letter_chain(message_id), [entry], headless=True)]))

    # ------------------------------------------------------------------ entry point
    def process(self, inbound: InboundRecord, *, replay_by: str | None = None) -> RecordOutcome:
        correlation = inbound.receipt_id or inbound.dedupe_key
        mapping = self.config.mappings.find(inbound.connector, inbound.object)
        if mapping is None:
            message = (
                f"no mapping for connector '{inbound.connector}' object '{inbound.object}': "
                f"add a mapping file under mappings/ with source.connector={inbound.connector} and source.object={inbound.object}"
            )
            return self._quarantine(inbound, Quarantined("no_mapping", message), correlation, replay_by)
        try:
            record = prepare(mapping, inbound.payload, inbound.connector)
        except RecordMappingError as exc:
            if exc.code == "filtered_out":
                return self._skip(inbound, mapping.name, mapping.version, str(exc), correlation, replay_by)
            if exc.code == "invalid_canonical":
                why = Quarantined(exc.code, exc.message, mapping.name, mapping.version)
            else:
                why = Quarantined(exc.code, str(exc), mapping.name, mapping.version, exc.field)
            return self._quarantine(inbound, why, correlation, replay_by)
        return self.apply_canonical(inbound, record, replay_by=replay_by)

    def apply_canonical(
        self, inbound: InboundRecord, record: CanonicalRecord, entity_id: str | None = None, *, replay_by: str | None = None
    ) -> RecordOutcome:
        """Apply a mapped record: the part of processing after mapping.

        ``entity_id``: the record's canonical id when the caller has it (its references resolved
        too); otherwise identity is looked up (chalicelib.pipeline.identify).
        """
        correlation = inbound.receipt_id or inbound.dedupe_key
        try:
            return self.apply(inbound, record, entity_id, replay_by=replay_by)
        except TriggerInputError as exc:
            why = Quarantined("trigger_input", str(exc), record.mapping, record.mapping_version)
            return self._quarantine(inbound, why, correlation, replay_by)
        except AmbiguousIdentity as exc:
            why = Quarantined("ambiguous_identity", str(exc), record.mapping, record.mapping_version, candidates=exc.candidates)
            return self._quarantine(inbound, why, correlation, replay_by)
        except Unstorable as exc:
            # Poison: the same items are refused on every attempt, so quarantine now instead of retrying into the DLQ.
            message = f"the store cannot hold this record as it is ({exc}); change the mapping or the source, then replay"
            why = Quarantined("cannot_store", message, record.mapping, record.mapping_version)
            return self._quarantine(inbound, why, correlation, replay_by)

    def apply(
        self, inbound: InboundRecord, record: CanonicalRecord, entity_id: str | None = None, *, replay_by: str | None = None
    ) -> RecordOutcome:
        """Like apply_canonical, but a record the triggers refuse raises TriggerInputError."""
        correlation = inbound.receipt_id or inbound.dedupe_key
        already_stored: set[str] = set()
        for _ in range(MAX_ATTEMPTS):
            try:
                return self._apply_once(inbound, record, entity_id, correlation, replay_by, frozenset(already_stored))
            except ConflictError:
                continue
            except EventAlreadyStored as exc:
                # The same logical occurrence is already in the outbox: apply the change without emitting it again.
                already_stored.update(exc.event_ids)
        raise RetryLater(f"{inbound.dedupe_key}: state kept changing under us")

    # ------------------------------------------------------------------ applying
    def _apply_once(
        self,
        inbound: InboundRecord,
        record: CanonicalRecord,
        entity_id: str | None,
        correlation: str,
        replay_by: str | None,
        already_stored: frozenset[str],
    ) -> RecordOutcome:
        prepared = read_identity(self.store, record, self.config.rules, input_key=inbound.dedupe_key, entity_id=entity_id)
        snapshot, identified = prepared.snapshot, prepared.identified
        entity_key = identity.entity_key(record.entity, identified.entity_id)
        if _already_done(snapshot, replay_by):
            return RecordOutcome("duplicate", inbound.dedupe_key, entity_key, message=f"already {snapshot.input.status}")  # type: ignore[union-attr]
        if identified.decision.ambiguous:
            raise AmbiguousIdentity(record, identified.decision.ambiguous)
        read_state(self.store, prepared, self.config.rules)
        record = identified.record
        evaluation = evaluate(
            record,
            identified.entity_id,
            dict(snapshot.states),
            self.config.rules,
            decision=identified.decision,
            read_more=lambda more: self.store.read_more(snapshot, more),
            correlation_id=correlation,
            now=self.clock() if self.clock else clock.now(),
        )
        outcome = evaluation.outcome
        outcome.events = [e for e in outcome.events if e.id not in already_stored]
        for event in outcome.events:
            event.correlationid = event.correlationid or correlation
            event.mappingversion = event.mappingversion or record.mapping_version
        plan = self._plan(inbound, snapshot, evaluation, entity_key, correlation, replay_by)
        self.store.commit(plan)
        status: Status = "stale" if outcome.stale else "applied"
        return RecordOutcome(status, inbound.dedupe_key, entity_key, [e.id for e in outcome.events], evaluation=evaluation)

    def _plan(
        self, inbound: InboundRecord, snapshot: Snapshot, evaluation: Evaluation, entity_key: str, correlation: str, replay_by: str | None
    ) -> Plan:
        record, outcome = evaluation.record, evaluation.outcome
        golden = golden_key(record.entity, evaluation.entity_id)
        entries = [self._received_entry(inbound, record, correlation, replay_by)]
        if evaluation.dropped:
            entries.append(
                AuditEntry(
                    action="consent_dropped",
                    actor=self.actor,
                    correlation_id=correlation,
                    connector=inbound.connector,
                    details={"fields": evaluation.dropped.fields, "customer": evaluation.customer},
                )
            )
        entries.append(
            AuditEntry(
                action="stale_ignored" if outcome.stale else "applied",
                actor=self.actor,
                correlation_id=correlation,
                connector=inbound.connector,
                mapping=record.mapping,
                mapping_version=record.mapping_version,
                details={
                    "source": record.source.model_dump(),
                    "source_time": record.source_time.isoformat(),
                    "notes": [_note(n) for n in outcome.notes],
                },
                changes=audit.field_changes(
                    outcome.changed_fields, record.lineage, record.categories, self.config.pii_key, self._rules(record)
                ),
            )
        )
        for event in outcome.events:
            entries.append(
                AuditEntry(
                    action="trigger_fired",
                    actor=self.actor,
                    correlation_id=correlation,
                    mapping=record.mapping,
                    mapping_version=record.mapping_version,
                    details={"event_id": event.id, "type": event.type, "subject": event.subject},
                )
            )
        chains = [ChainAppend(entity_key, entries)]
        if evaluation.merge is not None:
            merge = evaluation.merge
            entries.insert(
                1,
                AuditEntry(
                    action="merged",
                    actor=self.actor,
                    correlation_id=correlation,
                    connector=inbound.connector,
                    details={"merged": [identity.entity_key(record.entity, i) for i in merge.merged], "members": merge.members},
                ),
            )
            for merged_id in merge.merged:
                note = AuditEntry(
                    action="merged_into",
                    actor=self.actor,
                    correlation_id=correlation,
                    connector=inbound.connector,
                    details={"survivor": entity_key, "by": identity.ref_text(record.source)},
                )
                chains.append(ChainAppend(identity.entity_key(record.entity, merged_id), [note]))
        puts = dict(outcome.puts)
        puts[golden] = puts.get(golden) or snapshot.states.get(golden) or {}  # keeps the chain head, even when stale
        own_xref = xref_key(record.source.system, record.entity, str(record.source.id))
        first_sight_of_source = own_xref not in snapshot.states and not _knows_source(snapshot.states.get(golden), record)
        # A record that belongs to the id its own reference gives needs no cross-reference: an absent one resolves there.
        needs_xref = first_sight_of_source and evaluation.entity_id != identity.id_for(record.source)
        return Plan(
            snapshot=snapshot,
            puts=puts,
            audit=chains,
            events=list(outcome.events),
            input=InputOutcome(inbound, "stale" if outcome.stale else "applied", entity_key),
            xref=(record.source, evaluation.entity_id) if needs_xref and not outcome.stale else None,
            closes_quarantine=_closing(snapshot, replay_by),
        )

    def _rules(self, record: CanonicalRecord) -> dict[str, str]:
        mapping = self.config.mappings.mappings.get(record.mapping)
        return mapping.rules if mapping is not None else {}

    def _received_entry(
        self, inbound: InboundRecord, record: CanonicalRecord | None, correlation: str, replay_by: str | None
    ) -> AuditEntry:
        details: dict[str, Any] = {
            "via": inbound.via,
            "object": inbound.object,
            "dedupe_key": inbound.dedupe_key,
            "receipt_id": inbound.receipt_id,
            "received_at": inbound.received_at.isoformat(),
        }
        if replay_by:
            details["replayed_by"] = replay_by
        return AuditEntry(
            action="replayed" if replay_by else "received",
            actor=replay_by or f"connector:{inbound.connector}",
            correlation_id=correlation,
            connector=inbound.connector,
            mapping=record.mapping if record else None,
            mapping_version=record.mapping_version if record else None,
            details=details,
        )

    # ------------------------------------------------------------------ quarantine / skip
    def quarantine(self, inbound: InboundRecord, why: Quarantined) -> RecordOutcome:
        """Quarantine an input that cannot go through the queue at all (a pulled record larger than a message)."""
        return self._quarantine(inbound, why, inbound.receipt_id or inbound.dedupe_key, None)

    def _quarantine(self, inbound: InboundRecord, why: Quarantined, correlation: str, replay_by: str | None) -> RecordOutcome:
        qid = keys.quarantine_id(inbound.dedupe_key)
        chain = keys.input_chain(inbound.dedupe_key)
        for _ in range(MAX_ATTEMPTS):
            snapshot = self.store.read([], input_key=inbound.dedupe_key, with_quarantine=True)
            # Like _apply and _skip: outside a replay, an input already recorded (applied, stale, skipped
            # or quarantined) keeps that one outcome, even if the mapping has changed since.
            if _already_done(snapshot, replay_by):
                return RecordOutcome("duplicate", inbound.dedupe_key, message=f"already {snapshot.input.status}", quarantine_id=qid)  # type: ignore[union-attr]
            entries = [
                self._received_entry(inbound, None, correlation, replay_by),
                AuditEntry(
                    action="quarantined",
                    actor=self.actor,
                    correlation_id=correlation,
                    connector=inbound.connector,
                    mapping=why.mapping,
                    mapping_version=why.mapping_version,
                    details={"quarantine_id": qid, "code": why.code, "message": why.message},
                ),
            ]
            plan = Plan(
                snapshot=snapshot, audit=[ChainAppend(chain, entries)], input=InputOutcome(inbound, "quarantined", chain), quarantine=why
            )
            try:
                self.store.commit(plan)
            except ConflictError:
                continue
            return RecordOutcome("quarantined", inbound.dedupe_key, chain, message=why.message, quarantine_id=qid)
        raise RetryLater(f"{inbound.dedupe_key}: could not record the quarantine")

    def _skip(
        self, inbound: InboundRecord, mapping: str, version: str, message: str, correlation: str, replay_by: str | None
    ) -> RecordOutcome:
        chain = keys.input_chain(inbound.dedupe_key)
        snapshot = self.store.read([], input_key=inbound.dedupe_key)
        if _already_done(snapshot, replay_by):
            return RecordOutcome("duplicate", inbound.dedupe_key, message=f"already {snapshot.input.status}")  # type: ignore[union-attr]
        entries = [
            self._received_entry(inbound, None, correlation, replay_by),
            AuditEntry(
                action="skipped",
                actor=self.actor,
                correlation_id=correlation,
                connector=inbound.connector,
                mapping=mapping,
                mapping_version=version,
                details={"reason": message},
            ),
        ]
        plan = Plan(
            snapshot=snapshot,
            audit=[ChainAppend(chain, entries)],
            input=InputOutcome(inbound, "skipped", chain, keep_raw=False),
            # A replay that the fixed mapping now filters out still closes the quarantined record.
            closes_quarantine=_closing(snapshot, replay_by),
        )
        try:
            self.store.commit(plan)
        except ConflictError:
            return RecordOutcome("duplicate", inbound.dedupe_key, message="recorded concurrently")
        return RecordOutcome("skipped", inbound.dedupe_key, chain, message=message)


# ---------------------------------------------------------------------- small helpers


def _already_done(snapshot: Snapshot, replay_by: str | None) -> bool:
    """An input keeps its one outcome; only a replay may move a quarantined (or stale) input on."""
    seen = snapshot.input
    return seen is not None and (seen.status in DONE_STATUSES or replay_by is None)


def _closing(snapshot: Snapshot, replay_by: str | None) -> QuarantineClosing | None:
    """A replay of a quarantined input closes its quarantine record, whatever the outcome now."""
    if replay_by and snapshot.input is not None and snapshot.input.status == "quarantined":
        return QuarantineClosing("replayed", replay_by)
    return None


def _knows_source(golden: dict[str, Any] | None, record: CanonicalRecord) -> bool:
    """The cross-reference was written when the entity first heard from this source record."""
    return identity.ref_text(record.source) in ((golden or {}).get("sources") or {})


def _note(note: Any) -> Any:
    if hasattr(note, "model_dump"):
        return note.model_dump(mode="json")
    if hasattr(note, "__dict__"):
        return {k: str(v) for k, v in vars(note).items()}
    return str(note)
