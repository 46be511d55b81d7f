from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.canonical import SourceRef
from chalicelib.domain.state import golden_key
from chalicelib.triggers.rebate import expected_rebate, period_of
from tests.triggers.helpers import Store, line, load, rec

POLICY = """
kind: rebate_policy
name: p1
basis: {basis}
tier_mode: {mode}
tiers:
  - {{name: base, from: 0, rate: 0.01}}
  - {{name: silver, from: 100000, rate: 0.02}}
{extra}
"""
MARCH = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)


def config(mode="all_units", extra="", triggers="kind: triggers\n", basis="sell_through"):
    return load(triggers, POLICY.format(mode=mode, extra=extra, basis=basis))


def sale(sid, amount, *, at=0, dist="d1", sold=MARCH, lines=None):
    lines = lines if lines is not None else [line("SKU-1", 1 if Decimal(amount) >= 0 else -1, str(abs(Decimal(amount))))]
    return rec("pos_sale", sid, {"distributor_id": dist, "sold_at": sold, "lines": lines}, system="pos", at=at)


def settle(amount, *, at=100, period="2026-03", dist="d1", policy="p1", sid="s1"):
    fields = {"distributor_id": dist, "period": period, "policy": policy, "settled_amount": Decimal(amount)}
    return rec("rebate_settlement", sid, fields, system="erp", at=at)


def kinds(store, record):
    return [
        (e["type"].split(".")[-1], e["data"]["expected"], e["data"]["settled"])
        for e in store.events(store.send(record))
        if e["type"].startswith("rebate.")
    ]


# ---------------------------------------------------------------- computation


@pytest.mark.parametrize(
    "basis, mode, expected, tier",
    [
        ("99999.99", "all_units", "1000.00", "base"),  # 999.9999 rounds half-up
        ("100000", "all_units", "2000.00", "silver"),  # exactly at the tier: the tier is reached
        ("150000", "all_units", "3000.00", "silver"),
        ("150000", "incremental", "2000.00", "silver"),  # 100000 x 1% + 50000 x 2%
        ("100000", "incremental", "1000.00", "silver"),
        ("100.50", "all_units", "1.01", "base"),  # 1.005 -> 1.01 (half-up, not banker's)
        ("0", "all_units", "0.00", None),
        ("-50", "incremental", "0.00", None),
    ],
)
def test_expected_rebate(basis, mode, expected, tier):
    policy = config(mode).policies[0]
    amount, reached = expected_rebate(Decimal(basis), policy)
    assert str(amount) == expected and (reached.name if reached else None) == tier


def test_returns_reduce_the_basis_in_both_modes():
    for mode, expected in (("all_units", "900.00"), ("incremental", "900.00")):
        store = Store(config(mode))
        store.send(sale("a", "120000"))
        store.send(sale("r", "-30000", at=1))
        assert kinds(store, settle("0")) == [("deviation_detected", expected, "0")]
    store = Store(config("incremental"))
    store.send(sale("a", "160000"))
    store.send(sale("r", "-10000", at=1))  # 150000 -> 1000 + 1000
    assert kinds(store, settle("2000")) == []
    store = Store(config("all_units"))
    store.send(sale("a", "160000"))
    store.send(sale("r", "-10000", at=1))  # 150000 -> 3000
    assert kinds(store, settle("3000")) == []


def test_period_is_the_calendar_month_in_the_policy_time_zone():
    moment = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)
    assert period_of(moment, "Asia/Shanghai") == "2026-04"
    assert period_of(moment, "UTC") == "2026-03"
    store = Store(config(extra="timezone: UTC"))
    store.send(sale("a", "1000", sold=moment))
    assert kinds(store, settle("0")) == [("deviation_detected", "10.00", "0")]
    store = Store(config())  # default Asia/Shanghai: the sale is April's
    store.send(sale("a", "1000", sold=moment))
    assert kinds(store, settle("0")) == []


def test_default_time_zone_is_configurable():
    moment = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)
    store = Store(config(triggers="kind: triggers\nrebate: {default_timezone: UTC}\n"))
    store.send(sale("a", "1000", sold=moment))
    assert kinds(store, settle("0")) == [("deviation_detected", "10.00", "0")]


# ---------------------------------------------------------------- tolerance


@pytest.mark.parametrize("settled, fires", [("1005.00", False), ("1005.01", True), ("994.99", True), ("995.00", False)])
def test_pct_tolerance_boundary(settled, fires):  # expected 1000.00: tolerance max(1.00, 5.00)
    store = Store(config())
    store.send(sale("a", "99999.99"))  # expected 1000.00
    assert bool(kinds(store, settle(settled))) is fires


@pytest.mark.parametrize("settled, fires", [("101.00", False), ("101.01", True), ("99.00", False), ("98.99", True)])
def test_abs_tolerance_boundary(settled, fires):  # expected 100.00: tolerance max(1.00, 0.50)
    store = Store(config())
    store.send(sale("a", "10000"))
    assert bool(kinds(store, settle(settled))) is fires


def test_tolerances_are_configurable_globally_and_per_policy():
    store = Store(config(triggers="kind: triggers\nrebate: {abs_tolerance: 2.00, pct_tolerance: 0.01}\n"))
    store.send(sale("a", "10000"))  # expected 100.00, tolerance 2.00
    assert kinds(store, settle("102.00")) == []
    assert kinds(store, settle("102.01", at=101)) != []
    store = Store(config(extra="abs_tolerance: 0\npct_tolerance: 0.01"))
    store.send(sale("a", "99999.99"))  # expected 1000.00, tolerance 10.00
    assert kinds(store, settle("1010.00")) == []
    assert kinds(store, settle("1010.01", at=101)) != []


# ---------------------------------------------------------------- detected / resolved


def test_detected_once_per_pair_then_resolved_then_late_sale():
    store = Store(config())
    store.send(sale("a", "10000"))  # expected 100.00
    assert kinds(store, settle("90")) == [("deviation_detected", "100.00", "90")]
    assert kinds(store, settle("90", at=101)) == []  # same pair: not again
    assert kinds(store, sale("b", "-500", at=102)) == [("deviation_detected", "95.00", "90")]  # late return
    assert kinds(store, sale("c", "1000", at=103)) == [("deviation_detected", "105.00", "90")]  # new pair vs last
    assert kinds(store, settle("105", at=104)) == [("deviation_resolved", "105.00", "105")]
    assert kinds(store, sale("d", "50", at=105)) == []  # within tolerance, nothing open


def test_event_data_carries_the_evidence():
    store = Store(config())
    store.send(sale("a", "100000"))
    [event] = store.events(store.send(settle("1500")))
    assert event["subject"] == "s1"
    assert event["data"] == {
        "distributor": "d1",
        "period": "2026-03",
        "policy": "p1",
        "basis": "100000",
        "tier": "silver",
        "rate": "0.02",
        "expected": "2000.00",
        "settled": "1500",
        "deviation": "-500.00",
        "tolerance": "10.00000",
        "occurrence": 1,
    }


def test_redelivered_and_corrected_sales_count_once():
    store = Store(config())
    store.send(sale("a", "10000"))
    store.send(sale("a", "10000"))  # duplicate: stale
    store.send(sale("a", "10000", at=-5))  # older: stale
    assert kinds(store, settle("100")) == []
    assert kinds(store, sale("a", "20000", at=5)) == [("deviation_detected", "200.00", "100")]  # correction replaces


def test_sale_moved_to_another_period_leaves_the_old_one():
    store = Store(config())
    store.send(sale("a", "10000"))
    store.send(settle("100"))
    april = datetime(2026, 4, 2, tzinfo=UTC)
    assert kinds(store, sale("a", "10000", at=5, sold=april)) == [("deviation_detected", "0.00", "100")]


D1 = "cus_" + "d1" * 10  # a canonical customer id


def test_eligible_skus_and_distributors():
    store = Store(config(extra=f"skus: [SKU-1]\ndistributors: [{D1}]"))
    lines = [line("SKU-1", 1, "10000"), line("SKU-2", 1, "99999")]
    store.send(sale("a", "0", lines=lines, dist=D1))
    assert kinds(store, settle("100", dist=D1)) == []
    assert store.send(sale("b", "5000", dist="d2")).puts.keys() == {golden_key("pos_sale", "b")}


def test_a_policy_names_its_distributor_by_the_code_a_sale_references_it_with():
    store = Store(config(extra="distributors: [{system: kingdee, code: DIST001}]"))
    resolved = "cus_k0_" + "ab" * 10  # whatever identity made of it
    sold = sale("a", "10000", dist=resolved).model_copy(
        update={"references": {"distributor_id": SourceRef(system="kingdee", entity="customer", id="DIST001")}}
    )
    assert any(k.kind == "rebate_basis" for k in store.send(sold).puts)
    assert kinds(store, settle("50", dist=resolved)) == [("deviation_detected", "100.00", "50")]
    other = sale("b", "5000", dist="cus_" + "00" * 10)  # referenced by another code: not covered
    assert store.send(other).puts.keys() == {golden_key("pos_sale", "b")}


def test_sell_in_basis_counts_orders_and_cancellation_removes():
    store = Store(config(basis="sell_in"))
    order = {"customer_id": "d1", "placed_at": MARCH, "total": Decimal("10000"), "lines": [line("SKU-1", 1, "10000")], "status": "open"}
    store.send(rec("order", "o1", order, at=0))
    store.send(sale("a", "50000"))  # POS sales do not count for sell-in
    assert kinds(store, settle("100")) == []
    assert kinds(store, rec("order", "o1", {**order, "status": "cancelled"}, at=1)) == [("deviation_detected", "0.00", "100")]


def test_settlement_for_unknown_policy_is_noted():
    outcome = Store(config()).send(settle("1", policy="nope"))
    assert outcome.events == [] and any(n.kind == "rebate_not_checked" for n in outcome.notes)


def ids(store, record):
    return [(e["type"].split(".")[-1], e["id"]) for e in store.events(store.send(record)) if e["type"].startswith("rebate.")]


def test_a_deviation_that_reopens_after_its_resolution_fires_again_with_an_id_of_its_own():
    """SPEC §2.3: the last pair reported includes the resolution; a re-opened deviation is a new occurrence."""
    store = Store(config("all_units"))
    store.send(sale("a", "150000"))  # expected 3000.00
    [(_, first)] = ids(store, settle("2500"))
    assert kinds(store, sale("r", "-25000", at=101)) == [("deviation_resolved", "2500.00", "2500")]  # 125000 x 2%
    [(kind, again)] = ids(store, sale("r", "0", at=102))  # the return corrected away: back to (3000.00, 2500)
    assert kind == "deviation_detected" and again != first
    assert kinds(store, sale("x", "0", at=103)) == []  # the same open pair: not again
    assert kinds(store, settle("3000", at=104)) == [("deviation_resolved", "3000.00", "3000")]
    [(_, third)] = ids(store, settle("2500", at=105))
    assert third not in (first, again)
    item = next(v for k, v in store.items.items() if k.parts[0] == "d1" and k.parts[2] == "p1")
    assert item["occurrence"] == 3 and item["open"] is True


def test_rebate_event_ids_are_deterministic_for_the_same_history():
    def history():
        store = Store(config("all_units"))
        store.send(sale("a", "150000"))
        return [ids(store, r) for r in (settle("2500"), sale("r", "-25000", at=101), sale("r", "0", at=102))]

    first, second = history(), history()
    assert first == second and len({i for batch in first for _, i in batch}) == 3


def test_every_report_of_one_occurrence_has_its_own_id():
    store = Store(config("all_units"))
    store.send(sale("a", "150000"))  # 3000.00
    [(_, one)] = ids(store, settle("2500"))
    [(_, two)] = ids(store, settle("2600", at=101))  # still out of tolerance, a new pair
    [(_, three)] = ids(store, settle("2500", at=102))  # back to the first pair: it differs from the last reported
    assert len({one, two, three}) == 3


# ---------------------------------------------------------------- distributors found to be one


NEW_YEAR = datetime(2025, 11, 1, tzinfo=UTC)  # the distributors' customer records, before any sale


def merge_distributors(store: Store, survivor: str, merged: str, at: datetime) -> Any:
    """A customer record of ``merged``'s source arrives carrying what makes it ``survivor``'s entity: the two merge."""
    from functools import partial

    from chalicelib.domain.identity import Decision
    from chalicelib.pipeline.evaluate import evaluate, state_keys
    from chalicelib.store.port import Plan

    record = rec("customer", merged, {"name": "Distributor"}, system="crm", at=at)
    decision = Decision(survivor, merged=(merged,))
    snapshot = store.memory.read(state_keys(record, survivor, store.rules, decision))
    evaluation = evaluate(
        record,
        survivor,
        dict(snapshot.states),
        store.rules,
        decision=decision,
        read_more=partial(store.memory.read_more, snapshot),
    )
    store.memory.commit(Plan(snapshot, puts=dict(evaluation.outcome.puts)))
    return evaluation.outcome


def test_a_merged_distributor_settles_with_the_sales_of_both_ids():
    from chalicelib.domain.state import rebate_basis_key

    store = Store(config())
    store.send(rec("customer", "d1", {"name": "Distributor"}, system="crm", at=NEW_YEAR))
    store.send(rec("customer", "d2", {"name": "Distributor"}, system="erp", at=NEW_YEAR))
    store.send(sale("a", "10000", dist="d1"))
    store.send(sale("b", "5000", dist="d2"))
    assert kinds(store, settle("150", dist="d2")) == [("deviation_detected", "50.00", "150")]  # d2 alone: 5000 x 1%

    outcome = merge_distributors(store, "d1", "d2", MARCH)
    joined = store.items[rebate_basis_key("d1", "2026-03", "p1")]
    assert set(joined["contributions"]) == {"pos_sale#a", "pos_sale#b"} and joined["settlement"]["amount"] == Decimal("150")
    assert [e.type for e in outcome.events if e.type.startswith("rebate.")] == []  # 15000 x 1% = 150.00: as settled
    emptied = store.items[rebate_basis_key("d2", "2026-03", "p1")]
    assert emptied["contributions"] == {} and emptied["merged_into"] == "d1" and "settlement" not in emptied

    assert kinds(store, sale("c", "1000", at=200, dist="d1")) == [("deviation_detected", "160.00", "150")]


def test_a_distributor_merge_folds_the_two_months_before_and_no_older():
    from chalicelib.domain.state import rebate_basis_key

    store = Store(config())
    store.send(rec("customer", "d1", {"name": "Distributor"}, system="crm", at=NEW_YEAR))
    store.send(rec("customer", "d2", {"name": "Distributor"}, system="erp", at=NEW_YEAR))
    months = {
        "2025-12": datetime(2025, 12, 10, tzinfo=UTC),
        "2026-01": datetime(2026, 1, 10, tzinfo=UTC),
        "2026-02": datetime(2026, 2, 10, tzinfo=UTC),
    }
    for n, (_, when) in enumerate(months.items()):
        store.send(sale(f"s{n}", "100", dist="d2", sold=when))
    merge_distributors(store, "d1", "d2", MARCH)
    folded = {period: store.items.get(rebate_basis_key("d1", period, "p1")) for period in months}
    assert folded["2025-12"] is None  # four months back: stays with d2, settled long ago
    assert folded["2026-01"] and folded["2026-02"], folded
    assert store.items[rebate_basis_key("d2", "2025-12", "p1")]["contributions"] == {"pos_sale#s0": Decimal("100")}
