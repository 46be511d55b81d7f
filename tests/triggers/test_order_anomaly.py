from datetime import timedelta
from decimal import Decimal

from chalicelib.domain.state import orders_key
from tests.triggers.helpers import T0, Store, line, load, rec

OWNERS = """
kind: triggers
owners:
  order: {"*": erp}
"""


def order(oid, total, *, at, lines=None, customer="c1", status="open", placed=None, system="erp", currency=None):
    placed = placed if placed is not None else at
    lines = lines if lines is not None else [line(f"SKU-{oid}", 1, str(total))]
    fields = {
        "customer_id": customer,
        "total": Decimal(str(total)),
        "lines": lines,
        "status": status,
        "placed_at": T0 + timedelta(minutes=placed),
    }
    if currency is not None:
        fields["currency"] = currency
    return rec("order", oid, fields, system=system, at=at)


def rules(store, record):
    return sorted(e["data"]["rule"] for e in store.events(store.send(record), "order.anomaly_detected"))


def history(store, totals, start=0):
    for i, total in enumerate(totals):
        store.send(order(f"h{start + i}", total, at=start + i * 100))


# ---------------------------------------------------------------- amount_spike


def test_spike_boundary_exactly_at_factor_does_not_fire_one_cent_above_does():
    store = Store(load(OWNERS))
    history(store, [100, 100, 100, 100, 100])
    assert rules(store, order("o0", "299.99", at=9_999)) == []
    assert rules(store, order("o1", "300.00", at=10_000)) == []
    [event] = Store.events(store, store.send(order("o2", "300.01", at=10_001)))
    assert event["data"]["rule"] == "amount_spike"
    assert event["data"]["evidence"]["median"] == "100" and event["data"]["evidence"]["threshold"] == "300.0"
    assert event["data"]["evidence"]["total"] == "300.01"


def test_spike_needs_min_history():
    store = Store(load(OWNERS))
    history(store, [100, 100, 100, 100])
    assert rules(store, order("o1", 1000, at=10_000)) == []
    store = Store(load(OWNERS))
    history(store, [100, 100, 100, 100, 100])
    assert rules(store, order("o1", 1000, at=10_000)) == ["amount_spike"]


def test_spike_median_over_the_window_of_previous_orders():
    store = Store(load(OWNERS))
    history(store, [1000] * 5 + [100] * 20)  # the 20 most recent are 100
    assert rules(store, order("o1", "300.01", at=100_000)) == ["amount_spike"]
    store = Store(load(OWNERS + "order_anomaly: {amount_spike: {window: 21}}\n"))
    history(store, [1000] * 15 + [100] * 10)  # 21 most recent: 11 x 1000, 10 x 100 -> median 1000
    assert rules(store, order("o1", "3000", at=100_000)) == []
    assert rules(store, order("o2", "3000.01", at=100_001)) == ["amount_spike"]


def test_spike_counts_distinct_orders_not_deliveries():
    store = Store(load(OWNERS))
    history(store, [100] * 4)
    for at in (500, 501, 502):  # the same order updated again: still one previous order
        store.send(order("h0", 100, at=at, placed=0))
    assert rules(store, order("o1", 1000, at=10_000)) == []


def test_spike_parameters_are_configurable():
    config = OWNERS + "order_anomaly:\n  amount_spike: {factor: 2.0, min_history: 2, window: 3}\n"
    store = Store(load(config))
    history(store, [900, 100, 100])
    assert rules(store, order("o1", "200.01", at=10_000)) == ["amount_spike"]
    store = Store(load(OWNERS + "order_anomaly: {amount_spike: {enabled: false}}\n"))
    history(store, [100] * 5)
    assert rules(store, order("o1", 10_000, at=10_000)) == []


def cny_history(store, totals, start=0):
    for i, total in enumerate(totals):
        store.send(order(f"h{start + i}", total, at=start + i * 100, currency="CNY"))


def not_judged(outcome):
    return [n for n in outcome.notes if n.kind == "rule_not_judged"]


def test_spike_never_compares_a_usd_order_with_cny_history():
    store = Store(load(OWNERS))
    cny_history(store, [100] * 5)
    outcome = store.send(order("o1", 450, at=10_000, currency="USD"))  # 450 > 3 x 100, but dollars against yuan
    assert store.events(outcome, "order.anomaly_detected") == []
    [note] = not_judged(outcome)
    assert note.data["rule"] == "amount_spike" and note.data["currency"] == "USD" and note.data["other_currencies"] == 5
    assert "USD" in note.message and "order_anomaly.amount_spike.convert" in note.message


def test_spike_compares_each_currency_with_its_own_history():
    store = Store(load(OWNERS))
    for i in range(5):
        store.send(order(f"u{i}", 100, at=i * 10, currency="USD"))
        store.send(order(f"c{i}", 1000, at=i * 10 + 1, currency="CNY"))
    [event] = store.events(store.send(order("o1", "300.01", at=10_000, currency="USD")), "order.anomaly_detected")
    evidence = event["data"]["evidence"]
    assert (evidence["currency"], evidence["median"], evidence["history_count"]) == ("USD", "100", 5)
    # mixed with the dollars the median would be 550 and 2000 a spike; against yuan alone it is not
    outcome = store.send(order("o2", 2000, at=10_001, currency="CNY"))
    assert store.events(outcome, "order.anomaly_detected") == [] and not_judged(outcome) == []


def test_spike_without_enough_history_in_any_currency_says_nothing():
    store = Store(load(OWNERS))
    cny_history(store, [100] * 4)
    outcome = store.send(order("o1", 450, at=10_000, currency="USD"))
    assert store.events(outcome) == [] and not_judged(outcome) == []  # too little history: as before, no note


CONVERT = OWNERS + "order_anomaly:\n  amount_spike:\n    convert: {to: CNY, rates: {USD: '7.10', EUR: 7.75}}\n"


def test_spike_converts_by_the_integrators_rate_table_and_shows_the_rate():
    store = Store(load(CONVERT))
    cny_history(store, [100] * 3)
    store.send(order("u1", "14.08", at=300, currency="USD"))  # 99.968 yuan
    store.send(order("u2", "14.09", at=400, currency="USD"))  # 100.039 yuan
    assert rules(store, order("o0", 42, at=9_999, currency="USD")) == []  # 298.20 yuan <= 3 x median
    [event] = store.events(store.send(order("o1", 45, at=10_000, currency="USD")), "order.anomaly_detected")
    evidence = event["data"]["evidence"]
    assert evidence["currency"] == "USD" and evidence["compared_in"] == "CNY" and evidence["rates"] == {"USD": "7.10"}
    assert (evidence["total"], evidence["converted_total"], evidence["median"]) == ("45", "319.50", "100")
    assert "7.10" in event["data"]["reason"]


def test_spike_with_a_rate_table_does_not_judge_a_currency_it_cannot_convert():
    store = Store(load(CONVERT))
    cny_history(store, [100] * 5)
    for i in range(5):  # left out of everyone's window (counted in, they would lift the median to 2550)
        store.send(order(f"j{i}", 5000, at=600 + i, currency="JPY"))
    outcome = store.send(order("o1", 900, at=10_000, currency="GBP"))
    assert store.events(outcome, "order.anomaly_detected") == []
    [note] = not_judged(outcome)
    assert note.data["currency"] == "GBP" and "no rate for GBP" in note.message
    assert rules(store, order("o2", "300.01", at=10_001, currency="CNY")) == ["amount_spike"]  # JPY 5000 not in the median


def test_spike_rate_table_problems_name_file_line_and_field():
    from chalicelib.errors import ConfigError

    broken = OWNERS + "order_anomaly:\n  amount_spike:\n    convert: {to: yuan, rates: {USD: -1, CNY: 1, usd: 7}}\n"
    try:
        load(broken)
    except ConfigError as exc:
        text = str(exc)
    else:
        raise AssertionError("a broken rate table loaded")
    assert "order_anomaly.amount_spike.convert.to" in text and "'yuan'" in text
    assert "order_anomaly.amount_spike.convert.rates.USD" in text and "greater than 0" in text
    assert "mappings/triggers.yaml:7:" in text


def test_evaluated_only_on_first_sight_or_lines_total_change_and_once_per_rule():
    store = Store(load(OWNERS))
    history(store, [100] * 5)
    assert rules(store, order("o1", 100, at=10_000)) == []
    status_only = rec("order", "o1", {"status": "confirmed"}, at=10_001)
    assert store.send(status_only).events == []
    assert rules(store, order("o1", 5000, at=10_002)) == ["amount_spike"]  # total changed
    assert rules(store, order("o1", 6000, at=10_003)) == []  # once per rule, ever
    assert rules(store, order("o1", 6000, at=10_003)) == []  # duplicate


def test_non_owner_order_version_is_ignored():
    store = Store(load(OWNERS))
    history(store, [100] * 5)
    assert rules(store, order("o1", 5000, at=10_000, system="crm")) == []


# ---------------------------------------------------------------- below_floor_price


def product(sku, floor, at=-1000):
    return rec("product", sku, {"sku": sku, "floor_price": Decimal(floor)}, at=at)


def test_floor_price_boundary_uses_net_unit_price_after_line_discount():
    store = Store(load(OWNERS))
    store.send(product("P1", "90.00"))
    at_floor = [line("P1", 10, "100.00", discount="100.00")]  # net 90.00 = floor
    assert rules(store, order("o1", "900.00", at=0, lines=at_floor)) == []
    above = [line("P1", 10, "100.00", discount="99.90")]  # net 90.01
    assert rules(store, order("o0", "900.10", at=0, lines=above)) == []
    below = [line("P1", 10, "100.00", discount="100.10")]  # net 89.99
    [event] = Store.events(store, store.send(order("o2", "899.90", at=1, lines=below)))
    assert event["data"]["rule"] == "below_floor_price"
    assert event["data"]["evidence"]["lines"][0] == {"sku": "P1", "line_id": None, "net_unit_price": "89.99", "floor_price": "90.00"}


def test_floor_price_can_be_disabled_and_needs_a_floor():
    store = Store(load(OWNERS + "order_anomaly: {below_floor_price: {enabled: false}}\n"))
    store.send(product("P1", "90"))
    assert rules(store, order("o1", 1, at=0, lines=[line("P1", 1, "1")])) == []
    store = Store(load(OWNERS))
    assert rules(store, order("o1", 1, at=0, lines=[line("P2", 1, "1")])) == []  # no product master


# ---------------------------------------------------------------- duplicate_order


def test_duplicate_window_boundary():
    lines = [line("A", 2, "10"), line("B", 1, "5")]
    store = Store(load(OWNERS))
    store.send(order("o1", 25, at=0, lines=lines))
    assert rules(store, order("o2", 25, at=10, lines=list(reversed(lines)))) == ["duplicate_order"]  # exactly 10 min
    store = Store(load(OWNERS))
    store.send(order("o1", 25, at=0, lines=lines))
    early = order("o2", 25, at=10, lines=lines)
    early.fields["placed_at"] = T0 + timedelta(minutes=9, seconds=59)
    assert rules(store, early) == ["duplicate_order"]
    store = Store(load(OWNERS))
    store.send(order("o1", 25, at=0, lines=lines))
    late = order("o3", 25, at=10, lines=lines)
    late.fields["placed_at"] = T0 + timedelta(minutes=10, seconds=1)
    assert rules(store, late) == []


def test_duplicate_needs_same_multiset_and_total():
    store = Store(load(OWNERS))
    store.send(order("o1", 25, at=0, lines=[line("A", 2, "10"), line("B", 1, "5")]))
    assert rules(store, order("o2", 25, at=1, lines=[line("A", 1, "10"), line("B", 3, "5")])) == []
    assert rules(store, order("o3", 26, at=2, lines=[line("A", 2, "10"), line("B", 1, "5")])) == []
    assert rules(store, order("o4", 25, at=3, lines=[line("A", 2, "10"), line("B", 1, "5")], customer="c2")) == []


def test_duplicate_window_is_configurable():
    lines = [line("A", 1, "10")]
    store = Store(load(OWNERS + "order_anomaly: {duplicate_order: {window_minutes: 30}}\n"))
    store.send(order("o1", 10, at=0, lines=lines))
    assert rules(store, order("o2", 10, at=30, lines=lines)) == ["duplicate_order"]
    assert rules(store, order("o3", 10, at=61, lines=lines)) == []


# ---------------------------------------------------------------- credit_limit_exceeded


def customer(limit, cid="c1"):
    return rec("customer", cid, {"credit_limit": Decimal(limit)}, at=-1000)


def test_credit_limit_boundary_counts_open_orders_including_this_one():
    store = Store(load(OWNERS))
    store.send(customer("1000.00"))
    store.send(order("o1", 600, at=0))
    store.send(order("o0", 5000, at=1, status="paid"))
    assert rules(store, order("o2a", "399.99", at=2)) == []  # 999.99
    store.send(rec("order", "o2a", {"customer_id": "c1", "status": "cancelled"}, at=3))
    assert rules(store, order("o2", "400.00", at=2)) == []  # 1000.00 = limit
    [event] = Store.events(store, store.send(order("o3", "0.01", at=3)))
    assert event["data"]["rule"] == "credit_limit_exceeded"
    assert event["data"]["evidence"]["open_total"] == "1000.01"
    assert event["data"]["evidence"]["credit_limit"] == "1000.00"


def test_paid_orders_free_the_credit_and_closed_statuses_are_configurable():
    store = Store(load(OWNERS))
    store.send(customer("1000"))
    store.send(order("o1", 600, at=0))
    store.send(rec("order", "o1", {"status": "paid", "customer_id": "c1"}, at=1))
    assert rules(store, order("o2", 900, at=2)) == []
    store = Store(load(OWNERS + "order_anomaly: {credit_limit_exceeded: {closed_statuses: [paid, cancelled, shipped]}}\n"))
    store.send(customer("1000"))
    store.send(order("o1", 600, at=0, status="shipped"))
    assert rules(store, order("o2", 900, at=2)) == []


def test_status_only_update_without_customer_asks_for_more_state():
    store = Store(load(OWNERS))
    store.send(customer("1000"))
    store.send(order("o1", 600, at=0))
    store.send(rec("order", "o1", {"status": "paid"}, at=1))  # Store retries on StateKeysMissing
    assert store.items[orders_key("c1")]["orders"]["o1"]["status"] == "paid"


# ---------------------------------------------------------------- custom rules

CUSTOM = (
    OWNERS
    + """
custom_rules:
  - name: big_d
    severity: high
    event_type: order.anomaly_detected
    when: customer.grade == "D" and order.total > 1000000
  - name: inactive_product
    severity: warning
    event_type: order.review_requested
    when: product.active == False
"""
)


def test_custom_rule_boundary_and_fields():
    store = Store(load(CUSTOM))
    store.send(rec("customer", "c1", {"grade": "D"}, system="crm", at=-10))
    assert rules(store, order("o1", "1000000", at=0)) == []
    [event] = Store.events(store, store.send(order("o2", "1000000.01", at=1)))
    assert event["data"]["rule"] == "big_d" and event["data"]["severity"] == "high"
    assert event["data"]["evidence"]["order_total"] == "1000000.01"


def test_custom_rule_over_product_and_own_event_type():
    store = Store(load(CUSTOM))
    store.send(rec("product", "P9", {"active": False}, at=-10))
    outcome = store.send(order("o1", 5, at=0, lines=[line("P1", 1, "1"), line("P9", 1, "4")]))
    [event] = [e for e in Store.events(store, outcome) if e["type"] == "order.review_requested"]
    assert event["data"]["rule"] == "inactive_product" and event["data"]["evidence"]["sku"] == "P9"
