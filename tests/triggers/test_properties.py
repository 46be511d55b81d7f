"""Properties over arbitrary delivery orders: staleness and per-sale contributions make order irrelevant."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.state import golden_key, rebate_basis_key
from tests.triggers.helpers import T0, Store, line, load, rec
from tests.triggers.test_rebate import POLICY

GRADES = ["D", "C", "B", "A", "S"]
CONFIG = load("kind: triggers\nowners: {customer: {grade: crm}}\n", POLICY.format(mode="incremental", basis="sell_through", extra=""))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(GRADES), min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_any_delivery_order_ends_on_the_newest_owner_value(grades, rnd):
    versions = [rec("customer", "c1", {"grade": g}, system="crm", at=i) for i, g in enumerate(grades)]
    deliveries = versions + rnd.sample(versions, k=len(versions) // 2)  # with re-deliveries
    rnd.shuffle(deliveries)
    store = Store(CONFIG)
    for record in deliveries:
        store.send(record, "c1")
    assert store.items[golden_key("customer", "c1")]["fields"]["grade"] == grades[-1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=-500, max_value=5000), min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_rebate_basis_counts_each_sale_once_whatever_the_order(amounts, rnd):
    sales = []
    for i, amount in enumerate(amounts):
        fields = {"distributor_id": "d1", "sold_at": T0, "lines": [line("X", 1 if amount >= 0 else -1, str(abs(amount)))]}
        sales.append(rec("pos_sale", f"s{i}", fields, system="pos", at=i))
        sales.append(rec("pos_sale", f"s{i}", fields, system="pos", at=i))  # duplicate
    rnd.shuffle(sales)
    store = Store(CONFIG)
    for record in sales:
        store.send(record)
    item = store.items[rebate_basis_key("d1", "2026-03", "p1")]
    assert sum(item["contributions"].values(), Decimal(0)) == sum(Decimal(a) for a in amounts)
