"""A golden record's provenance as stored: each field names the member of ``sources`` that gave its value.

Evaluation and the API see, per field, the giving member's ``system``, ``record_id`` and ``time``
(chalicelib/domain/golden.py, ``survive``): the member's own three values, copied. Stored in full
they were the largest part of a golden record (903 of an order's 1,263 bytes, for eight fields),
and every started KB of an item costs write units, twice inside a transaction. Stored, each field
keeps the member's key instead; reading puts the three values back from ``sources``.

Only an exact copy is shortened: a field whose provenance is not its member's three values, word
for word, is stored as it is. Items stored in full (before this, or not shortened) read back
unchanged, so both forms live side by side.
"""

from __future__ import annotations

from typing import Any

GIVEN = ("system", "record_id", "time")  # what survive copies from the member, in this order


def for_storage(item: dict[str, Any]) -> dict[str, Any]:
    """The item with each field's provenance replaced by its member's key, when every field's is an exact copy."""
    provenance, sources = item.get("provenance"), item.get("sources")
    if not provenance or not isinstance(provenance, dict) or not isinstance(sources, dict):
        return item
    by_given = {_given(member): key for key, member in sources.items() if isinstance(member, dict)}
    refs = {}
    for name, given in provenance.items():
        key = by_given.get(_given(given)) if isinstance(given, dict) and set(given) == set(GIVEN) else None
        if key is None:
            return item
        refs[name] = key
    return dict(item, provenance=refs)


def as_read(item: dict[str, Any]) -> dict[str, Any]:
    """The item with each field's provenance as evaluation and the API know it (an item stored in full as it is)."""
    provenance = item.get("provenance")
    if not provenance or not isinstance(provenance, dict) or not any(isinstance(v, str) for v in provenance.values()):
        return item
    sources = item.get("sources") or {}
    return dict(item, provenance={name: _expanded(ref, sources) for name, ref in provenance.items()})


def _given(values: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(values.get(name) for name in GIVEN)


def _expanded(ref: Any, sources: dict[str, Any]) -> Any:
    if not isinstance(ref, str):
        return ref
    member = sources.get(ref) or {}
    return {name: member.get(name) for name in GIVEN}
