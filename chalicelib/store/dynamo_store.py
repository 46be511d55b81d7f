"""The storage port on DynamoDB: one BatchGetItem to read, one TransactWriteItems to commit.

This adapter alone knows the item shapes: the bookkeeping each item carries
(``version`` for optimistic concurrency, ``audit_seq``/``audit_hash`` for the head of
the audit chain it owns), a golden record's provenance stored by reference
(chalicelib/store/provenance.py), and where the dedupe mark, the raw input copy, the
cross-reference, the outbox event and the quarantine record go (keys in
chalicelib.store.keys). Evaluation sees items without any of that.

A plan of a single write (a refusal's audit entry, say) is one conditional PutItem:
the same guarantee as a transaction, for half the write units.

Inside ``raw_copies_after`` (the queue handler's batch), a committed record's raw input copy
is not part of its transaction: the copies of the batch are written together at its end.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.events import CloudEvent
from chalicelib.domain.state import Item, StateKey, States
from chalicelib.errors import ConflictError, EventAlreadyStored, Unstorable
from chalicelib.runtime import aws, observability
from chalicelib.runtime.settings import Settings
from chalicelib.store import audit, dynamo, keys, payloads, provenance
from chalicelib.store.audit import ChainHead
from chalicelib.store.port import ChainAppend, InputMark, Plan, QuarantineClosing, QuarantineMark, Snapshot

MAX_ITEMS = 100
BOOKKEEPING = ("pk", "sk", "version", "audit_seq", "audit_hash", keys.TIMER_SHARD, keys.TIMER_DUE)
INPUT = keys.INPUT_OWNER  # token name of the input's dedupe item
RAW_COPY_ATTEMPTS = 5  # BatchWriteItem rounds for the unprocessed raw copies of a batch

log = logging.getLogger("salesbridge.store")


def version_of(item: dict[str, Any] | None) -> int | None:
    """The version an item was read at (None: it did not exist)."""
    return int(item["version"]) if item and "version" in item else None


def domain_item(item: dict[str, Any] | None) -> Item | None:
    """An item as evaluation sees it: without keys and bookkeeping, a golden record's provenance in full."""
    return None if item is None else provenance.as_read({k: v for k, v in item.items() if k not in BOOKKEEPING})


class DynamoStore:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._raw_later: list[dict[str, Any]] | None = None  # inside raw_copies_after: the copies to write at its end

    @contextmanager
    def raw_copies_after(self) -> Iterator[None]:
        """Within: each committed record's raw input copy waits; all are written in one BatchWriteItem at the end.

        The copy serves the mapping regression diff and troubleshooting, not the record's processing:
        outside the transaction it is a standard write (1 unit per KB instead of 2), one request per
        batch. A crash before the end leaves those inputs without a copy; nothing of their processing.
        """
        self._raw_later = []
        try:
            yield
        finally:
            pending, self._raw_later = self._raw_later, None
            if pending:
                keep_raw_copies(self.settings.inputs_table, pending)

    # ------------------------------------------------------------------ reading

    def read(self, state_keys: Iterable[StateKey], *, input_key: str | None = None, with_quarantine: bool = False) -> Snapshot:
        wanted = list(dict.fromkeys(state_keys))
        requests: dict[str, list[tuple[str, str]]] = {self.settings.state_table: [keys.state(k) for k in wanted]}
        if input_key is not None:
            requests[self.settings.state_table].append(keys.dedupe(input_key))
            if with_quarantine:
                requests[self.settings.quarantine_table] = [keys.quarantine(keys.quarantine_id(input_key))]
        found = dynamo.batch_get_tables(requests)
        snapshot = Snapshot()
        self._take(snapshot, wanted, found.get(self.settings.state_table, {}))
        if input_key is not None:
            mark = found[self.settings.state_table].get(keys.dedupe(input_key))
            snapshot.tokens[INPUT] = mark
            if mark is not None:
                snapshot.input = InputMark(str(mark.get("status")), mark.get("entity"))
        if with_quarantine and input_key is not None:
            previous = found[self.settings.quarantine_table].get(keys.quarantine(keys.quarantine_id(input_key)))
            if previous is not None:
                snapshot.quarantined = QuarantineMark(str(previous["status"]), str(previous["first_at"]), int(previous["attempts"]))
        return snapshot

    def read_more(self, snapshot: Snapshot, state_keys: Iterable[StateKey]) -> States:
        wanted = [k for k in dict.fromkeys(state_keys) if k not in snapshot.states]
        found = dynamo.batch_get(self.settings.state_table, [keys.state(k) for k in wanted])
        self._take(snapshot, wanted, found)
        return {k: snapshot.states[k] for k in wanted}

    def _take(self, snapshot: Snapshot, wanted: list[StateKey], found: dict[tuple[str, str], dict[str, Any] | None]) -> None:
        for key in wanted:
            raw = found.get(keys.state(key))
            snapshot.states[key] = domain_item(raw)
            snapshot.tokens[key] = raw

    # ------------------------------------------------------------------ committing

    def commit(self, plan: Plan) -> None:
        actions = self.actions(plan)
        if len(actions) > MAX_ITEMS:
            raise ValueError(f"a commit of {len(actions)} items; DynamoDB allows {MAX_ITEMS} in one transaction")
        client = aws.client("dynamodb")
        try:
            if len(actions) == 1 and "Put" in actions[0]:
                client.put_item(**actions[0]["Put"])
            else:
                client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            self._raise_for(exc, actions)
        if self._raw_later is not None and plan.input is not None and plan.input.keep_raw:
            try:
                self._raw_later.append(self._raw_input_item(plan))  # a large one goes to the payload bucket now
            except Exception:  # noqa: BLE001 - committed: failing now would only redeliver it as a duplicate
                log.warning("raw input copy of %s not kept", plan.input.record.dedupe_key, exc_info=True)
                observability.count("RawCopiesNotKept")

    def actions(self, plan: Plan) -> list[dict[str, Any]]:
        """The TransactWriteItems actions of a plan (the delivery update first, then state)."""
        s = self.settings
        heads: dict[Any, ChainHead] = {}
        audit_puts: list[dict[str, Any]] = []
        for append in plan.audit:
            owner = self._owner(append, plan)
            head = heads.get(owner) or (ChainHead() if owner is None else ChainHead.of(plan.snapshot.tokens.get(owner)))
            items, after = audit.chain(append.chain, append.entries, head, s.audit_retention_days)
            audit_puts += audit.pack(append.chain, items)
            if owner is not None:
                heads[owner] = after

        actions: list[dict[str, Any]] = []
        if plan.delivery is not None:
            actions.append({"Update": self._delivery_update(plan, heads)})
        for key, item in plan.puts.items():
            pk, sk = keys.state(key)
            # a pending deadline is listed in the timers index
            stored = dict(provenance.for_storage(item), pk=pk, sk=sk, **keys.timer_index(key, item))
            self._carry_head(stored, key, plan.snapshot.tokens.get(key), heads)
            actions.append(self._versioned_put(s.state_table, stored, version_of(plan.snapshot.tokens.get(key))))
        if plan.input is not None:
            mark = plan.snapshot.tokens.get(INPUT)
            item = self._dedupe_item(plan)
            self._carry_head(item, INPUT, mark, heads)
            actions.append(self._versioned_put(s.state_table, item, version_of(mark)))
        for item in audit_puts:
            actions.append(_put(s.audit_table, item, "attribute_not_exists(pk)"))
        for event in plan.events:
            actions.append(_put(s.events_table, event_item(event, s.audit_retention_days), "attribute_not_exists(pk)"))
        if plan.xref is not None:
            actions.append(_put(s.state_table, xref_item(*plan.xref)))
        if plan.quarantine is not None:
            actions.append(_put(s.quarantine_table, self._quarantine_item(plan)))
        if plan.input is not None and plan.input.keep_raw and self._raw_later is None:
            actions.append(_put(s.inputs_table, self._raw_input_item(plan)))
        if plan.closes_quarantine is not None and plan.input is not None:
            actions.append({"Update": self._close_quarantine(plan.input.record.dedupe_key, plan.closes_quarantine)})
        return actions

    def _owner(self, append: ChainAppend, plan: Plan) -> Any:
        """Which item of the plan keeps this chain's head (None: a chain of its own, no head kept)."""
        if append.headless:
            return None
        owner = keys.chain_owner(append.chain)
        if isinstance(owner, StateKey) and owner not in plan.puts:
            raise ValueError(f"audit chain {append.chain}: its head lives on {owner}, which this plan does not write")
        return owner

    @staticmethod
    def _carry_head(item: dict[str, Any], owner: Any, read: dict[str, Any] | None, heads: dict[Any, ChainHead]) -> None:
        """The owner item keeps its chain head: the new one when entries were appended, else the one read."""
        head = heads.get(owner) or (ChainHead.of(read) if read and "audit_seq" in read else None)
        if head is not None:
            item.update(audit_seq=head.seq, audit_hash=head.hash)

    @staticmethod
    def _versioned_put(table: str, item: dict[str, Any], read_version: int | None) -> dict[str, Any]:
        item = dict(item, version=(read_version or 0) + 1)
        if read_version is None:
            return _put(table, item, "attribute_not_exists(pk)")
        put = _put(table, item, "version = :v")
        put["Put"]["ExpressionAttributeValues"] = {":v": {"N": str(read_version)}}
        return put

    def _dedupe_item(self, plan: Plan) -> dict[str, Any]:
        assert plan.input is not None
        pk, sk = keys.dedupe(plan.input.record.dedupe_key)
        return {
            "pk": pk,
            "sk": sk,
            "status": plan.input.status,
            "entity": plan.input.entity,
            "connector": plan.input.record.connector,
            "at": datetime.now(UTC).isoformat(),
            **({"dedupe_key": plan.input.record.dedupe_key} if keys.hashed_dedupe_key(plan.input.record.dedupe_key) else {}),
        }

    def _raw_input_item(self, plan: Plan) -> dict[str, Any]:
        assert plan.input is not None
        record = plan.input.record
        pk, sk = keys.raw_input(record.connector, record.object, record.received_at, record.dedupe_key)
        raw = record.to_message()
        if payloads.needs_claim_check(raw):
            kept = payloads.kept(self.settings.payload_bucket, payloads.input_key(record.dedupe_key, record.received_at.isoformat()), raw)
        else:
            kept = {"raw": raw}
        return {"pk": pk, "sk": sk, **kept, "expires_at": _expiry(self.settings.inputs_retention_days)}

    def _quarantine_item(self, plan: Plan) -> dict[str, Any]:
        assert plan.input is not None and plan.quarantine is not None
        record, why, previous = plan.input.record, plan.quarantine, plan.snapshot.quarantined
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        qid = keys.quarantine_id(record.dedupe_key)
        first_at = previous.first_at if previous else now
        pk, sk = keys.quarantine(qid)
        return {
            "pk": pk,
            "sk": sk,
            "id": qid,
            "time_shard": keys.sharded(keys.TIME_SHARD, qid),
            "connector_shard": keys.sharded(record.connector, qid),
            "order_key": f"{first_at}#{qid}",
            "status": "open",
            "code": why.code,
            "message": why.message,
            "field": why.field,
            "connector": record.connector,
            "object": record.object,
            "mapping": why.mapping,
            "mapping_version": why.mapping_version,
            "dedupe_key": record.dedupe_key,
            "candidates": list(why.candidates) or None,
            **self._quarantined_raw(qid, record.to_message()),
            "first_at": first_at,
            "last_at": now,
            "attempts": previous.attempts + 1 if previous else 1,
        }

    def _quarantined_raw(self, qid: str, raw: str) -> dict[str, str]:
        """The raw input inline, or (too large for the item) in S3, written before the transaction names it."""
        if payloads.needs_claim_check(raw):
            return payloads.kept(self.settings.payload_bucket, payloads.quarantine_key(qid), raw)
        return {"raw": raw}

    def _close_quarantine(self, dedupe_key: str, closing: QuarantineClosing) -> dict[str, Any]:
        """``status`` replayed or discarded, who did it and when (``replayed_by``/``replayed_at`` …), a discard's reason.

        A closed record expires as a raw input copy does (``inputs_retention_days`` from now): its raw
        input is no longer needed for a replay, and the input's audit chain keeps what happened.
        """
        expires_at = _expiry(self.settings.inputs_retention_days)
        values = {":s": closing.status, ":b": closing.by, ":t": datetime.now(UTC).isoformat(), ":e": expires_at}
        update = f"SET #s = :s, {closing.status}_by = :b, {closing.status}_at = :t, expires_at = :e"
        if closing.reason is not None:
            update += ", reason = :r"
            values[":r"] = closing.reason
        return {
            "TableName": self.settings.quarantine_table,
            "Key": dynamo.key_of(*keys.quarantine(keys.quarantine_id(dedupe_key))),
            "UpdateExpression": update,
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": dynamo.to_item(values),
        }

    def _delivery_update(self, plan: Plan, heads: dict[Any, ChainHead]) -> dict[str, Any]:
        """An event's delivery state and chain head, conditional on the head read (one writer at a time)."""
        assert plan.delivery is not None
        delivery = plan.delivery
        owner = ("event", delivery.event_id)
        read = ChainHead.of(plan.snapshot.tokens.get(owner))
        after = heads.get(owner, read)
        update: dict[str, Any] = {
            "TableName": self.settings.events_table,
            "Key": dynamo.key_of(*keys.event(delivery.event_id)),
            "UpdateExpression": "SET targets = :t, #s = :s, attempts = :a, audit_seq = :seq, audit_hash = :h",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": dynamo.to_item(
                {":t": delivery.targets, ":s": delivery.status, ":a": delivery.attempts, ":seq": after.seq, ":h": after.hash}
            ),
        }
        if read.seq:
            update["ConditionExpression"] = "audit_seq = :prev"
            update["ExpressionAttributeValues"][":prev"] = {"N": str(read.seq)}
        else:
            update["ConditionExpression"] = "attribute_not_exists(audit_seq)"
        return update

    def _raise_for(self, exc: ClientError, actions: list[dict[str, Any]]) -> None:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("TransactionConflictException", "ConditionalCheckFailedException"):
            raise ConflictError(str(exc)) from exc
        if code == "ValidationException":
            raise Unstorable(exc.response.get("Error", {}).get("Message") or str(exc)) from exc
        if code != "TransactionCanceledException":
            raise exc
        reasons = exc.response.get("CancellationReasons") or []
        duplicate_events = []
        for action, reason in zip(actions, reasons, strict=False):
            failed = reason.get("Code")
            if failed in (None, "None"):
                continue
            table = action.get("Put", action.get("Update", {})).get("TableName")
            if failed == "ConditionalCheckFailed" and table == self.settings.events_table and "Put" in action:
                duplicate_events.append(action["Put"]["Item"]["pk"]["S"])
            elif failed in ("ConditionalCheckFailed", "TransactionConflict"):
                raise ConflictError(f"{table}: {failed}") from exc
            elif failed == "ValidationError":
                raise Unstorable(f"{table}: {reason.get('Message') or failed}") from exc
            else:
                raise exc
        if duplicate_events:
            raise EventAlreadyStored(duplicate_events) from exc
        raise ConflictError(str(exc)) from exc


# --------------------------------------------------------------------------- item shapes


def outbox_inserts(stream_event: dict[str, Any]) -> list[tuple[str, str]]:
    """(event id, stream sequence number) of each outbox event a DynamoDB stream batch inserted."""
    inserted = []
    for record in stream_event.get("Records", []):
        if record.get("eventName") != "INSERT":
            continue
        change = record.get("dynamodb", {})
        image = dynamo.from_item(change.get("NewImage") or {})
        if image.get("sk") == keys.event("")[1] and image.get("pk"):
            inserted.append((str(image["pk"]), str(change.get("SequenceNumber", ""))))
    return inserted


def outbox_snapshot(item: dict[str, Any]) -> Snapshot:
    """A snapshot of one outbox event item as read, for a plan that records its delivery."""
    return Snapshot(tokens={("event", str(item["pk"])): item})


def event_item(event: CloudEvent, retention_days: int) -> dict[str, Any]:
    """The outbox item; the event is kept as its exact JSON text (numbers stay as emitted).

    It expires with the audit trail: "once per (order, rule)" is kept by markers on the
    golden records, not by the outbox, so expiry never lets an event fire twice.
    """
    body = event.to_json_dict()
    pk, sk = keys.event(event.id)
    return {
        "pk": pk,
        "sk": sk,
        "type": event.type,
        "subject": keys.index_key(event.subject),
        "time_id": f"{body['time']}#{event.id}",
        "time_shard": keys.sharded(keys.TIME_SHARD, event.id),
        "event": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        "status": "pending",
        "attempts": 0,
        "expires_at": _expiry(retention_days),
    }


def keep_raw_copies(table: str, items: list[dict[str, Any]]) -> None:
    """Write raw input copies, 25 to a request, retrying what DynamoDB leaves unprocessed.

    What cannot be written is logged and counted (``RawCopiesNotKept``), never raised: the
    records are committed, and failing their batch would only redeliver them as duplicates.
    """
    client = aws.client("dynamodb")
    items = list({(str(i["pk"]), str(i["sk"])): i for i in items}.values())  # DynamoDB refuses a batch naming one key twice
    for start in range(0, len(items), 25):
        chunk = items[start : start + 25]
        request: dict[str, Any] = {table: [{"PutRequest": {"Item": dynamo.to_item(i)}} for i in chunk]}
        try:
            for attempt in range(RAW_COPY_ATTEMPTS):
                request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                if not request:
                    break
                time.sleep(0.05 * 2**attempt)
        except ClientError as exc:
            log.warning("raw input copies not kept (%s): %d inputs", exc.response.get("Error", {}).get("Code"), len(chunk))
            observability.count("RawCopiesNotKept", len(chunk))
            continue
        if request:
            left = len(request[table])
            log.warning("raw input copies not kept (still unprocessed after %d rounds): %d inputs", RAW_COPY_ATTEMPTS, left)
            observability.count("RawCopiesNotKept", left)


def xref_item(source: Any, entity_id: str) -> dict[str, Any]:
    pk, sk = keys.xref(source)
    return {"pk": pk, "sk": sk, "entity": source.entity, "entity_id": entity_id, "system": source.system, "source_id": source.id}


def _put(table: str, item: dict[str, Any], condition: str | None = None) -> dict[str, Any]:
    put: dict[str, Any] = {"TableName": table, "Item": dynamo.to_item(item)}
    if condition:
        put["ConditionExpression"] = condition
    return {"Put": put}


def _expiry(days: int) -> int:
    return int(time.time()) + days * 86400
