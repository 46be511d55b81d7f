from decimal import Decimal

import pytest

from chalicelib.errors import ConfigError
from chalicelib.triggers.config import load_trigger_config
from tests.triggers.helpers import load, shipped_docs

BROKEN_TRIGGERS = """\
kind: triggers
owners:
  invoice: {total: erp}
order_anomaly:
  amount_spike:
    factor: -1
    window: twenty
  duplicate_order:
    window_minutes: 10
    windw: 5
custom_rules:
  - name: bad_syntax
    when: order.total >
  - name: escape
    when: order.__class__ == 1
  - name: unknown_name
    event_type: Order Anomaly
    when: os.system == 1
rebate:
  pct_tolerance: lots
"""

BROKEN_POLICY = """\
kind: rebate_policy
name: p1
basis: sell_out
tier_mode: all_units
timezone: Mars/Olympus
tiers:
  - {from: 100, rate: 0.01}
  - {from: 50, rate: 0.02}
"""


def test_every_problem_is_reported_at_once_with_file_line_column():
    with pytest.raises(ConfigError) as exc:
        load(BROKEN_TRIGGERS, BROKEN_POLICY)
    found = {(p.file.rsplit("/", 1)[-1], p.line, p.field) for p in exc.value.problems}
    assert found >= {
        ("triggers.yaml", 3, "owners.invoice"),
        ("triggers.yaml", 6, "order_anomaly.amount_spike.factor"),
        ("triggers.yaml", 7, "order_anomaly.amount_spike.window"),
        ("triggers.yaml", 10, "order_anomaly.duplicate_order.windw"),
        ("triggers.yaml", 13, "custom_rules[0].when"),
        ("triggers.yaml", 15, "custom_rules[1].when"),
        ("triggers.yaml", 17, "custom_rules[2].event_type"),
        ("triggers.yaml", 18, "custom_rules[2].when"),
        ("triggers.yaml", 20, "rebate.pct_tolerance"),
        ("p0.yaml", 3, "basis"),
        ("p0.yaml", 5, "timezone"),
        ("p0.yaml", 7, "tiers[0].from"),
        ("p0.yaml", 8, "tiers[1].from"),
    }
    text = str(exc.value)
    assert "mappings/triggers.yaml:18:11: custom_rules[2].when: column 1: unknown name 'os'" in text
    assert "mappings/rebate_policies/p0.yaml:5:11: timezone: unknown time zone 'Mars/Olympus'" in text


def test_missing_grade_scale_is_an_error():
    with pytest.raises(ConfigError) as exc:
        load("kind: triggers\ngrade_changed: {scale: vip}\n")
    assert "grade_changed.scale" in str(exc.value) and "'vip'" in str(exc.value)


def test_duplicate_policy_names_are_an_error():
    policy = "kind: rebate_policy\nname: p1\ntiers: [{from: 0, rate: 0.01}]\n"
    with pytest.raises(ConfigError) as exc:
        load("kind: triggers\n", policy, policy)
    assert "already declared" in str(exc.value)


def test_defaults_match_the_specification():
    config = load()
    spike, dup = config.order_anomaly.amount_spike, config.order_anomaly.duplicate_order
    assert (spike.factor, spike.window, spike.min_history) == (Decimal("3.0"), 20, 5)
    assert dup.window.total_seconds() == 600
    assert config.order_anomaly.credit_limit_exceeded.closed_statuses == {"paid", "cancelled"}
    assert (config.abs_tolerance, config.pct_tolerance) == (Decimal("1.00"), Decimal("0.005"))
    assert config.default_timezone == "Asia/Shanghai" and config.grade.baseline_on_first_sight


def test_percent_text_is_accepted():
    assert load("kind: triggers\nrebate: {pct_tolerance: '0.5%'}\n").pct_tolerance == Decimal("0.005")


def test_shipped_configuration_loads():
    config = load_trigger_config(shipped_docs())
    assert {p.name for p in config.policies} == {"distributor-monthly", "key-sku-sell-in"}
    assert config.owner_of("customer", "grade") and config.owner_of("order", "total") is None
    assert [r.name for r in config.custom_rules] == ["big_order_from_grade_d", "key_account_order", "inactive_product_ordered"]
