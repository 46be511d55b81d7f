"""Identity in the pipeline: what to read before a record's state, the decision, and what a merge writes.

A record of an entity type with identity rules (match keys, or a mapping that links it with
``same_as``) is identified in two reads: first its cross-reference, its links' cross-references,
its references' cross-references and its match keys in the key index; then the state of the
entity it belongs to (and of any entity it shows to be the same). Entity types without rules are
identified by their source id alone, with no extra read (chalicelib.domain.identity).

When a record shows that entities are one, they merge here, in the same commit as the record:
the survivor's golden record is recomputed from every member's latest values, the others become
aliases, the members' cross-references and match keys move to the survivor, and the order
history and consent registry of a customer are united. Nothing already fired fires again: the
once-only markers are united too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain import identity
from chalicelib.domain.canonical import CanonicalRecord
from chalicelib.domain.golden import Survivorship, combine, is_alias
from chalicelib.domain.identity import Decision, IdentityRules, Lookup
from chalicelib.domain.state import Item, StateKey, States, consent_key, golden_key, match_key, orders_key, xref_key
from chalicelib.errors import StateKeysMissing


@dataclass(frozen=True)
class Identified:
    record: CanonicalRecord  # references resolved into their fields (customer_id …)
    decision: Decision

    @property
    def entity_id(self) -> str:
        return self.decision.entity_id


def lookup_keys(record: CanonicalRecord, rules: IdentityRules) -> list[StateKey]:
    """The first read: cross-references and match keys (empty when nothing about this record can merge)."""
    keys: list[StateKey] = []
    if rules.applies(record.entity):
        keys.append(xref_key(record.source.system, record.entity, str(record.source.id)))
        keys += [xref_key(t.system, t.entity, str(t.id)) for t in identity.link_targets(record)]
        keys += [match_key(record.entity, k) for k in rules.record_keys(record.entity, record.fields)]
    for ref in identity.references(record).values():
        if rules.applies(ref.entity):
            keys.append(xref_key(ref.system, ref.entity, str(ref.id)))
    return list(dict.fromkeys(keys))


def needs_lookup(record: CanonicalRecord, rules: IdentityRules) -> bool:
    return bool(lookup_keys(record, rules))


def identify(record: CanonicalRecord, states: States, rules: IdentityRules) -> Identified:
    """The decision from the first read (``states`` holds every key of ``lookup_keys``)."""

    def owner(key: StateKey) -> str | None:
        item = states.get(key)
        return str(item["entity_id"]) if item and item.get("entity_id") else None

    resolved = {
        identity.ref_text(ref): found
        for ref in identity.references(record).values()
        if (found := owner(xref_key(ref.system, ref.entity, str(ref.id))))
    }
    resolved_record = identity.resolve_references(record, resolved)
    if not rules.applies(record.entity):
        return Identified(resolved_record, Decision(identity.canonical_id(record)))
    keys = rules.record_keys(record.entity, record.fields)
    own_xref = states.get(xref_key(record.source.system, record.entity, str(record.source.id))) or {}
    apart = set(own_xref.get("apart", []))  # entities an operator separated this record from: its keys there count no more
    if apart:
        keys = [
            k
            for k in keys
            if owner(match_key(record.entity, k)) not in apart
            and identity.key_id(record.entity, rules.key_rank(record.entity, k), k) not in apart
        ]
    lookup = Lookup(
        own=owner(xref_key(record.source.system, record.entity, str(record.source.id))),
        links={
            identity.ref_text(t): owner(xref_key(t.system, t.entity, str(t.id))) or identity.id_for(t)
            for t in identity.link_targets(record)
        },
        key_hits={k: hit for k in keys if (hit := owner(match_key(record.entity, k)))},
    )
    return Identified(resolved_record, identity.decide(record, keys, lookup, rules))


def entity_keys(entity: str, ids: list[str]) -> list[StateKey]:
    """What merging these entities reads: their golden records (and a customer's history and consent)."""
    keys: list[StateKey] = []
    for entity_id in ids:
        keys.append(golden_key(entity, entity_id))
        if entity == "customer":
            keys += [orders_key(entity_id), consent_key(entity_id)]
    return keys


@dataclass
class Merge:
    """What a merge writes, and what the audit says of it."""

    puts: dict[StateKey, Item] = field(default_factory=dict)
    merged: list[str] = field(default_factory=list)  # ids that held something and are now aliases
    members: list[str] = field(default_factory=list)  # member source records moved to the survivor


def merge_entities(entity: str, survivor: str, others: tuple[str, ...], states: States, rules: Survivorship) -> Merge:
    """Fold ``others`` into ``survivor``. Raises StateKeysMissing for the members' keys not read yet."""
    goldens = {i: states.get(golden_key(entity, i)) for i in (survivor, *others)}
    holding = [i for i in others if goldens[i] and not is_alias(goldens[i])]
    result = Merge()
    if not holding:
        return result
    parts = [g for i, g in goldens.items() if g and not is_alias(g) and (i == survivor or i in holding)]
    combined = combine(parts, entity, survivor, rules, holding)
    members = sorted(combined.get("sources", {}))
    moved = [m for i in holding for m in (goldens[i] or {}).get("sources", {})]
    needed = [_member_xref(m) for m in moved] + [match_key(entity, k) for i in holding for k in _keys_of(goldens[i])]
    missing = [k for k in dict.fromkeys(needed) if k not in states]
    if missing:
        raise StateKeysMissing(missing)
    result.puts[golden_key(entity, survivor)] = combined
    for i in holding:
        result.puts[golden_key(entity, i)] = {"alias_of": survivor, "entity": entity, "id": i}
    for member in moved:
        system, member_entity, source_id = member.split("/", 2)
        xref = {"entity_id": survivor, "entity": member_entity, "system": system, "source_id": source_id}
        result.puts[_member_xref(member)] = xref
    for i in holding:
        for key in _keys_of(goldens[i]):
            result.puts[match_key(entity, key)] = {"entity_id": survivor}
    if entity == "customer":
        _unite_customer_state(survivor, holding, states, result)
    result.merged, result.members = holding, [m for m in members if m in moved]
    return result


def identity_puts(identified: Identified, states: States) -> dict[StateKey, Item]:
    """After a record is applied: its cross-reference, its links' and its keys point at its entity."""
    record, entity_id = identified.record, identified.entity_id
    wanted = [xref_key(record.source.system, record.entity, str(record.source.id))]
    wanted += [xref_key(t.system, t.entity, str(t.id)) for t in identity.link_targets(record)]
    puts: dict[StateKey, Item] = {}
    for key in wanted:
        if key in states and _points_elsewhere(key, states.get(key), entity_id):
            system, entity, source_id = key.parts
            puts[key] = {"entity_id": entity_id, "entity": entity, "system": system, "source_id": source_id}
    for member_key in identified.decision.keys:
        key = match_key(record.entity, member_key)
        if key in states and (states.get(key) or {}).get("entity_id") != entity_id:
            puts[key] = {"entity_id": entity_id}
    return puts


def _points_elsewhere(key: StateKey, xref: Item | None, entity_id: str) -> bool:
    """Whether a cross-reference must be written: it says another entity, or is absent where the source's own id is not this one.

    An absent cross-reference resolves to the id the source reference gives on its own, so a record
    that belongs there needs none (one transactional item fewer on every first sight).
    """
    system, entity, source_id = key.parts
    return identity.resolved_id(system, entity, source_id, xref) != entity_id


def _member_xref(member: str) -> StateKey:
    system, entity, source_id = member.split("/", 2)
    return xref_key(system, entity, source_id)


def _keys_of(golden: Item | None) -> list[str]:
    return sorted({k for m in (golden or {}).get("sources", {}).values() for k in m.get("keys", [])})


def _unite_customer_state(survivor: str, merged: list[str], states: States, result: Merge) -> None:
    """A customer's order history and consent registry follow it into the survivor."""
    histories = [states.get(orders_key(i)) for i in (survivor, *merged)]
    if any(histories[1:]):
        orders: dict[str, Any] = {}
        for history in histories:
            orders.update((history or {}).get("orders", {}))
        result.puts[orders_key(survivor)] = {"customer_id": survivor, "orders": orders}
        for i in merged:
            if states.get(orders_key(i)):
                result.puts[orders_key(i)] = {"customer_id": i, "orders": {}, "merged_into": survivor}
    registries = [states.get(consent_key(i)) for i in (survivor, *merged)]
    if any(registries[1:]):
        categories: dict[str, Any] = {}
        for registry in registries:
            for name, decision in ((registry or {}).get("categories") or {}).items():
                if name not in categories or str(decision.get("at", "")) > str(categories[name].get("at", "")):
                    categories[name] = decision
        result.puts[consent_key(survivor)] = {**(registries[0] or {}), "customer_id": survivor, "categories": categories}
