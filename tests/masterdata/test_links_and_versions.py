"""Mapping declarations of identity and order: `references: {same_as: …}` and `version:`."""

from __future__ import annotations

import textwrap
from decimal import Decimal

import pytest

from chalicelib.config.yaml_lines import load_yaml_text
from chalicelib.domain.golden import Survivorship, merge
from chalicelib.errors import ConfigError
from chalicelib.mapping import compile_documents

LINKED = """
kind: mapping
source: {connector: erp, object: customer}
entity: customer
id: id
timestamp: changed
fields: {name: name}
references:
  same_as: {connector: crm, id: crm_id}
"""

VERSIONED = """
kind: mapping
source: {connector: pos, object: member}
entity: customer
id: card
version: rowversion
fields: {name: name}
"""


def compile_one(text: str):  # type: ignore[no-untyped-def]
    mappings = compile_documents([("m.yaml", load_yaml_text(textwrap.dedent(text), "m.yaml"))])
    return next(iter(mappings.mappings.values())), mappings


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        compile_one(text)
    return [f"{p.line}:{p.column}: {p.message}" for p in caught.value.problems]


def test_same_as_links_the_record_to_another_systems_record_and_fills_no_field():
    mapping, mappings = compile_one(LINKED)
    record = mapping.apply({"id": "E1", "crm_id": "C-1", "name": "Acme", "changed": "2026-11-01T08:00:00Z"})
    same = record.references["same_as"]
    assert (same.system, same.entity, same.id) == ("crm", "customer", "C-1")
    assert "same_as" not in record.fields
    assert mappings.linked_entities() == frozenset({"customer"})


def test_same_as_must_name_another_connector_and_the_same_entity():
    own = LINKED.replace("{connector: crm, id: crm_id}", "{id: crm_id}")
    assert problems(own) == ["9:3: same_as names another system's record of this entity: give its `connector:` and `id:`"]
    other = LINKED.replace("{connector: crm, id: crm_id}", "{connector: crm, entity: order, id: crm_id}")
    assert problems(other) == ["9:37: same_as links two records of one entity (customer)"]


def test_a_reference_other_than_same_as_still_needs_its_entity():
    text = LINKED.replace("same_as: {connector: crm, id: crm_id}", "customer_id: {id: crm_id}")
    assert any(
        "give the `entity:` that 'customer_id' points at" in p for p in problems(text.replace("entity: customer\n", "entity: order\n"))
    )


def test_a_mapping_without_timestamp_or_version_is_refused_at_its_id():
    text = VERSIONED.replace("version: rowversion\n", "")
    assert problems(text) == [
        "5:1: give `timestamp:` (when the record changed at the source), `version:` (a number the source increases "
        "with every change), or both: they put updates in order"
    ]


def test_version_orders_updates_of_a_source_without_change_times():
    mapping, _ = compile_one(VERSIONED)
    first = mapping.apply({"card": "M1", "rowversion": "7", "name": "old"})
    second = mapping.apply({"card": "M1", "rowversion": 8, "name": "new"})
    assert first.source_version == Decimal(7) and first.time_is_receipt
    rules = Survivorship()
    applied = merge(None, second, "cus_1", rules)
    late = merge(applied.item, first, "cus_1", rules)  # version 7 after version 8: stale, whatever it was received at
    assert not applied.stale and late.stale and late.item["fields"]["name"] == "new"
    again = merge(applied.item, second, "cus_1", rules)  # the same version again: a duplicate
    assert again.stale


def test_equal_times_are_ordered_by_version_when_both_are_given():
    text = VERSIONED.replace("version: rowversion\n", "timestamp: at\nversion: rowversion\n")
    mapping, _ = compile_one(text)
    at = "2026-11-01T08:00:00+08:00"
    v1 = mapping.apply({"card": "M1", "rowversion": 1, "name": "one", "at": at})
    v2 = mapping.apply({"card": "M1", "rowversion": 2, "name": "two", "at": at})
    rules = Survivorship()
    after_both = merge(merge(None, v1, "cus_1", rules).item, v2, "cus_1", rules)
    assert not after_both.stale and after_both.item["fields"]["name"] == "two"
    reversed_ = merge(merge(None, v2, "cus_1", rules).item, v1, "cus_1", rules)
    assert reversed_.stale and reversed_.item["fields"]["name"] == "two"
