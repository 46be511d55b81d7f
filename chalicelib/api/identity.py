"""What identity made of an entity, and undoing a wrong match (`salesbridge identity show | unmerge`).

An unmerge moves one member source record out of an entity into an entity of its own (the
member's own id), recomputes both golden records from their members' latest values, and
marks the two apart: the moved record's cross-reference remembers the entity it left, so its
next update does not join it again through a shared match key. Repeating an unmerge that
happened (an operator retrying after a lost reply) answers the same result with ``already``,
and writes nothing. Both audit chains say what
happened; events already fired stay fired.

A merge is the operator's answer to a record quarantined as ``ambiguous_identity`` (two
entities hold its match keys and nothing says which it is): the operator decides the two are
one, they are folded together exactly as a linking record would fold them, and the records
quarantined for that doubt are replayed, now joining the one entity.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.api.errors import bad_request, not_found
from chalicelib.configuration import Configuration
from chalicelib.domain import identity
from chalicelib.domain.canonical import ENTITY_TYPES, SourceRef
from chalicelib.domain.golden import Survivorship, is_alias, split
from chalicelib.domain.state import StateKey, golden_key, match_key, xref_key
from chalicelib.errors import ApiError, ConflictError, StateKeysMissing
from chalicelib.runtime.settings import Settings
from chalicelib.store.audit import AuditEntry
from chalicelib.store.dynamo_store import DynamoStore
from chalicelib.store.port import ChainAppend, Plan

Item = dict[str, Any]


def _split_key(entity_key: str) -> tuple[str, str]:
    entity, _, entity_id = entity_key.partition("#")
    if entity not in ENTITY_TYPES or not entity_id:
        raise bad_request("entity must look like 'customer#cus_…'")
    return entity, entity_id


def _member_ref(member: str) -> SourceRef:
    parts = member.split("/", 2)
    if len(parts) != 3 or parts[1] not in ENTITY_TYPES or not parts[2]:
        raise bad_request("member must look like '<system>/<entity type>/<source id>', e.g. demo_crm/customer/C-1001")
    return SourceRef(system=parts[0], entity=parts[1], id=parts[2])  # type: ignore[arg-type]


def show(settings: Settings, entity_key: str) -> dict[str, Any]:
    """The entity's members with their match keys, its aliases, and what each cross-reference says."""
    entity, entity_id = _split_key(entity_key)
    store = DynamoStore(settings)
    golden = store.read([golden_key(entity, entity_id)]).states[golden_key(entity, entity_id)]
    if golden is None:
        raise not_found(f"no state for {entity_key}")
    if is_alias(golden):
        return {"entity": entity_key, "alias_of": f"{entity}#{golden['alias_of']}"}
    members = golden.get("sources", {})
    xrefs = [xref_key(*member.split("/", 2)) for member in members]
    keys = sorted({k for m in members.values() for k in m.get("keys", [])})
    states = store.read(xrefs + [match_key(entity, k) for k in keys]).states
    return {
        "entity": entity_key,
        "members": [
            {
                "source": member,
                "time": m.get("time"),
                "version": m.get("version"),
                "keys": m.get("keys", []),
                "cross_reference": _resolves_to(member, states),
            }
            for member, m in sorted(members.items())
        ],
        "match_keys": {k: (states.get(match_key(entity, k)) or {}).get("entity_id") for k in keys},
        "aliases": golden.get("aliases", []),
        "apart": golden.get("apart", []),
    }


def _resolves_to(member: str, states: dict[StateKey, Any]) -> str:
    """The id a member's source reference resolves to: its cross-reference, else the id the reference gives on its own."""
    system, entity, source_id = member.split("/", 2)
    return identity.resolved_id(system, entity, source_id, states.get(xref_key(system, entity, source_id)))


def _already_unmerged(xref: Item | None, entity_id: str, new_id: str) -> Item | None:
    """The record of this very unmerge on the moved member's cross-reference: a repeated request is answered, not refused."""
    done = (xref or {}).get("unmerged")
    if (xref or {}).get("entity_id") == new_id and isinstance(done, dict) and done.get("from") == entity_id:
        return done
    return None


def unmerge(config: Configuration, settings: Settings, entity_key: str, member: str, actor: str) -> dict[str, Any]:
    """Move ``member`` out of the entity into one of its own; both recomputed, audited, kept apart."""
    entity, entity_id = _split_key(entity_key)
    ref = _member_ref(member)
    moved = identity.ref_text(ref)
    new_id = identity.id_for(ref)
    if new_id == entity_id:
        raise bad_request(f"{moved} gave the entity its id: unmerge the other members from it instead")
    store = DynamoStore(settings)
    rules: Survivorship = config.survivorship
    for _ in range(5):
        keys = [golden_key(entity, entity_id), golden_key(entity, new_id), xref_key(ref.system, ref.entity, str(ref.id))]
        snapshot = store.read(keys)
        golden = snapshot.states[keys[0]]
        if golden is None or is_alias(golden):
            raise not_found(f"no entity {entity_key} (an alias or unknown id)")
        members = golden.get("sources", {})
        if moved not in members:
            done = _already_unmerged(snapshot.states[keys[2]], entity_id, new_id)
            if done:
                return {
                    "unmerged": moved,
                    "from": entity_key,
                    "to": f"{entity}#{new_id}",
                    "keys_moved": done["keys_moved"],
                    "already": True,
                }
            raise bad_request(f"{moved} is not a member of {entity_key}; members: {', '.join(sorted(members))}")
        if len(members) < 2:
            raise bad_request(f"{moved} is the only member of {entity_key}: nothing to separate")
        kept, out = split(golden, {moved}, entity, entity_id, new_id, rules)
        kept["aliases"] = [a for a in kept.get("aliases", []) if a != new_id]
        if not kept["aliases"]:
            kept.pop("aliases")
        staying_keys = {k for m in kept["sources"].values() for k in m.get("keys", [])}
        own_keys = sorted({k for k in members[moved].get("keys", []) if k not in staying_keys})
        puts: dict[StateKey, Item] = {
            keys[0]: kept,
            keys[1]: out,
            keys[2]: {
                "entity_id": new_id,
                "entity": ref.entity,
                "system": ref.system,
                "source_id": str(ref.id),
                "apart": [entity_id],
                "unmerged": {"from": entity_id, "keys_moved": own_keys},
            },
        }
        if own_keys:  # the commit checks what it overwrites: read the key index items first
            store.read_more(snapshot, [match_key(entity, k) for k in own_keys])
        for key in own_keys:
            puts[match_key(entity, key)] = {"entity_id": new_id}
        details = {"member": moved, "from": entity_key, "to": f"{entity}#{new_id}", "keys_moved": own_keys}
        entries = [
            ChainAppend(entity_key, [AuditEntry(action="unmerged", actor=actor, correlation_id=f"unmerge#{moved}", details=details)]),
            ChainAppend(
                f"{entity}#{new_id}", [AuditEntry(action="unmerged_from", actor=actor, correlation_id=f"unmerge#{moved}", details=details)]
            ),
        ]
        try:
            store.commit(Plan(snapshot, puts=puts, audit=entries))
        except ConflictError:
            continue
        return {"unmerged": moved, "from": entity_key, "to": f"{entity}#{new_id}", "keys_moved": own_keys}
    raise ApiError(409, "conflict", "the entity kept changing; try again")


MERGE_READ_ROUNDS = 4  # the golden records, then their members' cross-references and key index items


def merge(config: Configuration, settings: Settings, entity_key: str, other_key: str, actor: str) -> dict[str, Any]:
    """Fold two entities an operator knows to be one; the lower-ranked id survives, as in the pipeline."""
    from chalicelib.pipeline.identify import entity_keys, merge_entities
    from chalicelib.triggers.outcome import EventContext
    from chalicelib.triggers.process import rebate_bases_of_merge

    entity, first = _split_key(entity_key)
    other_entity, second = _split_key(other_key)
    if other_entity != entity:
        raise bad_request(f"{entity_key} and {other_key} are different kinds of entity")
    if first == second:
        raise bad_request("name two different entities")
    leader = identity.survivor([first, second])
    folded = second if leader == first else first
    store = DynamoStore(settings)
    for _ in range(5):
        snapshot = store.read(entity_keys(entity, [leader, folded]))
        goldens = {i: snapshot.states[golden_key(entity, i)] for i in (leader, folded)}
        if (goldens[folded] or {}).get("alias_of") == leader:
            return {"merged": f"{entity}#{folded}", "into": f"{entity}#{leader}", "already": True, "released": []}
        for i, golden in goldens.items():
            if golden is None or is_alias(golden):
                raise not_found(f"no entity {entity}#{i} (an alias or unknown id)")
        work = dict(snapshot.states)
        context = EventContext(datetime.now(UTC), f"merge#{folded}", None)
        for _round in range(MERGE_READ_ROUNDS):
            try:
                folding = merge_entities(entity, leader, (folded,), work, config.survivorship)
                bases = rebate_bases_of_merge(leader, tuple(folding.merged), work, config.triggers, context)
                break
            except StateKeysMissing as missing:
                work.update(store.read_more(snapshot, missing.keys))
        else:
            raise ApiError(409, "conflict", "the entities kept changing; try again")
        details = {"merged": [f"{entity}#{folded}"], "members": folding.members, "decided_by": "operator"}
        entries = [
            ChainAppend(
                f"{entity}#{leader}", [AuditEntry(action="merged", actor=actor, correlation_id=f"merge#{folded}", details=details)]
            ),
            ChainAppend(
                f"{entity}#{folded}",
                [
                    AuditEntry(
                        action="merged_into", actor=actor, correlation_id=f"merge#{folded}", details={"survivor": f"{entity}#{leader}"}
                    )
                ],
            ),
        ]
        try:
            store.commit(Plan(snapshot, puts={**folding.puts, **bases.puts}, audit=entries, events=bases.events))
        except ConflictError:
            continue
        released = _release_ambiguous(config, settings, entity, {leader, folded}, actor)
        return {"merged": f"{entity}#{folded}", "into": f"{entity}#{leader}", "members": folding.members, "released": released}
    raise ApiError(409, "conflict", "the entities kept changing; try again")


def _release_ambiguous(config: Configuration, settings: Settings, entity: str, ids: set[str], actor: str) -> list[dict[str, Any]]:
    """Replay the open records quarantined because these entities both held their keys (a bounded look back)."""
    from chalicelib.api.admin import replay_one
    from chalicelib.store import queries

    results: list[dict[str, Any]] = []
    cursor = None
    for _page in range(RELEASE_PAGES):
        items, cursor = queries.quarantined(settings, connector=None, status="open", limit=100, cursor=cursor)
        for item in items:
            candidates = set(item.get("candidates") or [])
            if item.get("code") == "ambiguous_identity" and candidates and candidates <= {f"{entity}#{i}" for i in ids} | ids:
                results.append(replay_one(config, settings, str(item["id"]), actor))
        if not cursor:
            break
    return results


RELEASE_PAGES = 10  # the newest 1,000 open quarantined records are looked at; older ones are replayed by filter
