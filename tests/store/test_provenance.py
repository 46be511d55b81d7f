"""A golden record's provenance is stored by reference to its members and reads back exactly as evaluation made it."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from benchmarks.capacity import item_size
from chalicelib.domain import golden
from chalicelib.runtime.settings import get_settings
from chalicelib.store import dynamo, keys, provenance

CRM = {"system": "demo_crm", "record_id": "C-1", "time": "2026-11-01T00:00:00.000000+00:00", "fields": {"grade": "A", "name": "Acme"}}
ERP = {"system": "demo_erp", "record_id": "77", "time": "2026-11-02T00:00:00.000000+00:00", "fields": {"credit_limit": "50000.00"}}


def a_golden(**extra: Any) -> dict[str, Any]:
    sources = {"demo_crm/customer/C-1": CRM, "demo_erp/customer/77": ERP}
    given_by = {"grade": CRM, "name": CRM, "credit_limit": ERP}
    return {
        "entity": "customer",
        "id": "cus_1",
        "fields": {"grade": "A", "name": "Acme", "credit_limit": "50000.00"},
        "provenance": {name: {k: member[k] for k in provenance.GIVEN} for name, member in given_by.items()},
        "sources": sources,
        **extra,
    }


def test_each_field_names_its_member_when_stored_and_reads_back_in_full():
    item = a_golden()
    stored = provenance.for_storage(item)
    crm, erp = "demo_crm/customer/C-1", "demo_erp/customer/77"
    assert stored["provenance"] == {"grade": crm, "name": crm, "credit_limit": erp}
    assert provenance.as_read(stored) == item
    assert item_size(dynamo.to_item(stored)) < item_size(dynamo.to_item(item))


def test_what_is_not_an_exact_copy_of_a_member_is_stored_as_it_is():
    edited = a_golden()
    edited["provenance"]["grade"] = dict(edited["provenance"]["grade"], time="2026-10-01T00:00:00.000000+00:00")  # an older time
    assert provenance.for_storage(edited) == edited
    more = a_golden()
    more["provenance"]["name"] = dict(more["provenance"]["name"], rule="mappings/x.yaml:3")  # something besides the three
    assert provenance.for_storage(more) == more
    gone = a_golden()
    del gone["sources"]["demo_erp/customer/77"]  # a member no longer there
    assert provenance.for_storage(gone) == gone


def test_items_without_provenance_and_items_stored_in_full_read_back_unchanged():
    for item in ({"alias_of": "cus_2", "entity": "customer", "id": "cus_1"}, {"orders": {}}, a_golden(provenance={})):
        assert provenance.for_storage(item) == item
        assert provenance.as_read(item) == item
    assert provenance.as_read(a_golden()) == a_golden(), "a golden record stored in full, before references"


def test_a_reference_to_a_member_that_went_reads_as_unknown_not_an_error():
    stored = provenance.for_storage(a_golden())
    del stored["sources"]["demo_erp/customer/77"]
    assert provenance.as_read(stored)["provenance"]["credit_limit"] == {"system": None, "record_id": None, "time": None}


a_member = st.fixed_dictionaries(
    {"system": st.sampled_from(["crm", "erp", "pos"]), "record_id": st.text(max_size=8), "time": st.text(max_size=8)}
)
members = st.dictionaries(st.text(min_size=1, max_size=12), a_member, min_size=1, max_size=4)


@given(members, st.data())
def test_storing_then_reading_gives_back_what_survive_made(sources: dict[str, Any], data: st.DataObject):
    picks = data.draw(st.dictionaries(st.text(min_size=1, max_size=6), st.sampled_from(sorted(sources)), max_size=6))
    item = {"sources": sources, "provenance": {name: {k: sources[key][k] for k in provenance.GIVEN} for name, key in picks.items()}}
    assert provenance.as_read(provenance.for_storage(item)) == item


def test_survive_gives_exact_copies_so_a_golden_record_is_stored_short():
    """The shape provenance.py relies on: survive copies the member's three values and nothing else."""
    sources = {"demo_crm/customer/C-1": CRM, "demo_erp/customer/77": ERP}
    _, made = golden.survive(sources, "customer", golden.Survivorship())
    assert all(isinstance(ref, str) for ref in provenance.for_storage({"sources": sources, "provenance": made})["provenance"].values())


def test_the_state_table_holds_references_and_the_state_api_shows_provenance_in_full(stack):
    from chalicelib.domain.state import golden_key
    from tests.stack import demo_body, drain, get_json, post_demo

    assert post_demo(stack, demo_body("C-9", "Gold")).status_code == 202
    drain()
    status, state = get_json(stack, "/state?source=demo_crm/customer/C-9")
    assert status == 200, state
    member = state["sources"]["demo_crm/customer/C-9"]
    assert state["provenance"]["grade"] == {"system": "demo_crm", "record_id": "C-9", "time": member["time"]}
    stored = dynamo.get(get_settings().state_table, *keys.state(golden_key("customer", state["id"])))
    assert stored is not None and stored["provenance"]["grade"] == "demo_crm/customer/C-9"
