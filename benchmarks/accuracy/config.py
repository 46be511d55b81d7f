"""The configuration the accuracy run uses (SPEC defaults plus one custom rule and two policies)."""

from __future__ import annotations

from chalicelib.config.yaml_lines import load_yaml_text
from chalicelib.triggers.config import TriggerConfig, load_trigger_config

GRADE_SCALE = """
kind: grade_scale
name: grade_scale
levels: [D, C, B, A, S]
"""

TRIGGERS = """
kind: triggers
owners:
  customer: {grade: crm, credit_limit: erp}
  product: {"*": erp}
  order: {"*": erp}
custom_rules:
  - name: big_order_grade_d
    severity: high
    event_type: order.anomaly_detected
    when: customer.grade == "D" and order.total > 20000
"""

SELL_THROUGH = """
kind: rebate_policy
name: st-monthly
distributors: "*"
skus: "*"
basis: sell_through
tier_mode: all_units
tiers:
  - {name: base, from: 0, rate: 0.01}
  - {name: silver, from: 20000, rate: 0.02}
  - {name: gold, from: 50000, rate: 0.03}
"""

SELL_IN_TEMPLATE = """
kind: rebate_policy
name: si-key-skus
distributors: [{distributors}]
skus: [{skus}]
basis: sell_in
tier_mode: incremental
tiers:
  - {{name: base, from: 0, rate: 0.005}}
  - {{name: extra, from: 30000, rate: 0.015}}
"""


def bench_config(sell_in_distributors: list[str], sell_in_skus: list[str]) -> TriggerConfig:
    sell_in = SELL_IN_TEMPLATE.format(distributors=", ".join(sell_in_distributors), skus=", ".join(sell_in_skus))
    texts = {"grade_scale.yaml": GRADE_SCALE, "triggers.yaml": TRIGGERS, "st.yaml": SELL_THROUGH, "si.yaml": sell_in}
    return load_trigger_config([(name, load_yaml_text(text, name)) for name, text in texts.items()])
