"""The rules' accuracy report is exact on small seeded traffic (the full report: make bench)."""

from __future__ import annotations

from benchmarks.accuracy import rules_traffic
from benchmarks.accuracy.rules_report import RULES, run


def test_precision_and_recall_are_exact_for_every_new_rule(monkeypatch):
    original = rules_traffic.generate
    monkeypatch.setattr("benchmarks.accuracy.rules_report.generate", lambda seed: original(seed, leads=40, customers=20, opportunities=30))
    scores, _ = run(11)
    assert {s.rule for s in scores} == set(RULES)
    assert all(s.expected > 0 for s in scores)
    assert [(s.rule, s.precision, s.recall) for s in scores if s.precision != 1.0 or s.recall != 1.0] == []
