"""Behaviour windows: ``count/sum of X within W >= N``, once per crossing, exact under late arrivals.

The condition is evaluated at each occurrence's source time t over (t − W, t]. Consecutive
evaluation points (in source-time order) where it holds form a *run*; a run fires once, at its
first point. A late occurrence re-evaluates the points whose windows it joins: it may start a
run earlier than the one reported, or join two, but a run that holds a reported point never
fires again, and nothing emitted is withdrawn (adding an occurrence can only make a point hold).

Bounded state: one item per (rule, key) keeps the occurrences of the last ``within + late``
(behind the newest source time seen) and at most ``MAX_POINTS``; an occurrence more than
``late`` behind the newest one is not counted (audited). The point just dropped from the left
end is remembered (``edge``) so a run that began before it is still known as reported.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.rules.model import WindowRule

MAX_POINTS = 500
Point = list[Any]  # [time µs, occurrence id (8 hex), value, holds (0/1), reported (0/1)]
T, ID, VALUE, HOLDS, REPORTED = range(5)


@dataclass(frozen=True)
class Crossing:
    at: datetime  # the first point of the run: when the condition became true
    value: Decimal  # the count or sum there
    window_start: datetime


def micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def moment(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(value))


def short_id(occurrence: str) -> str:
    return hashlib.sha256(occurrence.encode()).hexdigest()[:8]


def _span(delta: timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def add(
    item: dict[str, Any] | None, rule: WindowRule, key: str, at: datetime, occurrence: str, value: Decimal
) -> tuple[dict[str, Any], list[Crossing], str]:
    """The item with one more occurrence, the crossings it makes, and what happened to it:
    ``counted``, ``already_counted`` (the same occurrence again) or ``too_late``."""
    state = dict(item or {"rule": rule.name, "key": key, "points": []})
    points: list[Point] = [list(p) for p in state.get("points", [])]
    t, oid = micros(at), short_id(occurrence)
    if any(p[ID] == oid for p in points):
        return state, [], "already_counted"
    newest = int(state["newest"]) if "newest" in state else None
    if newest is not None and t <= newest - _span(rule.late):
        return state, [], "too_late"
    index = bisect.bisect_left([(int(p[T]), str(p[ID])) for p in points], (t, oid))
    points.insert(index, [t, oid, value, 0, 0])
    _reevaluate(points, t, rule)
    crossings = _report_runs(points, state.get("edge"), rule)
    state["newest"] = max(t, newest) if newest is not None else t
    state["points"], state["edge"] = _trim(points, state.get("edge"), int(state["newest"]) - _span(rule.within + rule.late))
    if state["edge"] is None:
        state.pop("edge")
    return state, crossings, "counted"


def _reevaluate(points: list[Point], t: int, rule: WindowRule) -> None:
    """Points whose window (p − W, p] contains t: from t up to t + W (excluded)."""
    width = _span(rule.within)
    times = [int(p[T]) for p in points]
    totals = [Decimal(0)]
    for p in points:
        totals.append(totals[-1] + Decimal(p[VALUE]))
    start = bisect.bisect_left(times, t)
    end = bisect.bisect_left(times, t + width)
    for index in range(start, end):
        at = times[index]
        first = bisect.bisect_right(times, at - width)  # (at − W, at]: strictly after at − W
        last = bisect.bisect_right(times, at)  # every point at the same time counts
        points[index][HOLDS] = int(rule.holds(totals[last] - totals[first]))


def _report_runs(points: list[Point], edge: list[int] | None, rule: WindowRule) -> list[Crossing]:
    """Each run of holding points: reported if any point of it was (or the dropped point before it); else it fires now."""
    crossings: list[Crossing] = []
    index = 0
    while index < len(points):
        if not points[index][HOLDS]:
            index += 1
            continue
        end = index
        while end < len(points) and points[end][HOLDS]:
            end += 1
        run = points[index:end]
        continues_edge = index == 0 and edge is not None and bool(edge[0])
        reported = any(p[REPORTED] for p in run) or (continues_edge and bool(edge and edge[1]))
        if not reported:
            first = run[0]
            crossings.append(Crossing(moment(first[T]), _window_value(points, index, rule), moment(int(first[T]) - _span(rule.within))))
        for p in run:
            p[REPORTED] = 1
        index = end
    return crossings


def _window_value(points: list[Point], index: int, rule: WindowRule) -> Decimal:
    at = int(points[index][T])
    lower = at - _span(rule.within)
    return sum((Decimal(p[VALUE]) for p in points if lower < int(p[T]) <= at), Decimal(0))


def _trim(points: list[Point], edge: list[int] | None, boundary: int) -> tuple[list[Point], list[int] | None]:
    keep_from = 0
    while keep_from < len(points) and (int(points[keep_from][T]) <= boundary or len(points) - keep_from > MAX_POINTS):
        keep_from += 1
    if keep_from:
        last = points[keep_from - 1]
        edge = [int(last[HOLDS]), int(last[REPORTED])]
    return points[keep_from:], edge
