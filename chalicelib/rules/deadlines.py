"""Deadlines: ``expect X within D of Y [grace G] else fire`` (SPEC §2.5), one state machine per (rule, subject).

    (not armed) ──Y applied──► armed ──an X in [armed at, due] applied before due + grace──► met
                                 │
                                 └──the clock reaches due + grace──► fired ──first such X──► resolved_late

A subject is armed once, ever. Before it is armed, the source times of the X that arrived are
kept (at most ``MAX_EARLY``), so a response that arrives before the record that arms it still
counts when its time lies in [armed at, due]. An arming record that itself arrives after due +
grace fires at once (unless such a response is already there); so does an armed deadline whose
response arrives after due + grace (then the response resolves it late, in the same step). The
overdue event's time is due + grace; ``resolved_late``'s is the response's source time.

State, in the subject's rules item: ``deadlines[rule]`` = {status, armed_at, due, fire_at,
armed_by, met_at | fired_at | late_response_at}, ``responses[rule]`` = [source times], and
``next_fire_at`` (the earliest pending fire_at: what the timers index lists).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.config.durations import describe
from chalicelib.domain.events import CloudEvent
from chalicelib.domain.golden import iso, parse_time
from chalicelib.rules.events import rule_event
from chalicelib.rules.model import DeadlineRule
from chalicelib.triggers.outcome import AuditNote

MAX_EARLY = 32
Item = dict[str, Any]


def _deadlines(item: Item) -> dict[str, dict[str, Any]]:
    return {k: dict(v) for k, v in (item.get("deadlines") or {}).items()}


def armed_once(item: Item | None, rule: DeadlineRule) -> bool:
    return rule.name in ((item or {}).get("deadlines") or {})


def arm(
    item: Item, rule: DeadlineRule, subject: str, armed_at: datetime, now: datetime, correlation: str | None
) -> tuple[Item, list[CloudEvent], list[AuditNote]]:
    due = rule.due(armed_at)
    fire_at = due + rule.grace
    state: dict[str, Any] = {
        "status": "armed",
        "armed_at": iso(armed_at),
        "due": iso(due),
        "fire_at": iso(fire_at),
        "armed_by": correlation,
    }
    early = [parse_time(t) for t in ((item.get("responses") or {}).get(rule.name) or [])]
    responses = {k: v for k, v in (item.get("responses") or {}).items() if k != rule.name}
    item = {**item, "responses": responses}
    in_time = sorted(t for t in early if armed_at <= t <= due)
    facts = {"rule": rule.name, "subject": subject, "armed_at": iso(armed_at), "due": iso(due), "fire_at": iso(fire_at)}
    if in_time:
        state.update(status="met", met_at=iso(in_time[0]))
        note = AuditNote("deadline_met", f"{rule.name}: a response at {iso(in_time[0])} came before the deadline was armed", facts)
        return _with(item, rule, state), [], [note]
    if now >= fire_at:
        state.update(status="fired", fired_at=iso(now))
        note = AuditNote("deadline_fired", f"{rule.name}: armed after its firing time {iso(fire_at)}; fired at once", facts)
        return _with(item, rule, state), [overdue_event(rule, subject, state)], [note]
    note = AuditNote("deadline_armed", f"{rule.name}: armed; due {iso(due)}, fires at {iso(fire_at)} without a response", facts)
    return _with(item, rule, state), [], [note]


def respond(
    item: Item, rule: DeadlineRule, subject: str, at: datetime, response: dict[str, str], now: datetime
) -> tuple[Item, list[CloudEvent], list[AuditNote]]:
    """An X linked to the subject was applied (source time ``at``)."""
    state = (item.get("deadlines") or {}).get(rule.name)
    if state is None:  # not armed yet: remember when it came
        responses = dict(item.get("responses") or {})
        times = sorted({*responses.get(rule.name, []), iso(at)})[-MAX_EARLY:]
        responses[rule.name] = times
        note = AuditNote(
            "deadline_response_kept",
            f"{rule.name}: a response before the deadline was armed, kept",
            {"rule": rule.name, "subject": subject, "at": iso(at)},
        )
        return {**item, "responses": responses}, [], [note]
    state = dict(state)
    armed_at, due = parse_time(state["armed_at"]), parse_time(state["due"])
    facts = {"rule": rule.name, "subject": subject, "response_at": iso(at), "due": state["due"]}
    if not armed_at <= at <= due or state["status"] not in ("armed", "fired"):
        return item, [], []
    events: list[CloudEvent] = []
    if state["status"] == "armed" and now < parse_time(state["fire_at"]):
        state.update(status="met", met_at=iso(at))
        return _with(item, rule, state), [], [AuditNote("deadline_met", f"{rule.name}: met by a response at {iso(at)}; cancelled", facts)]
    if state["status"] == "armed":  # its firing time has passed, the clock has not fired it yet: it fires now
        state.update(status="fired", fired_at=iso(now))
        events.append(overdue_event(rule, subject, state))
    state.update(status="resolved_late", late_response_at=iso(at))
    events.append(resolved_late_event(rule, subject, state, response))
    return (
        _with(item, rule, state),
        events,
        [AuditNote("deadline_resolved_late", f"{rule.name}: a response at {iso(at)} came after it fired", facts)],
    )


def fire_due(item: Item, rules: dict[str, DeadlineRule], subject: str, now: datetime) -> tuple[Item, list[CloudEvent], list[AuditNote]]:
    """Every armed deadline of the item whose firing time has come: fired, once."""
    events: list[CloudEvent] = []
    notes: list[AuditNote] = []
    for name, state in _deadlines(item).items():
        if state.get("status") != "armed" or parse_time(state["fire_at"]) > now:
            continue
        rule = rules.get(name)
        if rule is None:
            state.update(status="dropped")
            notes.append(AuditNote("deadline_dropped", f"{name}: no such rule any more; not fired", {"rule": name, "subject": subject}))
        else:
            state.update(status="fired", fired_at=iso(now))
            events.append(overdue_event(rule, subject, state))
            late = (now - parse_time(state["fire_at"])).total_seconds()
            notes.append(
                AuditNote(
                    "deadline_fired",
                    f"{name}: no response by {state['due']}; fired",
                    {"rule": name, "subject": subject, "late_seconds": round(late, 3)},
                )
            )
        item = {**item, "deadlines": {**_deadlines(item), name: state}}
    return with_next_fire(item), events, notes


def with_next_fire(item: Item) -> Item:
    """The item with ``next_fire_at``: the earliest pending firing time (absent when nothing is pending)."""
    pending = sorted(s["fire_at"] for s in (item.get("deadlines") or {}).values() if s.get("status") == "armed")
    updated = {k: v for k, v in item.items() if k != "next_fire_at"}
    if pending:
        updated["next_fire_at"] = pending[0]
    return updated


def _with(item: Item, rule: DeadlineRule, state: dict[str, Any]) -> Item:
    return {**item, "deadlines": {**_deadlines(item), rule.name: state}}


def overdue_event(rule: DeadlineRule, subject: str, state: dict[str, Any]) -> CloudEvent:
    data = {
        "rule": rule.name,
        "entity": rule.of,
        "id": subject,
        "expected": rule.expect_text,
        "within": rule.within_text,
        "grace": describe(rule.grace) if rule.grace else "0s",
        "calendar": rule.calendar.name if rule.calendar else None,
        "armed_at": state["armed_at"],
        "due": state["due"],
    }
    return rule_event(rule.fire, (rule.name, rule.of, subject), subject, parse_time(state["fire_at"]), data, state.get("armed_by"))


def resolved_late_event(rule: DeadlineRule, subject: str, state: dict[str, Any], response: dict[str, str]) -> CloudEvent:
    data = {
        "rule": rule.name,
        "entity": rule.of,
        "id": subject,
        "armed_at": state["armed_at"],
        "due": state["due"],
        "responded_at": state["late_response_at"],
        "response": response,
        "overdue_event": overdue_event(rule, subject, state).id,
    }
    return rule_event(rule.resolved_late, (rule.name, rule.of, subject), subject, parse_time(state["late_response_at"]), data, None)
