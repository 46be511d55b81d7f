"""Stage gates (SPEC §2.5): entering a stage with a required field or activity missing fires, naming each.

Entering includes being created in the stage; a stale snapshot is not applied, so it enters
nothing. A required field is missing when absent, null or blank; a required activity when no
applied activity linked to the entity and matching its filter has a source time strictly before
the change. Evidence of activities is kept in the entity's rules item, as the earliest matching
source time per requirement (``gates[rule]["<stage>/<requirement>"]``): bounded, whatever the
number of activities.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.events import CloudEvent
from chalicelib.domain.golden import iso, parse_time
from chalicelib.rules.events import rule_event
from chalicelib.rules.language import filter_env
from chalicelib.rules.model import GateRule

Item = dict[str, Any]


def record_activity(item: Item, rule: GateRule, activity: dict[str, Any], at: datetime) -> tuple[Item, list[str]]:
    """The item with this activity as evidence for every requirement it matches (and their names)."""
    env = filter_env(rule.activity, activity)
    evidence = dict((item.get("gates") or {}).get(rule.name) or {})
    matched = []
    for stage_name, stage in rule.stages.items():
        for requirement in stage.activities:
            if requirement.where(env):
                key = f"{stage_name}/{requirement.name}"
                if key not in evidence or at < parse_time(evidence[key]):
                    evidence[key] = iso(at)
                matched.append(key)
    if not matched:
        return item, []
    return {**item, "gates": {**(item.get("gates") or {}), rule.name: evidence}}, matched


def missing_on_entry(item: Item | None, rule: GateRule, stage_name: str, fields: dict[str, Any], at: datetime) -> list[dict[str, str]]:
    stage = rule.stages[stage_name]
    evidence = ((item or {}).get("gates") or {}).get(rule.name) or {}
    missing = [{"kind": "field", "name": name} for name in stage.fields if _blank(fields.get(name))]
    for requirement in stage.activities:
        seen = evidence.get(f"{stage_name}/{requirement.name}")
        if seen is None or parse_time(seen) >= at:
            missing.append({"kind": "activity", "name": requirement.name})
    return missing


def gate_event(rule: GateRule, subject: str, stage: str, previous: Any, missing: list[dict[str, str]], at: datetime) -> CloudEvent:
    data = {"rule": rule.name, "entity": rule.entity, "id": subject, "stage": stage, "previous_stage": previous, "missing": missing}
    return rule_event(rule.fire, (rule.name, subject, stage, iso(at)), subject, at, data, None)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, (list, dict)) and not value)
