"""Where every item lives: the one place that knows key layouts and key prefixes.

The state table holds several kinds of item side by side, told apart by the prefix
of their partition key; the other tables are keyed by what they hold. Evaluation
names state by ``StateKey`` (chalicelib.domain.state); this module turns those names
into DynamoDB keys. Audit chains are named by a *chain id*: an entity's chain is its
entity reference (``customer#cus_…``), the other chains carry a prefix below.

| table      | partition key (pk)                         | sort key (sk)              | item                         |
|------------|--------------------------------------------|----------------------------|------------------------------|
| state      | ``<entity>#<canonical id>``                | ``golden``                 | golden record + chain head   |
| state      | ``customer#<id>``                          | ``orders``                 | order history (anomaly rules)|
| state      | ``customer#<id>``                          | ``consent``                | consent registry + chain head|
| state      | ``rebate#<distributor>#<YYYY-MM>#<policy>``| ``basis``                  | rebate basis and settlement  |
| state      | ``<entity>#<canonical id>``                | ``rules``                  | deadlines, gate evidence,    |
|            |                                            |                            | echoes; rules chain head     |
| state      | ``window#<rule>#<key>``                    | ``window``                 | a window rule's occurrences  |
| state      | ``dedupe#<dedupe key>``                    | ``dedupe``                 | an input's one outcome       |
| state      | ``xref#<system>#<entity>#<source id>``     | ``xref``                   | source id → canonical id     |
| state      | ``match#<entity>#<kind>:<normalised key>`` | ``match``                  | match key → canonical id     |
| state      | ``watermark#<connector>#<stream>``         | ``watermark``              | sync position                |
| state      | ``syncrun#<connector>#<stream>``           | ``run``                    | sync lease                   |
| state      | ``ratebudget#<api>``                       | ``bucket``                 | shared rate budget           |
| audit      | chain id                                   | sequence, 12 digits        | one chained audit entry      |
| events     | event id                                   | ``event``                  | outbox event + delivery      |
| quarantine | quarantine id ``q_…``                      | ``quarantine``             | a record waiting for a fix   |
| inputs     | ``<connector>#<object>#NN`` (sharded)      | ``<received at>#<dedupe>`` | raw input kept for replay    |
| stats      | ``stats#<connector>``                      | ``hour#<YYYY-MM-DDTHH>``   | hourly outcome counts        |
| stats      | ``refusals#<connector>``                   | ``minute#<…THH:MM>#<why>`` | door refusals per minute     |

Index keys are write-sharded: an index whose natural key would be one value for many
writes (all events, all quarantined records, one connector's, one day's audit) takes that
value plus ``#NN``, one of ``INDEX_SHARDS`` shards chosen by a hash of the item's own key,
and a listing reads every shard and merges (chalicelib.store.queries).

| index                   | partition key                       | sort key                         |
|-------------------------|-------------------------------------|----------------------------------|
| events ``by-time``      | ``time#NN``                         | ``<time>#<event id>``            |
| events ``by-subject``   | the event's subject                 | ``<time>#<event id>``            |
| quarantine ``by-time``  | ``time#NN``                         | ``<first at>#<quarantine id>``   |
| quarantine ``by-connector`` | ``<connector>#NN``              | ``<first at>#<quarantine id>``   |
| audit ``by-day``        | ``<YYYY-MM-DD>#NN``                 | ``<at>#<chain hash><seq>``       |
| audit ``by-correlation``| the correlation id                  | ``<at>#<chain hash><seq>``       |

The audit indexes are sparse: one index entry per block (the entries one commit appends to
a chain with one correlation id on one day, stored as one item), sorted by ``run_at``. Items
from before blocks held one entry each, and the first of each run carried the run's length.

DynamoDB refuses a partition key over 2,048 bytes and a sort key over 1,024 (an index's keys
too). A key built from what a source sent (a vendor's event id, a source record's id, a SKU)
can be longer: ``bounded`` then keeps its readable start and a SHA-256 of all of it, the same
for the same text, so the item is found again; the original stays in the item (the dedupe
item's ``dedupe_key``, the xref's ``source_id``, the raw input, the event's JSON).

A ``rules`` item with a deadline pending carries two more attributes, ``timer_shard`` (one of
``TIMER_SHARDS``, from a hash of its key) and ``timer_due`` (when its next deadline fires, UTC
ISO text): the state table's sparse index ``timers-due`` lists the due items of each shard.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from chalicelib.domain.canonical import SourceRef
from chalicelib.domain.state import StateKey

Key = tuple[str, str]

HASH_KEY_BYTES, RANGE_KEY_BYTES = 2048, 1024  # DynamoDB's limits for a partition and a sort key, a table's or an index's
# The inputs table's sort key is "<received at>#<dedupe key>": the dedupe key gets what the time leaves.
DEDUPE_KEY_BYTES = RANGE_KEY_BYTES - len("2026-01-01T00:00:00.000000+00:00#")
_KEPT_BYTES = 64  # of a key too long for DynamoDB, the readable start kept before its hash

INDEX_SHARDS = 16  # write shards per index key: 16 x ~1,000 write units/s before an index partition throttles

INPUT_CHAIN = "input#"
CONSENT_CHAIN = "consent#"
EVENT_CHAIN = "event#"
REJECTION_CHAIN = "rejection#"
CONSOLE_CHAIN = "console#"  # one-entry chains: a console login, logout, link issued, unmasked view
RULES_CHAIN = "rules#"  # what the rules did to an entity outside its records: a deadline fired by the clock
ERASURE_CHAIN = "erasure#"  # one-entry chains: an erasure's tombstone, named by the masked subject, never the id
DEAD_LETTER_CHAIN = "dead#"  # one-entry chains: a queue message given up on, named by its message id, with why
CHAIN_PREFIXES = (INPUT_CHAIN, CONSENT_CHAIN, EVENT_CHAIN, REJECTION_CHAIN, CONSOLE_CHAIN, RULES_CHAIN, ERASURE_CHAIN, DEAD_LETTER_CHAIN)

TIMER_INDEX = "timers-due"
TIMER_SHARD, TIMER_DUE = "timer_shard", "timer_due"
TIMER_SHARDS = tuple(f"t{n:02d}" for n in range(INDEX_SHARDS))  # the poller reads each shard: a bounded fan-out


# --------------------------------------------------------------------------- state table


def bounded(text: str, limit: int = HASH_KEY_BYTES) -> str:
    """``text`` if it fits ``limit`` bytes of UTF-8; else its start, ``~sha256:`` and the hash of all of it.

    The same text always gives the same key, and a bounded key is its own bound, so a key read
    back from an item (an audit chain's id) leads to the same item again.
    """
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= limit:
        return text
    start = raw[:_KEPT_BYTES].decode("utf-8", "ignore")
    return f"{start}~sha256:{hashlib.sha256(raw).hexdigest()}"


def state(key: StateKey) -> Key:
    """The DynamoDB key of an evaluation state item (a partition key too long for DynamoDB is bounded)."""
    pk, sk = _state(key)
    return (bounded(pk), sk)


def _state(key: StateKey) -> Key:
    if key.kind == "golden":
        entity, entity_id = key.parts
        return (f"{entity}#{entity_id}", "golden")
    if key.kind == "orders":
        return (f"customer#{key.parts[0]}", "orders")
    if key.kind == "consent":
        return (f"customer#{key.parts[0]}", "consent")
    if key.kind == "rebate_basis":
        distributor, period, policy = key.parts
        return (f"rebate#{distributor}#{period}#{policy}", "basis")
    if key.kind == "rules":
        entity, entity_id = key.parts
        return (f"{entity}#{entity_id}", "rules")
    if key.kind == "window":
        rule, window_key = key.parts
        return (f"window#{rule}#{window_key}", "window")
    if key.kind == "xref":
        system, entity, source_id = key.parts
        return (f"xref#{system}#{entity}#{source_id}", "xref")
    if key.kind == "match":
        entity, match = key.parts
        return (f"match#{entity}#{match}", "match")
    raise ValueError(f"unknown state kind {key.kind!r}")


def state_key_of(pk: str, sk: str) -> StateKey | None:
    """The StateKey stored at (pk, sk), or None for items that are not evaluation state."""
    if sk == "golden":
        entity, _, entity_id = pk.partition("#")
        return StateKey("golden", (entity, entity_id))
    if sk in ("orders", "consent") and pk.startswith("customer#"):
        return StateKey(sk, (pk.removeprefix("customer#"),))  # type: ignore[arg-type]
    if sk == "xref" and pk.startswith("xref#"):
        system, entity, source_id = pk.removeprefix("xref#").split("#", 2)
        return StateKey("xref", (system, entity, source_id))
    if sk == "match" and pk.startswith("match#"):
        entity, match = pk.removeprefix("match#").split("#", 1)
        return StateKey("match", (entity, match))
    if sk == "basis" and pk.startswith("rebate#"):
        distributor, period, policy = pk.removeprefix("rebate#").split("#", 2)
        return StateKey("rebate_basis", (distributor, period, policy))
    if sk == "rules":
        entity, _, entity_id = pk.partition("#")
        return StateKey("rules", (entity, entity_id))
    if sk == "window" and pk.startswith("window#"):
        rule, _, window_key = pk.removeprefix("window#").partition("#")
        return StateKey("window", (rule, window_key))
    return None


def timer_index(key: StateKey, item: dict[str, object]) -> dict[str, str]:
    """The index attributes of a rules item whose next deadline is pending (``next_fire_at``); else none."""
    due = item.get("next_fire_at")
    if key.kind != "rules" or not isinstance(due, str) or not due:
        return {}
    pk, _ = state(key)
    shard = TIMER_SHARDS[shard_of(pk)]
    return {TIMER_SHARD: shard, TIMER_DUE: due}


def dedupe(dedupe_key: str) -> Key:
    return (f"dedupe#{bounded(dedupe_key, DEDUPE_KEY_BYTES)}", "dedupe")


def hashed_dedupe_key(dedupe_key: str) -> bool:
    """Whether the dedupe item's key is a hash of the dedupe key (then the item keeps the key itself)."""
    return bounded(dedupe_key, DEDUPE_KEY_BYTES) != dedupe_key


def is_dedupe(pk: str) -> bool:
    return pk.startswith("dedupe#")


def dedupe_key_of(pk: str) -> str:
    return pk.removeprefix("dedupe#")


def xref(ref: SourceRef) -> Key:
    return state(StateKey("xref", (ref.system, ref.entity, str(ref.id))))


def watermark(connector: str, stream: str) -> Key:
    return (f"watermark#{connector}#{stream}", "watermark")


def sync_lease(connector: str, stream: str) -> Key:
    return (f"syncrun#{connector}#{stream}", "run")


def rate_budget(api: str) -> Key:
    return (f"ratebudget#{api}", "bucket")


def hourly_counts(connector: str, hour: str) -> Key:
    """The stats table: a connector's outcome counts for one UTC hour (``YYYY-MM-DDTHH``)."""
    return (f"stats#{connector}", f"hour#{hour}")


def hour_of_counts(sort_key: str) -> str:
    return sort_key.removeprefix("hour#")


def refusal_counts(connector: str, minute: str, reason: str) -> Key:
    """The stats table: the door's refusals of one connector for one reason in one UTC minute (``YYYY-MM-DDTHH:MM``)."""
    return (bounded(f"refusals#{connector}"), f"minute#{minute}#{reason}")


def minute_and_reason(sort_key: str) -> tuple[str, str]:
    minute, _, reason = sort_key.removeprefix("minute#").partition("#")
    return minute, reason


# --------------------------------------------------------------------------- audit chains


def entity_chain(entity: str, entity_id: str) -> str:
    return f"{entity}#{entity_id}"


def input_chain(dedupe_key: str) -> str:
    return f"{INPUT_CHAIN}{bounded(dedupe_key, DEDUPE_KEY_BYTES)}"


def consent_chain(customer_id: str) -> str:
    return f"{CONSENT_CHAIN}{customer_id}"


def event_chain(event_id: str) -> str:
    return f"{EVENT_CHAIN}{event_id}"


def rejection_chain(receipt_id: str) -> str:
    return f"{REJECTION_CHAIN}{receipt_id}"


INPUT_OWNER = "input"  # an input's chain head lives on its dedupe item
ChainOwner = StateKey | str | tuple[str, str] | None


def chain_owner(chain: str) -> ChainOwner:
    """Which item keeps a chain's head: a state item, the input's dedupe item (INPUT_OWNER),
    an outbox event ``("event", id)``, or nobody (a refusal's one-entry chain)."""
    if chain.startswith((REJECTION_CHAIN, CONSOLE_CHAIN, ERASURE_CHAIN, DEAD_LETTER_CHAIN)):
        return None
    if chain.startswith(INPUT_CHAIN):
        return INPUT_OWNER
    if chain.startswith(EVENT_CHAIN):
        return ("event", chain.removeprefix(EVENT_CHAIN))
    if chain.startswith(CONSENT_CHAIN):
        return StateKey("consent", (chain.removeprefix(CONSENT_CHAIN),))
    if chain.startswith(RULES_CHAIN):
        entity, _, entity_id = chain.removeprefix(RULES_CHAIN).partition("#")
        return StateKey("rules", (entity, entity_id))
    entity, _, entity_id = chain.partition("#")
    return StateKey("golden", (entity, entity_id))


def rules_chain(entity: str, entity_id: str) -> str:
    return f"{RULES_CHAIN}{entity}#{entity_id}"


def dead_letter_chain(message_id: str) -> str:
    return f"{DEAD_LETTER_CHAIN}{message_id}"


def console_chain(action_id: str) -> str:
    return f"{CONSOLE_CHAIN}{action_id}"


def erasure_chain(masked_subject: str, at: str) -> str:
    """One erasure's tombstone: a chain of its own, so the customer's entity chain starts afresh if it comes back."""
    return f"{ERASURE_CHAIN}{masked_subject}#{at}"


def erasure_job(customer_id: str) -> Key:
    """An erasure under way (chalicelib/store/erasure.py), beside the customer's golden and consent items."""
    return (bounded(f"customer#{customer_id}"), "erasure")


def erasure_correlation(masked_subject: str) -> str:
    """Every erasure of one customer shares this correlation id: the usage report finds them by it."""
    return f"erase#{masked_subject}"


SEQUENCE_DIGITS = 12


def audit_entry(chain: str, seq: int) -> Key:
    return (chain_key(chain), f"{seq:0{SEQUENCE_DIGITS}d}")


def chain_key(chain: str) -> str:
    """The partition key of a chain's entries (a chain named by a long source key is bounded)."""
    return bounded(chain)


def index_key(value: str) -> str:
    """An index partition key that carries a value from outside (an event's subject, an input's correlation id)."""
    return bounded(value)


# --------------------------------------------------------------------------- other tables


def event(event_id: str) -> Key:
    return (event_id, "event")


def quarantine_id(dedupe_key: str) -> str:
    return "q_" + hashlib.sha256(dedupe_key.encode()).hexdigest()[:24]


def is_quarantine_id(text: str) -> bool:
    """Whether ``text`` could be a ``quarantine_id``: anything else names no record (and may be too long for a key)."""
    return len(text) == 26 and text.startswith("q_") and all(c in "0123456789abcdef" for c in text[2:])


def quarantine(qid: str) -> Key:
    return (qid, "quarantine")


def inputs_partitions(connector: str, object_type: str) -> list[str]:
    """Every partition one source object's raw inputs are written to (a replay spreads over all of them)."""
    return all_shards(f"{connector}#{object_type}")


def raw_input(connector: str, object_type: str, received_at: datetime, dedupe_key: str) -> Key:
    at = received_at.isoformat()
    return (sharded(f"{connector}#{object_type}", dedupe_key), f"{at}#{bounded(dedupe_key, RANGE_KEY_BYTES - len(at) - 1)}")


# --------------------------------------------------------------------------- index shards


def shard_of(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % INDEX_SHARDS


def sharded(value: str, owner: str) -> str:
    """An index partition key: ``value`` on the shard that ``owner`` (the item's own key) hashes to."""
    return f"{value}#{shard_of(owner):02d}"


def all_shards(value: str) -> list[str]:
    """Every index partition key ``sharded(value, …)`` can give: what a listing reads and merges."""
    return [f"{value}#{n:02d}" for n in range(INDEX_SHARDS)]


TIME_SHARD = "time"  # events and quarantine listed by time, whatever their type or connector


def audit_order(at: str, chain: str, seq: int) -> str:
    """The audit indexes' sort key: time order, unique per entry (short: it is stored on the entry)."""
    return f"{at}#{hashlib.sha256(chain.encode()).hexdigest()[:12]}{seq:x}"
