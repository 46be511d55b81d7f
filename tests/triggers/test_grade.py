import pytest

from chalicelib.domain.state import golden_key
from chalicelib.errors import TriggerInputError
from tests.triggers.helpers import Store, load, rec

OWNERS = """
kind: triggers
owners:
  customer: {grade: crm}
"""


def crm(grade, at, cid="c1", system="crm"):
    return rec("customer", cid, {"grade": grade}, system=system, at=at, source_id=f"{system}-{cid}")


def grade_events(store, record):
    return store.events(store.send(record, "c1"), "customer.grade_changed")


def test_first_sight_is_a_baseline_then_a_change_fires_with_direction_and_steps():
    store = Store(load(OWNERS))
    assert grade_events(store, crm("B", 0)) == []
    [event] = grade_events(store, crm("S", 1))
    assert event["subject"] == "c1"
    assert event["data"] == {
        "customer_id": "c1",
        "previous": "B",
        "current": "S",
        "direction": "up",
        "steps": 2,
        "source_system": "crm",
        "source_record_id": "crm-c1",
    }
    assert event["correlationid"] == "corr-1" and event["mappingversion"] == "v1"
    assert event["time"].startswith("2026-03-10T02:01")
    [down] = grade_events(store, crm("D", 2))
    assert (down["data"]["direction"], down["data"]["steps"]) == ("down", 4)


def test_same_grade_duplicate_and_stale_do_not_fire_nor_overwrite():
    store = Store(load(OWNERS))
    grade_events(store, crm("B", 0))
    assert grade_events(store, crm("B", 5)) == []  # same grade
    outcome = store.send(crm("A", 5), "c1")  # duplicate timestamp: stale
    assert outcome.stale and outcome.events == [] and outcome.puts == {}
    assert store.send(crm("A", 3), "c1").stale  # older: stale
    assert store.items[golden_key("customer", "c1")]["fields"]["grade"] == "B"
    assert len(grade_events(store, crm("A", 6))) == 1


def test_redelivery_yields_the_same_event_id():
    one, two = Store(load(OWNERS)), Store(load(OWNERS))
    for store in (one, two):
        grade_events(store, crm("B", 0))
    assert grade_events(one, crm("A", 1))[0]["id"] == grade_events(two, crm("A", 1))[0]["id"]


def test_non_owner_grade_fires_nothing():
    store = Store(load(OWNERS))
    grade_events(store, crm("B", 0))
    outcome = store.send(crm("S", 1, system="erp"), "c1")
    assert outcome.events == [] and any(n.kind == "not_owner" and "grade" in n.data["fields"] for n in outcome.notes)
    assert store.items[golden_key("customer", "c1")]["fields"]["grade"] == "B"


def test_baseline_can_be_switched_off():
    store = Store(load(OWNERS + "grade_changed: {baseline_on_first_sight: false}\n"))
    [event] = grade_events(store, crm("B", 0))
    assert event["data"]["previous"] is None and event["data"]["direction"] == "up" and event["data"]["steps"] == 3


def test_grade_trigger_can_be_disabled():
    store = Store(load(OWNERS + "grade_changed: {enabled: false}\n"))
    grade_events(store, crm("B", 0))
    assert grade_events(store, crm("A", 1)) == []


def test_scale_from_configuration_sets_order_and_steps():
    scale = "kind: grade_scale\nname: vip\nlevels: [bronze, silver, gold]\n"
    store = Store(load(OWNERS + "grade_changed: {scale: vip}\n", scale=scale))
    grade_events(store, crm("gold", 0))
    [event] = grade_events(store, crm("bronze", 1))
    assert (event["data"]["direction"], event["data"]["steps"]) == ("down", 2)


def test_unknown_grade_is_quarantined_with_an_actionable_message():
    store = Store(load(OWNERS))
    with pytest.raises(TriggerInputError) as exc:
        store.send(crm("Platinum", 0), "c1")
    message = str(exc.value)
    assert "'Platinum'" in message and "'crm'" in message and "crm-customer" in message


def test_owner_from_the_record_when_configuration_is_silent():
    store = Store(load("kind: triggers\n"))
    record = crm("B", 0).model_copy(update={"owners": {"grade": "crm"}})
    store.send(record, "c1")
    other = crm("A", 1, system="erp").model_copy(update={"owners": {"grade": "crm"}})
    assert store.send(other, "c1").events == []
