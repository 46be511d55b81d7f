"""Erasure's sweep: every stored copy that names the customer is deleted or masked.

Inputs, quarantine records and events are not kept by customer, and a raw payload does not
carry the golden id, so the sweep reads every table once (a paginated Scan) and tests each
item with the subject's masker (chalicelib.domain.erasure). What it does with an item that
names the subject depends on what the item is:

| table      | the key names the subject            | only the content names it                          |
|------------|--------------------------------------|----------------------------------------------------|
| state      | deleted (golden, consent, orders,    | masked in place, if unchanged since read (another  |
|            | rules, window, xref, match, dedupe)  | entity's record pointing at the customer)          |
| audit      | deleted (the subject's own chains)   | content masked, salt dropped: the chain verifies   |
| events     | —                                    | masked in place (data, subject, source record id)  |
| quarantine | deleted                              | deleted (the raw payload is the point of it)       |
| inputs     | deleted                              | deleted (raw payloads kept for replay)             |

The stats table is not read: it holds outcome counts per connector and hour, nothing of a record.

The sweep goes a page at a time and its progress is saved (``Job``) after each page, so an
erasure larger than one request resumes where the last one stopped. The subject's own golden,
consent and cross-reference items are deleted last: until then the golden record still names
everything to look for, and a source reference still leads to the customer.

A record applied to the customer while the sweep goes on writes a raw input, audit entries and
perhaps events into tables the sweep may have passed. Every such record changes an item of the
customer's own (golden record, consent, order history, rules state), so the job keeps their
versions as they were when the pass began: if any differs when every table is swept, the pass
goes round again instead of ending (and the golden and consent items go only if still unchanged).
An input quarantined meanwhile changes none of them: the records quarantined since the pass began
are listed by the quarantine index and swept, with what each left in other tables, at its end.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.erasure import Masker
from chalicelib.domain.inbound import InboundRecord
from chalicelib.errors import ConflictError, PayloadMissing
from chalicelib.runtime import aws
from chalicelib.runtime.settings import Settings
from chalicelib.store import audit, dynamo, keys, payloads

# Copies of raw payloads: an item there that names the subject goes whole.
_DELETE_WHOLE = ("inputs", "quarantine")


@dataclass
class Removal:
    """What the sweep did, per table and kind of item: counts only, nothing about the person."""

    counts: dict[str, dict[str, Counter[str]]] = field(default_factory=dict)
    scanned: Counter[str] = field(default_factory=Counter)

    def count(self, action: str, table: str, kind: str) -> None:
        """``action``: deleted, masked, or left (an audit entry whose hashed header names the subject)."""
        self.counts.setdefault(table, {}).setdefault(action, Counter())[kind] += 1

    def report(self) -> dict[str, dict[str, dict[str, int]]]:
        """``{table: {"deleted": {kind: n}, "masked": {kind: n}}}``; tables that held nothing are left out."""
        return {t: {a: dict(sorted(c.items())) for a, c in sorted(actions.items())} for t, actions in sorted(self.counts.items())}

    def total(self, table: str, action: str) -> int:
        return sum(self.counts.get(table, {}).get(action, Counter()).values())


# Bookkeeping no person is in (hashes, versions, index shards, expiry): never searched, never rewritten.
_UNTOUCHED = frozenset(
    {"pk", "sk", "version", "hash", "prev_hash", "audit_seq", "audit_hash", "salt", "run_at", "run", "day_shard", "time_shard"}
    | {"connector_shard", "timer_shard", "timer_due", "expires_at", "masked_by", "content_digest"}
)


CLOCK_SKEW = timedelta(minutes=5)  # how far the clocks of the functions that quarantine and the one that erases may differ

# The order of the sweep: the state table last, so the golden record still names everything to look for.
TABLES = ("inputs", "quarantine", "events", "audit", "state")
PAGE_ITEMS = 200  # items per scanned page: the unit of work between two saves of the progress


@dataclass
class Progress:
    """Where a sweep stands: the table it is in, the scan's next page there, and what it did so far."""

    table: int = 0  # index into TABLES; len(TABLES) once every table is swept
    cursor: dict[str, Any] | None = None  # the scan's ExclusiveStartKey in that table (None: its first page)
    removal: Removal = field(default_factory=Removal)
    # The customer's golden, consent and cross-reference items found so far: deleted at the very end,
    # so a request that names the customer by a source record still finds it while the sweep goes on.
    deferred: list[tuple[str, str]] = field(default_factory=list)
    since: str | None = None  # when the current pass began (UTC, ISO): inputs quarantined from then on are looked at again

    @property
    def done(self) -> bool:
        return self.table >= len(TABLES)

    def start_over(self) -> None:
        """Every table again; what was deleted stays counted, what is left is counted anew."""
        self.table, self.cursor, self.since = 0, None, _now()
        for actions in self.removal.counts.values():
            actions.pop("left", None)

    @property
    def swept(self) -> list[str]:
        return list(TABLES[: self.table])


@dataclass
class Job:
    """An erasure under way, kept in the state table beside the customer's items until it completes.

    It holds what every request of the erasure needs alike: who started it, the identifiers the
    requests added (the customer's own values, so the item goes with the sweep), the hash of the
    customer's last audit entry (its chain is among what the sweep deletes), the versions of the
    customer's own items when the current pass began, and the progress.
    """

    key: tuple[str, str]
    actor: str
    started_at: str
    identifiers: list[tuple[str, str]]
    last_hash: str | None
    versions: dict[str, int] = field(default_factory=dict)  # sort key -> version, under the customer's partition key
    progress: Progress = field(default_factory=Progress)
    version: int = 0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def load_job(table: str, key: tuple[str, str]) -> Job | None:
    item = dynamo.get(table, *key)
    if item is None:
        return None
    state = json.loads(str(item["progress"]))
    removal = Removal(
        counts={t: {a: Counter(c) for a, c in actions.items()} for t, actions in state["counts"].items()},
        scanned=Counter(state["scanned"]),
    )
    return Job(
        key=key,
        actor=str(item["actor"]),
        started_at=str(item["started_at"]),
        identifiers=[(str(kind), str(value)) for kind, value in json.loads(str(item["identifiers"]))],
        last_hash=item.get("last_hash"),
        versions={str(sk): int(v) for sk, v in json.loads(str(item.get("versions") or "{}")).items()},
        progress=Progress(
            int(state["table"]), state["cursor"], removal, [(str(pk), str(sk)) for pk, sk in state["deferred"]], state.get("since")
        ),
        version=int(item["version"]),
    )


def save_job(table: str, job: Job) -> None:
    """Write the job over the version read (a new one only if none exists): two requests cannot both run it."""
    progress = job.progress
    state = {
        "table": progress.table,
        "cursor": progress.cursor,
        "counts": progress.removal.report(),
        "scanned": progress.removal.scanned,
        "deferred": progress.deferred,
        "since": progress.since,
    }
    item = {
        "pk": job.key[0],
        "sk": job.key[1],
        "actor": job.actor,
        "started_at": job.started_at,
        "identifiers": json.dumps(job.identifiers, ensure_ascii=False),
        "last_hash": job.last_hash,
        "versions": json.dumps(job.versions, ensure_ascii=False),
        "progress": json.dumps(state, ensure_ascii=False),
        "version": job.version + 1,
    }
    put: dict[str, Any] = {"TableName": table, "Item": dynamo.to_item(item)}
    if job.version:
        put |= {"ConditionExpression": "version = :v", "ExpressionAttributeValues": {":v": {"N": str(job.version)}}}
    else:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    _conditional_put(put, "another request is erasing this customer")
    job.version += 1


def drop_job(table: str, job: Job) -> None:
    _delete(table, [job.key])


def customer_versions(table: str, job_key: tuple[str, str]) -> dict[str, int]:
    """The version of each of the customer's own items (the partition the job sits in), the job aside."""
    items = dynamo.query_all(
        table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": job_key[0]}},
        ProjectionExpression="sk, version",
        ConsistentRead=True,
    )
    return {str(i["sk"]): int(i["version"]) for i in items if i["sk"] != job_key[1] and "version" in i}


def delete_if_unchanged(table: str, job_key: tuple[str, str], item_keys: list[tuple[str, str]], versions: dict[str, int]) -> bool:
    """Delete the customer's own items only if none changed since the pass began (False: something did, nothing deleted).

    Checked twice: every item of the customer's that is still there against ``versions`` (the sweep
    itself deleted some), then the deletion itself is conditional, so a record applied in between
    cannot slip through either.
    """
    if any(versions.get(sk) != version for sk, version in customer_versions(table, job_key).items()):
        return False
    actions = []
    for pk, sk in item_keys:
        delete: dict[str, Any] = {"TableName": table, "Key": dynamo.key_of(pk, sk), "ConditionExpression": "attribute_not_exists(pk)"}
        if pk == job_key[0] and sk in versions:  # gone already (an earlier request deleted it), or as it was
            delete["ConditionExpression"] = "attribute_not_exists(pk) OR version = :v"
            delete["ExpressionAttributeValues"] = {":v": {"N": str(versions[sk])}}
        actions.append({"Delete": delete})
    try:
        aws.client("dynamodb").transact_write_items(TransactItems=actions)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("TransactionCanceledException", "TransactionConflictException"):
            return False
        raise
    return True


def sweep(
    settings: Settings,
    masker: Masker,
    last: list[tuple[str, str]],
    *,
    progress: Progress | None = None,
    keep: frozenset[tuple[str, str]] = frozenset(),
    go_on: Callable[[], bool] = lambda: True,
    saved: Callable[[Progress], None] = lambda _: None,
    remove_last: Callable[[], bool],
) -> Progress:
    """Delete or mask every item that names the subject, page by page; the state items in ``last`` go at the very end.

    After each page ``saved`` gets the progress and ``go_on`` decides whether another page
    follows: a sweep of a large deployment spans several requests, each resuming where the
    previous one saved (``progress``). Items in ``keep`` are left alone (the sweep's own record).
    Once every table is swept, ``remove_last`` deletes ``last`` if the customer is unchanged since
    the pass began; when it answers False the pass starts over, and the sweep returns.
    """
    progress = progress or Progress()
    tables = {
        "inputs": settings.inputs_table,
        "quarantine": settings.quarantine_table,
        "events": settings.events_table,
        "audit": settings.audit_table,
        "state": settings.state_table,
    }
    if progress.since is None and progress.table == 0 and progress.cursor is None:
        progress.since = _now()
    while not progress.done:
        name = TABLES[progress.table]
        try:
            items, after = _page(tables[name], progress.cursor)
            _sweep_page(name, tables[name], [i for i in items if (i["pk"], i["sk"]) not in keep], masker, set(last), progress)
        except ConflictError:
            saved(progress)  # what the page did is counted; its cursor stays, so the page is read again next time
            raise
        progress.cursor = after
        if after is None:
            progress.table += 1
        if progress.table == len(TABLES):
            _sweep_quarantined_since(settings, masker, progress)
            if not remove_last():
                progress.start_over()
                saved(progress)
                break
            _delete(settings.state_table, [k for k in progress.deferred if k not in last])  # a golden record made since stays
        saved(progress)
        if not progress.done and not go_on():
            break
    return progress


def _sweep_quarantined_since(settings: Settings, masker: Masker, progress: Progress) -> None:
    """Inputs quarantined since the pass began, and what each left beside its quarantine record.

    Such an input never reached the customer, so none of the customer's versions moved and the
    pass does not start over for it; its quarantine record, raw input copy, input audit chain and
    dedupe mark may sit in tables the pass had already swept. The quarantine table's by-time index
    lists the records first quarantined since then (a few minutes earlier, for clocks that differ).
    """
    since = (datetime.fromisoformat(progress.since) - CLOCK_SKEW).isoformat() if progress.since else ""
    named: list[dict[str, Any]] = []
    for partition in keys.all_shards(keys.TIME_SHARD):
        items = dynamo.query_all(
            settings.quarantine_table,
            IndexName="by-time",
            KeyConditionExpression="time_shard = :p AND order_key >= :s",
            ExpressionAttributeValues={":p": {"S": partition}, ":s": {"S": since}},
        )
        named += [i for i in items if _names("quarantine", i, masker)]
    if not named:
        return
    copies, blocks, marks = [], [], []
    for item in named:
        copy, chain, mark = _traces(settings, item)
        copies += [copy] if copy else []
        blocks += chain
        marks += [mark] if mark else []
    _sweep_page("quarantine", settings.quarantine_table, named, masker, set(), progress)
    _sweep_page("inputs", settings.inputs_table, copies, masker, set(), progress)
    _sweep_page("audit", settings.audit_table, blocks, masker, set(), progress)
    _sweep_page("state", settings.state_table, marks, masker, set(), progress)


def _traces(settings: Settings, quarantined: dict[str, Any]) -> tuple[dict[str, Any] | None, list[dict[str, Any]], dict[str, Any] | None]:
    """A quarantined input's raw input copy, the blocks of its audit chain and its dedupe mark, as stored now."""
    dedupe_key = str(quarantined["dedupe_key"])
    copy = None
    try:
        record = InboundRecord.from_message(payloads.raw_of(quarantined))
        copy = dynamo.get(settings.inputs_table, *keys.raw_input(record.connector, record.object, record.received_at, dedupe_key))
    except PayloadMissing:
        pass  # expired with its copy (both are kept as long)
    blocks = dynamo.query_all(
        settings.audit_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.chain_key(keys.input_chain(dedupe_key))}},
        ConsistentRead=True,
    )
    return copy, blocks, dynamo.get(settings.state_table, *keys.dedupe(dedupe_key))


def _sweep_page(name: str, table: str, items: list[dict[str, Any]], masker: Masker, last: set[tuple[str, str]], progress: Progress) -> None:
    """One page of one table; what it found to delete is deleted even when a masked write meets a conflict."""
    doomed: list[tuple[str, str]] = []
    claim_checked: list[str] = []
    removal, known = progress.removal, set(progress.deferred)
    try:
        for item in items:
            removal.scanned[name] += 1
            key = (str(item["pk"]), str(item["sk"]))
            if name == "state" and key in known:
                continue  # found by an earlier pass (a sweep started over): counted, and deleted at the end
            if not _goes_whole(name, table, item, masker, removal):
                continue
            if name == "state" and (key in last or key[1] == "xref"):
                progress.deferred.append(key)
            else:
                doomed.append(key)
            if item.get(payloads.REF):
                claim_checked.append(str(item[payloads.REF]))
                removal.count("deleted", "payloads", _kind(name, item))
    finally:
        _delete(table, doomed)
        payloads.erase(claim_checked)


def _goes_whole(name: str, table: str, item: dict[str, Any], masker: Masker, removal: Removal) -> bool:
    """Mask an item that names the subject in place, or count it deleted and say it goes whole."""
    key = [str(item["pk"]), str(item["sk"])]
    content = _searched(name, item)
    if not masker.names(content) and not masker.names(key):
        return False
    kind = _kind(name, item)
    if name == "audit" and audit.is_block(item) and not masker.names(key):
        _sweep_block(table, masker, item, removal)
        return False
    if name in _DELETE_WHOLE or masker.names(key):
        for _ in audit.unpack([item]) if name == "audit" else [item]:  # an audit block counts its entries
            removal.count("deleted", name, kind)
        return True
    if name == "audit":
        masked = _mask_audit(table, masker, item)
        removal.count("left" if masker.names({k: v for k, v in masked.items() if k not in _UNTOUCHED}) else "masked", name, kind)
    else:
        _put_masked(table, {**item, **masker.value(content)}, item)
        removal.count("masked", name, kind)
    return False


def _searched(name: str, item: dict[str, Any]) -> dict[str, Any]:
    """What of an item is searched for the subject: its attributes but bookkeeping, an audit block's entries, a claim-checked raw input."""
    content = {k: v for k, v in item.items() if k not in _UNTOUCHED}
    if name == "audit" and audit.is_block(item):
        content = {"entries": [_visible(entry) for entry in audit.unpack([item])]}
    if name in _DELETE_WHOLE and item.get(payloads.REF):
        content["raw"] = _claim_checked(item)
    return content


def _names(name: str, item: dict[str, Any], masker: Masker) -> bool:
    return masker.names(_searched(name, item)) or masker.names([str(item["pk"]), str(item["sk"])])


def _claim_checked(item: dict[str, Any]) -> str:
    """The raw input an item keeps in the payload bucket (empty once it expired: nothing left to search)."""
    try:
        return payloads.raw_of(item)
    except PayloadMissing:
        return ""


def _kind(table: str, item: dict[str, Any]) -> str:
    """How a removal is counted: a state item by its sort key, an audit entry by its chain's kind."""
    if table == "state":
        return str(item["sk"])
    if table == "audit":
        return str(item["pk"]).split("#", 1)[0]
    return {"events": "event", "quarantine": "record", "inputs": "raw_input"}[table]


def _mask_audit(table: str, masker: Masker, item: dict[str, Any]) -> dict[str, Any]:
    """Mask an entry's sealed content; what the entry's hash covers stays as written, so the chain still verifies.

    An entry from before content was sealed holds its details inside the hashed text: masking
    it there is the only way to remove them, and the verifier then reports that entry by name.
    """
    content = item.get("content")
    if content is None:
        unsealed = {k: v for k, v in item.items() if k not in _UNTOUCHED}
        masked = dict(item, **masker.value(unsealed), masked_by=masker.token)
    else:
        masked = audit.masked_content(item, masker.value(str(content)), masker.token)
    _put_masked(table, masked, item)
    return masked


def _visible(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in _UNTOUCHED}


def _sweep_block(table: str, masker: Masker, block: dict[str, Any], removal: Removal) -> None:
    """Mask the content of each entry of an audit block that names the subject; the block's hashes stay as written."""

    def mask(entry: dict[str, Any]) -> dict[str, Any] | None:
        if not masker.names(_visible(entry)):
            return None
        return audit.masked_content(entry, masker.value(str(entry["content"])), masker.token)

    masked_block, masked = audit.mask_block(block, mask)
    if masked:
        _put_masked(table, masked_block, block)
    for entry in masked:
        removal.count("left" if masker.names(_visible(entry)) else "masked", "audit", _kind("audit", block))


def _put_masked(table: str, masked: dict[str, Any], read: dict[str, Any]) -> None:
    """Write the masked item only if it is still the item read (same version, or same delivery head for an event)."""
    put: dict[str, Any] = {"TableName": table, "Item": dynamo.to_item(masked)}
    for attribute in ("version", "audit_seq"):
        if attribute in read:
            put["ConditionExpression"] = f"{attribute} = :v"
            put["ExpressionAttributeValues"] = {":v": {"N": str(read[attribute])}}
            break
    else:
        put["ConditionExpression"] = "attribute_exists(pk)"
    _conditional_put(put, f"{table}: an item changed while it was being erased; erase again")


def _conditional_put(put: dict[str, Any], conflict: str) -> None:
    """PutItem whose refused condition is a ConflictError saying ``conflict``."""
    try:
        aws.client("dynamodb").put_item(**put)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            raise ConflictError(conflict) from exc
        raise


def _page(table: str, cursor: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of a consistent scan and the cursor of the next (None after the last)."""
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True, "Limit": PAGE_ITEMS}
    if cursor:
        kwargs["ExclusiveStartKey"] = cursor
    page = aws.client("dynamodb").scan(**kwargs)
    return [dynamo.from_item(item) for item in page.get("Items", [])], page.get("LastEvaluatedKey") or None


def _delete(table: str, item_keys: list[tuple[str, str]]) -> None:
    client = aws.client("dynamodb")
    item_keys = list(dict.fromkeys(item_keys))  # a batch may not name one key twice
    for start in range(0, len(item_keys), 25):
        request: dict[str, Any] = {table: [{"DeleteRequest": {"Key": dynamo.key_of(pk, sk)}} for pk, sk in item_keys[start : start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
