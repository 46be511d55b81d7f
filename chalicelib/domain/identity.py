"""Cross-system identity: which canonical entity a source record is about (SPEC §2.4).

One real customer is one canonical entity whichever systems it arrives from. A record
belongs to an entity by its own cross-reference (it was seen before), by an explicit
``same_as`` link to another system's record, or by a declared match key (a normalised
tax number, phone, e-mail or expression over its canonical fields).

Canonical ids are deterministic, so the result never depends on arrival order:
- a record with a match key is identified by its best key (``cus_k0_…`` for the first
  key kind declared, ``cus_k1_…`` for the second …): records of two systems that carry
  the same tax number get the same id from the start, whichever arrives first;
- a record without one is identified by its source reference (``cus_…``), as is a
  record that is only referred to (an order's customer) before it arrives;
- when entities turn out to be one, the surviving id is the lowest in that order
  (key-derived before source-derived, then the text), and the others become aliases.

The rules here are pure: ``decide`` takes what the store read and returns the decision.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.canonical import CanonicalRecord, SourceRef

PREFIXES = {
    "customer": "cus",
    "product": "prd",
    "order": "ord",
    "pos_sale": "pos",
    "rebate_settlement": "rbs",
    "lead": "led",
    "opportunity": "opp",
    "activity": "act",
}
SAME_AS = "same_as"
_KEY_ID = re.compile(r"^[a-z]+_k(\d+)_")


# --------------------------------------------------------------------------- ids


def id_for(ref: SourceRef) -> str:
    """The id a source record has on its own (and that a reference to it resolves to until it is known)."""
    return own_id(ref.system, ref.entity, str(ref.id))


def own_id(system: str, entity: str, source_id: str) -> str:
    if entity == "product":
        return source_id  # products are identified by SKU across systems
    digest = hashlib.sha256(f"{system}\x1f{entity}\x1f{source_id}".encode()).hexdigest()
    return f"{PREFIXES[entity]}_{digest[:20]}"


def resolved_id(system: str, entity: str, source_id: str, xref: Mapping[str, Any] | None) -> str:
    """The id a source reference resolves to: its cross-reference's, else its own (no cross-reference is kept where they agree)."""
    found = (xref or {}).get("entity_id")
    return str(found) if found else own_id(system, entity, source_id)


def key_id(entity: str, rank: int, key: str) -> str:
    """The id of the entity identified by a match key (rank: the key kind's place in the declared order)."""
    digest = hashlib.sha256(f"{entity}\x1f{key}".encode()).hexdigest()
    return f"{PREFIXES[entity]}_k{rank}_{digest[:20]}"


def rank(entity_id: str) -> tuple[int, int, str]:
    """Which of several ids survives a merge: key-derived (best kind first) before source-derived, then text."""
    match = _KEY_ID.match(entity_id)
    return (0, int(match.group(1)), entity_id) if match else (1, 0, entity_id)


def survivor(ids: Iterable[str]) -> str:
    return min(ids, key=rank)


def entity_key(entity: str, entity_id: str) -> str:
    return f"{entity}#{entity_id}"


def ref_text(ref: SourceRef) -> str:
    """``system/entity/id``: how a member source record is named in golden items and the API."""
    return f"{ref.system}/{ref.entity}/{ref.id}"


# --------------------------------------------------------------------------- match keys


def normalise_tax_id(value: Any) -> str | None:
    """统一社会信用代码 / VAT number: spaces and hyphens removed, upper case; at least 5 characters."""
    text = re.sub(r"[\s\-]", "", str(value)).upper()
    return text if len(text) >= 5 and text.isalnum() else None


def normalise_phone(value: Any) -> str | None:
    """Digits only, the +86 / 0086 country prefix removed; 6 to 15 digits (not all one digit) or it matches nothing."""
    text = str(value).strip()
    digits = re.sub(r"\D", "", text)
    if text.startswith("+86"):
        digits = digits[2:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:  # 86 and an 11-digit mobile number
        digits = digits[2:]
    return digits if 6 <= len(digits) <= 15 and len(set(digits)) > 1 else None


def normalise_email(value: Any) -> str | None:
    text = str(value).strip().lower()
    return text if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text) else None


def normalise_text(value: Any) -> str | None:
    text = " ".join(str(value).split()).casefold()
    return text or None


NORMALISERS: dict[str, Callable[[Any], str | None]] = {
    "tax_id": normalise_tax_id,
    "phone": normalise_phone,
    "email": normalise_email,
    "text": normalise_text,
}


@dataclass(frozen=True)
class MatchKey:
    """One declared key: a canonical field (or an expression over the fields), normalised."""

    name: str  # the key kind, e.g. tax_id, phone, member_card
    normaliser: str  # one of NORMALISERS
    canonical_field: str | None = None
    expression: Callable[[Mapping[str, Any]], Any] | None = field(default=None, compare=False)

    def value(self, fields: Mapping[str, Any]) -> str | None:
        raw = self.expression({"record": fields}) if self.expression is not None else fields.get(self.canonical_field or "")
        if raw is None or raw == "":
            return None
        normalised = NORMALISERS[self.normaliser](raw)
        return f"{self.name}:{normalised}" if normalised else None


@dataclass(frozen=True)
class IdentityRules:
    """Match keys per entity, best first (configuration: ``kind: identity``), and the entities some
    mapping links across systems (``same_as``). Entities with neither are identified by source id alone."""

    keys: Mapping[str, tuple[MatchKey, ...]] = field(default_factory=dict)
    linked: frozenset[str] = frozenset()

    def applies(self, entity: str) -> bool:
        """Records of this entity may join or merge with others: their identity must be looked up."""
        return bool(self.keys.get(entity)) or entity in self.linked

    def record_keys(self, entity: str, fields: Mapping[str, Any]) -> list[str]:
        """The record's valid, normalised keys, best first (a junk value yields no key)."""
        found = []
        for key in self.keys.get(entity, ()):
            try:
                value = key.value(fields)
            except Exception:  # noqa: BLE001 - an expression that fails on this record gives no key
                value = None
            if value is not None:
                found.append(value)
        return list(dict.fromkeys(found))

    def key_rank(self, entity: str, key: str) -> int:
        kind = key.split(":", 1)[0]
        names = [k.name for k in self.keys.get(entity, ())]
        return names.index(kind) if kind in names else len(names)


# --------------------------------------------------------------------------- the decision


@dataclass(frozen=True)
class Lookup:
    """What the store holds for one record's identity (read before its state)."""

    own: str | None  # the entity its source record already belongs to (its cross-reference)
    links: Mapping[str, str]  # each same_as target ("system/entity/id") -> its entity (known or its own id)
    key_hits: Mapping[str, str]  # each of the record's keys that an entity holds -> that entity


@dataclass(frozen=True)
class Decision:
    entity_id: str  # where the record's golden record lives (the survivor)
    merged: tuple[str, ...] = ()  # ids that become aliases of entity_id (some may hold nothing yet)
    ambiguous: tuple[str, ...] = ()  # two or more candidates and nothing to choose by: quarantine, naming them
    keys: tuple[str, ...] = ()  # the record's normalised match keys


def decide(record: CanonicalRecord, keys: list[str], lookup: Lookup, rules: IdentityRules) -> Decision:
    """Join, start, merge or refuse (ambiguous): SPEC §2.4.

    - The linked part: the entity the record already belongs to (else its own id, which an
      earlier reference to it may have used), and every entity its same_as links reach.
    - Key candidates: the other entities that hold one of its keys.
    - Without explicit links, two or more key candidates are ambiguous: never guessed.
    - Otherwise all of them are one entity; the survivor is the lowest id by ``rank``, the
      record's own best key id included (so the id does not depend on which record came first).
    """
    own = lookup.own or id_for(record.source)
    linked = {own, *lookup.links.values()}
    candidates = sorted({e for e in lookup.key_hits.values() if e not in linked}, key=rank)
    if not lookup.links and len(candidates) >= 2:
        return Decision(own, ambiguous=tuple(candidates), keys=tuple(keys))
    ids = linked | set(candidates)
    if keys:
        best = keys[0]
        ids.add(lookup.key_hits.get(best) or key_id(record.entity, rules.key_rank(record.entity, best), best))
    leader = survivor(ids)
    return Decision(leader, tuple(sorted(ids - {leader}, key=rank)), keys=tuple(keys))


def link_targets(record: CanonicalRecord) -> list[SourceRef]:
    """The records this one declares itself the same as (``references: {same_as: …}``)."""
    link = record.references.get(SAME_AS)
    return [link] if link is not None else []


def references(record: CanonicalRecord) -> dict[str, SourceRef]:
    """The record's references to other entities (``customer_id`` …), links excluded."""
    return {name: ref for name, ref in record.references.items() if name != SAME_AS}


def resolve_references(record: CanonicalRecord, resolved: Mapping[str, str] | None = None) -> CanonicalRecord:
    """Write each reference's canonical id into the field it names (``customer_id`` …).

    ``resolved`` maps a reference's source ("system/entity/id") to the entity it belongs to
    (its cross-reference); a reference not found there resolves to the source's own id.
    """
    fields = dict(record.fields)
    for name, ref in references(record).items():
        fields[name] = (resolved or {}).get(ref_text(ref)) or id_for(ref)
    return record.model_copy(update={"fields": fields})


def canonical_id(record: CanonicalRecord) -> str:
    """The record's id when its entity type has no identity rules: its own source id (a product: its SKU)."""
    if record.entity == "product":
        sku = record.fields.get("sku")
        return str(sku) if sku else str(record.source.id)
    return id_for(record.source)
