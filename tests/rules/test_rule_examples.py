"""`salesbridge rules test`: the shipped rules' examples run through the real processor and timers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.config.yaml_lines import load_yaml_file
from chalicelib.configuration import load_configuration
from chalicelib.errors import ConfigError
from chalicelib.pipeline.rule_examples import run_examples
from chalicelib.rules.config import load_rules

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = load_configuration(ROOT)


@pytest.mark.parametrize("result", run_examples(SHIPPED.rules, SHIPPED.triggers), ids=lambda r: f"{r.owner}: {r.example}")
def test_every_shipped_rule_example_passes(result):
    assert result.passed, "\n".join(result.differences)


def test_the_shipped_rules_cover_each_kind():
    kinds = {type(r).__name__ for r in SHIPPED.rules.rules}
    assert kinds == {"DeadlineRule", "WindowRule", "GateRule"}
    assert [a.name for a in SHIPPED.rules.actions] == ["escalate_uncontacted_lead"]
    assert all(SHIPPED.rules.examples[r.name] for r in SHIPPED.rules.rules)


RULES = """\
kind: rules
rules:
  - name: lead_not_contacted
    of: lead
    expect: activity where type == "call"
    within: 15m
    grace: {grace}
    else: fire lead.not_contacted
    examples:
      - name: story
        records:
          - {{lead: L1, at: 0m}}
          - {{activity: C1, at: 14m, received: {received}, fields: {{type: call, lead_id: L1}}}}
        expect:
{expect}
"""


def _rules(tmp_path: Path, **values: str):
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.format(**values))
    return load_rules([("rules.yaml", load_yaml_file(path, "rules.yaml"))])


def test_a_wrong_expectation_fails_and_says_what_fired(tmp_path):
    rules = _rules(tmp_path, grace="0m", received="17m", expect="          - {type: lead.not_contacted, subject: L1}")
    [result] = run_examples(rules)
    assert not result.passed
    assert result.differences == ["not expected: lead.not_contacted.resolved_late for L1 at 2026-01-05T01:14:00+00:00"]


def test_an_expected_event_that_does_not_fire_is_named(tmp_path):
    rules = _rules(tmp_path, grace="5m", received="17m", expect="          - {type: lead.not_contacted, subject: L1, time: 20m}")
    [result] = run_examples(rules)
    assert result.differences == ["expected lead.not_contacted for L1, not fired"]


def test_errors_name_file_line_and_column(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.format(grace="5m", received="17m", expect="          []").replace('type == "call"', 'typ == "call"'))
    with pytest.raises(ConfigError) as raised:
        load_rules([("rules.yaml", load_yaml_file(path, "rules.yaml"))])
    [problem] = raised.value.problems
    assert (Path(problem.file).name, problem.line) == ("rules.yaml", 5)
    assert "typ" in problem.message


def test_the_command_runs_the_shipped_examples():
    command = [sys.executable, "-m", "cli", "rules", "test", "-v"]
    ok = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "0 failed" in ok.stdout and "PASS" in ok.stdout
