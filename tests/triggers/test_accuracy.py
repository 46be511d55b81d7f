"""The accuracy benchmark on a small seed: the rules are exact, so precision and recall must be 1."""

from benchmarks.accuracy.report import RULES, run


def test_precision_and_recall_are_exact_on_generated_traffic():
    scores, info = run(seed=11, customers=300)
    assert [s.rule for s in scores] == list(RULES)
    for s in scores:
        assert s.expected > 0, f"{s.rule}: the traffic exercises nothing"
        assert (s.precision, s.recall) == (1.0, 1.0), s.line()
    assert info["repeated event ids"] == 0
    assert info["stale"] > 0 and info["deduplicated"] > 0 and info["quarantined"] > 0
    assert info["deviations re-opened with the pair reported before"] > 0  # SPEC §2.3: each fires again
