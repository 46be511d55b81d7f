"""Apply one queued input: the heart of "nothing lost, nothing twice".

Per record: map it (a failure quarantines it), resolve canonical ids, read every
state item it needs in one batched request, run the golden merge and the triggers,
and write state + audit entries + outbox events + the input's dedupe key in one
transaction conditional on the versions read. A conflict re-reads and re-applies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from chalicelib.configuration import Configuration
from chalicelib.domain import consent, identity
from chalicelib.domain.canonical import CanonicalRecord
from chalicelib.domain.inbound import InboundRecord
from chalicelib.errors import ConflictError, EventAlreadyStored, RetryLater
from chalicelib.pipeline.record_outcome import RecordOutcome
from chalicelib.runtime.settings import Settings
from chalicelib.store import audit, dynamo, quarantine
from chalicelib.store.audit import AuditEntry, ChainHead
from chalicelib.store.commit import Commit, version_of

MAX_ATTEMPTS = 8
DONE_STATUSES = ("applied", "skipped")


@dataclass
class Processor:
    config: Configuration
    settings: Settings
    actor: str = "pipeline"

    # ------------------------------------------------------------------ entry point
    def process(self, inbound: InboundRecord, *, replay_by: str | None = None) -> RecordOutcome:
        correlation = inbound.receipt_id or inbound.dedupe_key
        mapping = self.config.mappings.find(inbound.connector, inbound.object)
        if mapping is None:
            message = (
                f"no mapping for connector '{inbound.connector}' object '{inbound.object}': "
                f"add a mapping file under mappings/ with source.connector={inbound.connector} and source.object={inbound.object}"
            )
            return self._quarantine(inbound, "no_mapping", message, None, None, correlation, replay_by)
        from chalicelib.errors import RecordMappingError

        try:
            record = mapping.apply(inbound.payload, connector=inbound.connector)
        except RecordMappingError as exc:
            if exc.code == "filtered_out":
                return self._skip(inbound, mapping, str(exc), correlation, replay_by)
            return self._quarantine(
                inbound, exc.code, str(exc), mapping.name, mapping.version, correlation, replay_by, getattr(exc, "field", None)
            )
        try:
            record.validated_fields()
        except ValidationError as exc:
            message = f"mapping {mapping.file} produced an invalid {record.entity}: {_first_error(exc)}"
            return self._quarantine(inbound, "invalid_canonical", message, mapping.name, mapping.version, correlation, replay_by)
        record = identity.resolve_references(record)
        return self.apply_canonical(inbound, record, identity.canonical_id(record), replay_by=replay_by)

    def apply_canonical(
        self, inbound: InboundRecord, record: CanonicalRecord, entity_id: str, *, replay_by: str | None = None
    ) -> RecordOutcome:
        """Apply a mapped record whose ids are resolved: the part of processing after mapping."""
        from chalicelib.errors import TriggerInputError

        correlation = inbound.receipt_id or inbound.dedupe_key
        already_stored: set[str] = set()
        for _ in range(MAX_ATTEMPTS):
            try:
                return self._apply(inbound, record, entity_id, correlation, replay_by, frozenset(already_stored))
            except ConflictError:
                continue
            except EventAlreadyStored as exc:
                # The same logical occurrence is already in the outbox: apply the change without emitting it again.
                already_stored.update(exc.event_ids)
            except TriggerInputError as exc:
                return self._quarantine(inbound, "trigger_input", str(exc), record.mapping, record.mapping_version, correlation, replay_by)
        raise RetryLater(f"{inbound.dedupe_key}: state kept changing under us")

    # ------------------------------------------------------------------ applying
    def _apply(
        self,
        inbound: InboundRecord,
        record: CanonicalRecord,
        entity_id: str,
        correlation: str,
        replay_by: str | None,
        already_stored: frozenset[str] = frozenset(),
    ) -> RecordOutcome:
        from chalicelib.errors import StateKeysMissing
        from chalicelib.triggers.process import process as run_triggers
        from chalicelib.triggers.process import required_state_keys

        s = self.settings
        entity_key = identity.entity_key(record.entity, entity_id)
        golden_key = (entity_key, "golden")
        dedupe_key = _dedupe_state_key(inbound.dedupe_key)
        customer = consent.customer_of(record, entity_id)
        consent_key = consent.consent_key(customer) if customer else None
        keys = [dedupe_key, golden_key, *required_state_keys(record, entity_id, self.config.triggers)]
        if consent_key:
            keys.append(consent_key)
        states = dynamo.batch_get(s.state_table, keys)
        seen = states[dedupe_key]
        if seen and (seen.get("status") in DONE_STATUSES or replay_by is None):
            return RecordOutcome("duplicate", inbound.dedupe_key, entity_key, message=f"already {seen.get('status')}")
        dropped = consent.Dropped({})
        if consent_key:
            record, dropped = consent.apply_consent(record, states.pop(consent_key), self.config.consent_opt_in)
        try:
            outcome = run_triggers(record, entity_id, _without_bookkeeping(states), self.config.triggers, correlation_id=correlation)
        except StateKeysMissing as missing:
            # A partial update hid where its dependent state lives: read that too (rare second read).
            states.update(dynamo.batch_get(s.state_table, [k for k in missing.keys if k not in states]))
            outcome = run_triggers(record, entity_id, _without_bookkeeping(states), self.config.triggers, correlation_id=correlation)
        outcome.events = [e for e in outcome.events if e.id not in already_stored]
        commit = Commit(s.state_table, s.audit_table, s.events_table)
        head = ChainHead.of(states[golden_key])
        entries = [self._received_entry(inbound, record, correlation, replay_by)]
        if dropped:
            entries.append(
                AuditEntry(
                    action="consent_dropped",
                    actor=self.actor,
                    correlation_id=correlation,
                    connector=inbound.connector,
                    details={"fields": dropped.fields, "customer": customer},
                )
            )
        status = "stale" if outcome.stale else "applied"
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
        events = []
        for event in outcome.events:
            event.correlationid = event.correlationid or correlation
            event.mappingversion = event.mappingversion or record.mapping_version
            events.append(_event_item(event, s.audit_retention_days))
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
        audit_items, head = audit.chain(entity_key, entries, head, s.audit_retention_days)

        puts = dict(outcome.puts)
        golden = dict(puts.get(golden_key) or _strip(states[golden_key]) or {"pk": entity_key, "sk": "golden"})
        golden.update(pk=entity_key, sk="golden", audit_seq=head.seq, audit_hash=head.hash)
        puts[golden_key] = golden
        for key, item in puts.items():
            item = dict(item, pk=key[0], sk=key[1])
            commit.put_state(item, version_of(states.get(key)))
        commit.put_state(_dedupe_item(inbound, status, entity_key, seen), version_of(seen))
        if not _knows_source(states[golden_key], record):
            commit.others.append((s.state_table, _xref_item(record, entity_id)))
        commit.others.append((s.inputs_table, _input_item(inbound, s)))
        if replay_by and seen and seen.get("status") == "quarantined":
            commit.updates.append(
                quarantine.mark_replayed_update(s.quarantine_table, quarantine.quarantine_id(inbound.dedupe_key), replay_by)
            )
        commit.audits.extend(audit_items)
        commit.events.extend(events)
        commit.execute()
        return RecordOutcome(status, inbound.dedupe_key, entity_key, [e.id for e in outcome.events])

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
    def _quarantine(
        self,
        inbound: InboundRecord,
        code: str,
        message: str,
        mapping: str | None,
        mapping_version: str | None,
        correlation: str,
        replay_by: str | None,
        field: str | None = None,
    ) -> RecordOutcome:
        s = self.settings
        dedupe_key = _dedupe_state_key(inbound.dedupe_key)
        qid = quarantine.quarantine_id(inbound.dedupe_key)
        for _ in range(MAX_ATTEMPTS):
            seen = dynamo.get(s.state_table, *dedupe_key)
            # Like _apply and _skip: outside a replay, an input already recorded (applied, stale, skipped
            # or quarantined) keeps that one outcome, even if the mapping has changed since.
            if seen and (seen.get("status") in DONE_STATUSES or replay_by is None):
                return RecordOutcome("duplicate", inbound.dedupe_key, message=f"already {seen.get('status')}", quarantine_id=qid)
            previous = quarantine.get(s.quarantine_table, qid)
            entity_key = f"input#{inbound.dedupe_key}"
            entries = [
                self._received_entry(inbound, None, correlation, replay_by),
                AuditEntry(
                    action="quarantined",
                    actor=self.actor,
                    correlation_id=correlation,
                    connector=inbound.connector,
                    mapping=mapping,
                    mapping_version=mapping_version,
                    details={"quarantine_id": qid, "code": code, "message": message},
                ),
            ]
            items, head = audit.chain(entity_key, entries, ChainHead.of(seen), s.audit_retention_days)
            commit = Commit(s.state_table, s.audit_table, s.events_table)
            item = _dedupe_item(inbound, "quarantined", entity_key, seen)
            item.update(audit_seq=head.seq, audit_hash=head.hash)
            commit.put_state(item, version_of(seen))
            commit.others.append(
                (
                    s.quarantine_table,
                    quarantine.quarantine_item(
                        inbound,
                        code=code,
                        message=message,
                        mapping=mapping,
                        mapping_version=mapping_version,
                        previous=previous,
                        field=field,
                    ),
                )
            )
            commit.others.append((s.inputs_table, _input_item(inbound, s)))
            commit.audits.extend(items)
            try:
                commit.execute()
            except ConflictError:
                continue
            return RecordOutcome("quarantined", inbound.dedupe_key, entity_key, message=message, quarantine_id=qid)
        raise RetryLater(f"{inbound.dedupe_key}: could not record the quarantine")

    def _skip(self, inbound: InboundRecord, mapping: Any, message: str, correlation: str, replay_by: str | None) -> RecordOutcome:
        s = self.settings
        dedupe_key = _dedupe_state_key(inbound.dedupe_key)
        seen = dynamo.get(s.state_table, *dedupe_key)
        if seen and (seen.get("status") in DONE_STATUSES or replay_by is None):
            return RecordOutcome("duplicate", inbound.dedupe_key, message=f"already {seen.get('status')}")
        entity_key = f"input#{inbound.dedupe_key}"
        entries = [
            self._received_entry(inbound, None, correlation, replay_by),
            AuditEntry(
                action="skipped",
                actor=self.actor,
                correlation_id=correlation,
                connector=inbound.connector,
                mapping=mapping.name,
                mapping_version=mapping.version,
                details={"reason": message},
            ),
        ]
        items, head = audit.chain(entity_key, entries, ChainHead.of(seen), s.audit_retention_days)
        commit = Commit(s.state_table, s.audit_table, s.events_table)
        item = _dedupe_item(inbound, "skipped", entity_key, seen)
        item.update(audit_seq=head.seq, audit_hash=head.hash)
        commit.put_state(item, version_of(seen))
        if replay_by and seen and seen.get("status") == "quarantined":
            # A replay that the fixed mapping now filters out still closes the quarantined record.
            commit.updates.append(
                quarantine.mark_replayed_update(s.quarantine_table, quarantine.quarantine_id(inbound.dedupe_key), replay_by)
            )
        commit.audits.extend(items)
        try:
            commit.execute()
        except ConflictError:
            return RecordOutcome("duplicate", inbound.dedupe_key, message="recorded concurrently")
        return RecordOutcome("skipped", inbound.dedupe_key, entity_key, message=message)


# ---------------------------------------------------------------------- small helpers
_BOOKKEEPING = ("pk", "sk", "version", "audit_seq", "audit_hash")


def _dedupe_state_key(dedupe_key: str) -> tuple[str, str]:
    return (f"dedupe#{dedupe_key}", "dedupe")


def _strip(item: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if item is None else {k: v for k, v in item.items() if k not in ("version",)}


def _without_bookkeeping(states: dict[tuple[str, str], dict[str, Any] | None]) -> dict[tuple[str, str], dict[str, Any] | None]:
    return {
        k: (None if v is None else {a: b for a, b in v.items() if a not in _BOOKKEEPING})
        for k, v in states.items()
        if not k[0].startswith("dedupe#")
    }


def _dedupe_item(inbound: InboundRecord, status: str, entity_key: str, previous: dict[str, Any] | None) -> dict[str, Any]:
    item = {
        "pk": f"dedupe#{inbound.dedupe_key}",
        "sk": "dedupe",
        "status": status,
        "entity": entity_key,
        "connector": inbound.connector,
        "at": datetime.now(UTC).isoformat(),
    }
    if previous:
        for name in ("audit_seq", "audit_hash"):
            if name in previous:
                item[name] = previous[name]
    return item


def _knows_source(golden: dict[str, Any] | None, record: CanonicalRecord) -> bool:
    """The cross-reference was written when the entity first heard from this source record."""
    source = ((golden or {}).get("sources") or {}).get(record.source.system) or {}
    return source.get("record_id") == record.source.id


def _xref_item(record: CanonicalRecord, entity_id: str) -> dict[str, Any]:
    pk, sk = identity.xref_key(record.source)
    return {
        "pk": pk,
        "sk": sk,
        "entity": record.entity,
        "entity_id": entity_id,
        "system": record.source.system,
        "source_id": record.source.id,
    }


def _input_item(inbound: InboundRecord, s: Settings) -> dict[str, Any]:
    import time

    return {
        "pk": f"{inbound.connector}#{inbound.object}",
        "sk": f"{inbound.received_at.isoformat()}#{inbound.dedupe_key}",
        "raw": inbound.to_message(),
        "expires_at": int(time.time()) + s.inputs_retention_days * 86400,
    }


def _event_item(event: Any, retention_days: int) -> dict[str, Any]:
    """The outbox item; the event is kept as its exact JSON text (numbers stay as emitted).

    It expires with the audit trail: "once per (order, rule)" is kept by markers on the
    golden records, not by the outbox, so expiry never lets an event fire twice.
    """
    import time

    body = event.to_json_dict()
    time_id = f"{body['time']}#{event.id}"
    return {
        "pk": event.id,
        "sk": "event",
        "type": event.type,
        "subject": event.subject,
        "time_id": time_id,
        "all": "all",
        "event": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        "status": "pending",
        "attempts": 0,
        "expires_at": int(time.time()) + retention_days * 86400,
    }


def _note(note: Any) -> Any:
    if hasattr(note, "model_dump"):
        return note.model_dump(mode="json")
    if hasattr(note, "__dict__"):
        return {k: str(v) for k, v in vars(note).items()}
    return str(note)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    return f"{where}: {err.get('msg')}"
