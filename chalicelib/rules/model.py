"""The rules as the engine reads them: compiled once from the ``kind: rules`` files (rules/config.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.rules.calendar import WorkingCalendar
from chalicelib.rules.language import Predicate

if TYPE_CHECKING:
    from chalicelib.rules.actions import Action


@dataclass(frozen=True)
class Origin:
    """Where a rule is declared, for audit entries and messages."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class ConditionRule:
    """``on: <entity>`` + ``when:``: fires each time a record of the entity makes the condition true."""

    name: str
    entity: str
    when: Predicate
    fire: str
    origin: Origin


@dataclass(frozen=True)
class DeadlineRule:
    """``expect <X> within <D> of <Y> else fire``: armed once per Y, fired at due + grace unless an X came in time."""

    name: str
    of: str  # Y, the subject's entity
    arm_when: Predicate | None
    expect: str  # X's entity
    expect_where: Predicate | None
    expect_text: str
    link: str  # X's field naming the subject
    within: timedelta
    within_text: str
    grace: timedelta
    calendar: WorkingCalendar | None
    fire: str
    resolved_late: str
    origin: Origin

    def due(self, armed_at: datetime) -> datetime:
        if self.calendar is not None:
            return self.calendar.add(armed_at, self.within)
        return armed_at + self.within


@dataclass(frozen=True)
class WindowRule:
    """``count/sum of X within W >= N``: fires when the condition becomes true, once per crossing."""

    name: str
    entity: str
    aggregate: str  # count | sum
    field: str | None
    where: Predicate | None
    within: timedelta
    within_text: str
    late: timedelta  # how far behind the newest occurrence a late one is still counted
    per: str
    threshold: Decimal
    strict: bool
    fire: str
    source: str
    origin: Origin

    def holds(self, value: Decimal) -> bool:
        return value > self.threshold if self.strict else value >= self.threshold


@dataclass(frozen=True)
class Requirement:
    """An activity a stage needs before it is entered (matched by a filter, linked to the entity)."""

    name: str
    where: Predicate


@dataclass(frozen=True)
class Stage:
    fields: tuple[str, ...]
    activities: tuple[Requirement, ...]


@dataclass(frozen=True)
class GateRule:
    """Stage gates: entering a stage with a required field or activity missing fires, naming each."""

    name: str
    entity: str
    field: str
    stages: dict[str, Stage]
    activity: str  # the entity the required activities are
    link: str  # the activity's field naming the gated entity
    fire: str
    origin: Origin


Rule = ConditionRule | DeadlineRule | WindowRule | GateRule


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()
    actions: tuple[Action, ...] = ()
    calendars: dict[str, WorkingCalendar] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # rule or action name -> "file:line"
    examples: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # rule name -> its examples (rules/config.py RuleExample)

    def __bool__(self) -> bool:
        return bool(self.rules or self.actions)

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def of_kind(self, kind: type[Rule]) -> list[Rule]:
        return [r for r in self.rules if isinstance(r, kind)]

    def actions_for(self, event_type: str) -> list[Action]:
        return [a for a in self.actions if a.wants(event_type)]


EMPTY = RuleSet()
