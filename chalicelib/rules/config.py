"""``kind: rules`` files: calendars, rules and actions, checked at load with file:line:column.

The files are read by pydantic models through the shared translator (chalicelib.config.models);
what spans fields or files (an expression that does not compile, a calendar that is not declared,
a name used twice, a connector that cannot write) is reported after, at the place it points to.
Every problem of every file is raised together as one ConfigError.

YAML reads a bare ``on:`` key as the boolean true (YAML 1.1); rules files mean the word, so the
key is read back as ``on`` here.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from chalicelib.config.documents import Document
from chalicelib.config.durations import has_days, parse_duration
from chalicelib.config.models import StrictModel, problem_at, validate
from chalicelib.config.problems import Problem
from chalicelib.config.yaml_lines import LocatedDict, LocatedList
from chalicelib.domain.canonical import ENTITY_MODELS, EntityType
from chalicelib.errors import ConfigError, ExpressionError, PathError, TransformConfigError
from chalicelib.mapping.paths import compile_getter, parse_path
from chalicelib.mapping.spec import ValueSpec, shorthand
from chalicelib.mapping.transforms import BuildContext, build_transform
from chalicelib.rules import language
from chalicelib.rules.actions import (
    HUBSPOT_ASSOCIATIONS,
    MARKER_FIELDS,
    Action,
    ValueReader,
    compile_reader_expression,
    expression_reader,
)
from chalicelib.rules.calendar import WEEKDAYS, WorkingCalendar
from chalicelib.rules.model import ConditionRule, DeadlineRule, GateRule, Origin, Requirement, Rule, RuleSet, Stage, WindowRule

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_ELSE = re.compile(r"^\s*fire\s+(\S+)\s*$")
_EXPECT = re.compile(r"^\s*([a-z_]+)(?:\s+where\s+(.+?))?\s*$", re.DOTALL)


def _name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(f"{value!r}: use lower_snake_case (letters, digits, _), starting with a letter")
    return value


def _event_type(value: Any) -> str:
    if not isinstance(value, str) or not _EVENT_TYPE.match(value):
        raise ValueError(f"{value!r}: expected a dotted lower-case event type such as lead.not_contacted")
    return value


def _duration(value: Any) -> str:
    parse_duration(value)
    return str(value)


Name = Annotated[str, AfterValidator(_name)]
EventType = Annotated[str, AfterValidator(_event_type)]
Duration = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v), AfterValidator(_duration)]
Moment = str | datetime
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WORKWEEK: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")


# --------------------------------------------------------------------------- the file's models


class CalendarSpec(StrictModel):
    """Working hours: a time zone, the working weekdays and hours, holidays and extra working days."""

    timezone: str = Field(description="IANA zone, e.g. Asia/Shanghai")
    weekdays: list[Weekday] = Field(default_factory=lambda: list(WORKWEEK))
    hours: list[str] = Field(
        default_factory=lambda: ["09:00-18:00"], description='Working intervals of a day, e.g. ["09:00-12:00", "13:00-18:00"]'
    )
    holidays: list[date] = Field(default_factory=list, description="Dates without working hours")
    workdays: list[date] = Field(default_factory=list, description="Extra working days (weekend days worked instead, 调休)")


class StageSpec(StrictModel):
    fields: list[str] = Field(default_factory=list, description="Fields that must not be absent, null or blank on entry")
    activities: dict[str, str] = Field(default_factory=dict, description="name -> filter over the activity; one must precede the entry")


class GateSpec(StrictModel):
    field: str = Field("stage", description="The field whose value is the stage")
    activity: EntityType = Field("activity", description="The entity of the required activities")
    link: str | None = Field(None, description="The activity's field naming the gated entity (default <entity>_id)")
    stages: dict[str, StageSpec] = Field(min_length=1)


class ExampleRecord(StrictModel):
    """One record of an example: ``{lead: L1, at: 0m, fields: {...}}`` (the id is the canonical id)."""

    entity: EntityType
    id: str
    at: Moment = Field(description="Source time: ISO 8601 with offset, or a duration after the example's start")
    received: Moment | None = Field(None, description="When it arrives (default: at its source time)")
    system: str = "example"
    fields: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _entity_key(cls, value: Any) -> Any:
        if isinstance(value, dict) and "entity" not in value:
            named = [k for k in value if k in ENTITY_MODELS]
            if len(named) == 1:
                value = dict(value)
                value["id"] = str(value.pop(named[0]))
                value["entity"] = named[0]
        return value


class ExpectedEvent(StrictModel):
    type: str
    subject: str
    time: Moment | None = None
    data: dict[str, Any] | None = Field(None, description="These data fields must be as given (others may be there too)")


class RuleExample(StrictModel):
    name: str
    start: Moment = "2026-01-05T09:00:00+08:00"
    records: list[ExampleRecord] = Field(default_factory=list)
    until: Moment | None = Field(None, description="Run the clock (deadlines fire) up to here; default: a day after the last record")
    expect: list[ExpectedEvent] = Field(default_factory=list, description="Exactly the events fired (type and subject)")


class RuleSpec(StrictModel):
    name: Name
    description: str | None = None
    on: EntityType | None = Field(None, description="The entity whose records the rule reads")
    of: EntityType | None = Field(None, description="Deadlines: the entity whose arrival arms the deadline")
    when: str | None = None
    expect: str | None = Field(None, description="Deadlines: '<entity> where <filter>', the response expected")
    within: Duration | None = None
    link: str | None = None
    grace: Duration | None = None
    calendar: str | None = None
    else_: str | None = Field(None, alias="else", description="Deadlines: 'fire <event type>'")
    resolved_late: EventType | None = None
    gate: GateSpec | None = None
    fire: EventType | None = None
    examples: list[RuleExample] = Field(default_factory=list)


class SalesforceSpec(StrictModel):
    connector: str = "salesforce"
    create: str | None = Field(None, description="sObject to create, e.g. Task")
    update: str | None = Field(None, description="sObject to update, e.g. Lead")
    id: shorthand(ValueSpec) | None = None  # type: ignore[valid-type]
    external_id_field: str | None = Field(None, description="Upsert on this External ID field (the key goes there)")
    marker_field: str | None = Field(None, description="Text field that carries the write-back marker (default Subject)")


class HubSpotSpec(StrictModel):
    connector: str = "hubspot"
    create: Literal["tasks", "notes"] | None = None
    update: str | None = Field(None, description="Object type to update: contacts, companies, deals")
    id: shorthand(ValueSpec) | None = None  # type: ignore[valid-type]
    associate: dict[Literal["contacts", "companies", "deals"], shorthand(ValueSpec)] = Field(default_factory=dict)  # type: ignore[valid-type]
    marker_field: str | None = None


class OdooSpec(StrictModel):
    connector: str = "odoo"
    schedule_activity: str | None = Field(None, description="Model of the record the activity is scheduled on, e.g. crm.lead")
    update: str | None = None
    id: shorthand(ValueSpec)  # type: ignore[valid-type]
    marker_field: str | None = None


class WeComSpec(StrictModel):
    connector: str = Field("wecom_robot", description="The group robot's connector (connectors/wecom_robot.yaml)")
    mention: shorthand(ValueSpec) | None = Field(None, description="WeCom user id(s) to @-mention")  # type: ignore[valid-type]
    mention_mobile: shorthand(ValueSpec) | None = Field(None, description="Mobile number(s) to @-mention")  # type: ignore[valid-type]


class DingTalkSpec(StrictModel):
    connector: str = Field("dingtalk_robot", description="The group robot's connector (connectors/dingtalk_robot.yaml)")
    mention: shorthand(ValueSpec) | None = Field(None, description="DingTalk user id(s) to @-mention")  # type: ignore[valid-type]
    mention_mobile: shorthand(ValueSpec) | None = Field(None, description="Mobile number(s) to @-mention")  # type: ignore[valid-type]


class ActionExample(StrictModel):
    name: str
    event: dict[str, Any]
    subject: dict[str, Any] = Field(default_factory=dict)
    expect: dict[str, Any] = Field(description="Parts of the request: method, path, body (compared whole), idempotency_key, marker")


class ActionSpec(StrictModel):
    name: Name
    description: str | None = None
    on: str | list[str] = Field(description="Event type(s) this action acts on")
    salesforce: SalesforceSpec | None = None
    hubspot: HubSpotSpec | None = None
    odoo: OdooSpec | None = None
    wecom: WeComSpec | None = None
    dingtalk: DingTalkSpec | None = None
    fields: dict[str, shorthand(ValueSpec)] = Field(default_factory=dict)  # type: ignore[valid-type]
    examples: list[ActionExample] = Field(default_factory=list)


class RulesFile(StrictModel):
    """`kind: rules`: calendars, rules in time (deadlines, windows, stage gates, conditions), and actions."""

    kind: Literal["rules"]
    version: Any = None
    description: str | None = None
    calendars: dict[str, CalendarSpec] = Field(default_factory=dict)
    rules: list[RuleSpec] = Field(default_factory=list)
    actions: list[ActionSpec] = Field(default_factory=list)


# --------------------------------------------------------------------------- from files to a RuleSet


def load_rules(docs: list[Document]) -> RuleSet:
    """Every ``kind: rules`` document compiled into one RuleSet; raises ConfigError with every problem."""
    problems: list[Problem] = []
    checked: list[tuple[str, LocatedDict, RulesFile]] = []
    for file, raw in docs:
        doc = with_on_keys(raw)
        spec, found = validate(RulesFile, doc, file)
        problems += found
        if spec is not None:
            checked.append((file, doc, spec))
    calendars: dict[str, WorkingCalendar] = {}
    declared: dict[str, str] = {}
    for file, doc, spec in checked:
        for name, calendar_spec in spec.calendars.items():
            where = problem_at(doc, file, ("calendars", name), "")
            if name in calendars:
                problems.append(problem_at(doc, file, ("calendars", name), f"calendar {name!r} is already declared in {declared[name]}"))
                continue
            calendar, found = _calendar(name, calendar_spec, doc, file)
            problems += found
            if calendar is not None:
                calendars[name] = calendar
                declared[name] = f"{where.file}:{where.line}"
    rules: list[Rule] = []
    actions: list[Action] = []
    files: dict[str, str] = {}
    examples: dict[str, tuple[RuleExample, ...]] = {}
    for file, doc, spec in checked:
        for index, rule_spec in enumerate(spec.rules):
            compiler = _Located(doc, file, ("rules", index))
            rule = _rule(rule_spec, compiler, calendars)
            problems += compiler.problems
            if rule is None:
                continue
            if rule.name in files:
                problems.append(compiler.at(("name",), f"rule {rule.name!r} is already declared at {files[rule.name]}"))
                continue
            files[rule.name] = str(rule.origin)
            examples[rule.name] = tuple(rule_spec.examples)
            rules.append(rule)
        for index, action_spec in enumerate(spec.actions):
            compiler = _Located(doc, file, ("actions", index))
            action = _action(action_spec, compiler)
            problems += compiler.problems
            if action is None:
                continue
            if f"action:{action.name}" in files:
                problems.append(compiler.at(("name",), f"action {action.name!r} is already declared at {files['action:' + action.name]}"))
                continue
            files[f"action:{action.name}"] = str(action.origin)
            actions.append(action)
    if problems:
        raise ConfigError(problems)
    return RuleSet(tuple(rules), tuple(actions), calendars, files, examples)


def with_on_keys(value: Any) -> Any:
    """A copy of located YAML where a key YAML 1.1 read as ``true`` (a bare ``on:``) is ``on`` again."""
    if isinstance(value, LocatedDict):
        copy = LocatedDict()
        copy.position = value.position
        copy.key_positions, copy.value_positions = {}, {}
        for key, item in value.items():
            name = "on" if key is True else key
            copy[name] = with_on_keys(item)
            copy.key_positions[name] = value.where(key)
            copy.value_positions[name] = value.where_value(key)
        return copy
    if isinstance(value, LocatedList):
        items = LocatedList(with_on_keys(v) for v in value)
        items.position, items.item_positions = value.position, list(value.item_positions)
        return items
    return value


class _Located:
    """Problems at the place they point to, below one rule or action of one file."""

    def __init__(self, doc: LocatedDict, file: str, base: tuple[str | int, ...]):
        self.doc, self.file, self.base = doc, file, base
        self.problems: list[Problem] = []

    def at(self, path: tuple[str | int, ...], message: str) -> Problem:
        return problem_at(self.doc, self.file, self.base + path, message)

    def problem(self, path: tuple[str | int, ...], message: str) -> None:
        self.problems.append(self.at(path, message))

    def origin(self) -> Origin:
        where = self.at((), "")
        return Origin(self.file, where.line)

    def condition(self, text: str, entity: str, path: tuple[str | int, ...]) -> language.Predicate | None:
        try:
            return language.compile_condition(text, entity)
        except ExpressionError as exc:
            self.problem(path, f"invalid condition at column {exc.column} of the expression: {exc.message}")
            return None

    def filter(self, text: str, entity: str, path: tuple[str | int, ...]) -> language.Predicate | None:
        try:
            return language.compile_filter(text, entity)
        except ExpressionError as exc:
            self.problem(path, f"invalid filter at column {exc.column} of the expression: {exc.message}")
            return None

    def duration(self, text: str, path: tuple[str | int, ...], *, zero: bool = False) -> timedelta | None:
        try:
            duration = parse_duration(text)
        except ValueError as exc:
            self.problem(path, str(exc))
            return None
        if not duration and not zero:
            self.problem(path, f"a duration must be longer than 0, got {text!r}")
            return None
        return duration


def _calendar(name: str, spec: CalendarSpec, doc: LocatedDict, file: str) -> tuple[WorkingCalendar | None, list[Problem]]:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    problems: list[Problem] = []
    try:
        ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        message = f"unknown time zone {spec.timezone!r} (use an IANA name such as Asia/Shanghai)"
        problems.append(problem_at(doc, file, ("calendars", name, "timezone"), message))
    intervals: list[tuple[time, time]] = []
    for index, text in enumerate(spec.hours):
        match = _HOURS.match(text)
        interval = None
        if match:
            try:
                interval = (time(int(match.group(1)), int(match.group(2))), time(int(match.group(3)), int(match.group(4))))
            except ValueError:
                interval = None
        if interval is None or interval[0] >= interval[1] or (intervals and interval[0] < intervals[-1][1]):
            problems.append(
                problem_at(doc, file, ("calendars", name, "hours", index), f"{text!r}: expected HH:MM-HH:MM, in order, not overlapping")
            )
            continue
        intervals.append(interval)
    if not spec.weekdays and not spec.workdays:
        problems.append(problem_at(doc, file, ("calendars", name, "weekdays"), "a calendar needs working days"))
    if not spec.hours:
        problems.append(problem_at(doc, file, ("calendars", name, "hours"), "a calendar needs working hours"))
    if problems:
        return None, problems
    weekdays = frozenset(WEEKDAYS.index(day) for day in spec.weekdays)
    return WorkingCalendar(name, spec.timezone, weekdays, tuple(intervals), frozenset(spec.holidays), frozenset(spec.workdays)), []


def _rule(spec: RuleSpec, at: _Located, calendars: dict[str, WorkingCalendar]) -> Rule | None:
    given = spec.model_fields_set
    if spec.expect is not None:
        return _deadline(spec, at, calendars)
    for key in ("of", "within", "grace", "calendar", "else_", "resolved_late"):
        if key in given:
            shown = "else" if key == "else_" else key
            at.problem((shown,), f"{shown}: is for deadlines (rules with expect:)")
    if spec.gate is not None:
        return _gate(spec, at)
    if spec.when is None:
        at.problem(("name",), "a rule needs when: (a condition or a window), expect: (a deadline) or gate: (stage gates)")
        return None
    if spec.fire is None:
        at.problem(("name",), "missing fire: the event type the rule fires")
        return None
    if language.is_window(spec.when):
        return _window(spec, at)
    if spec.on is None:
        at.problem(("name",), "missing on: the entity whose records the rule reads")
        return None
    when = at.condition(spec.when, spec.on, ("when",))
    if when is None:
        return None
    return ConditionRule(spec.name, spec.on, when, spec.fire, at.origin())


def _deadline(spec: RuleSpec, at: _Located, calendars: dict[str, WorkingCalendar]) -> DeadlineRule | None:
    ok = True
    for key in ("on", "gate", "fire"):
        if key in spec.model_fields_set:
            hint = {
                "on": "name the subject with of:",
                "fire": "a deadline fires with else: fire <event type>",
                "gate": "a rule is one kind",
            }[key]
            at.problem((key,), f"{key}: is not for deadlines; {hint}")
            ok = False
    match = _EXPECT.match(spec.expect or "")
    if not match or match.group(1) not in ENTITY_MODELS:
        at.problem(
            ("expect",),
            f"expected '<entity> where <filter>', e.g. 'activity where type == \"call\"' (entities: {', '.join(ENTITY_MODELS)})",
        )
        return None
    expect, where_text = match.group(1), match.group(2)
    where = at.filter(where_text, expect, ("expect",)) if where_text else None
    if spec.of is None:
        at.problem(("name",), "missing of: the entity whose arrival arms the deadline (e.g. of: lead)")
        return None
    if spec.within is None:
        at.problem(("name",), "missing within: how long after the arrival the response is due (e.g. within: 15m)")
        return None
    fire = None
    if spec.else_ is None:
        at.problem(("name",), "missing else: fire <event type>")
    else:
        else_match = _ELSE.match(spec.else_)
        if not else_match or not _EVENT_TYPE.match(else_match.group(1)):
            at.problem(("else",), "expected 'fire <event type>', e.g. else: fire lead.not_contacted")
        else:
            fire = else_match.group(1)
    link = spec.link or f"{spec.of}_id"
    if link not in language.field_names(expect):
        at.problem(("link",) if spec.link else ("expect",), f"{expect} has no field {link!r} naming the {spec.of} (set link:)")
        ok = False
    arm_when = at.condition(spec.when, spec.of, ("when",)) if spec.when is not None else None
    within = at.duration(spec.within, ("within",))
    grace = at.duration(spec.grace, ("grace",), zero=True) if spec.grace is not None else timedelta(0)
    calendar = None
    if spec.calendar is not None:
        calendar = calendars.get(spec.calendar)
        if calendar is None:
            at.problem(("calendar",), f"no calendar named {spec.calendar!r} (declared: {', '.join(sorted(calendars)) or 'none'})")
            ok = False
        elif has_days(spec.within):
            at.problem(("within",), "with a working-hours calendar, give working time in hours and minutes (e.g. 16h for two 8-hour days)")
            ok = False
    if (
        not ok
        or fire is None
        or within is None
        or grace is None
        or (spec.when is not None and arm_when is None)
        or (where_text and where is None)
    ):
        return None
    return DeadlineRule(
        spec.name,
        spec.of,
        arm_when,
        expect,
        where,
        spec.expect or "",
        link,
        within,
        spec.within,
        grace,
        calendar,
        fire,
        spec.resolved_late or f"{fire}.resolved_late",
        at.origin(),
    )


def _window(spec: RuleSpec, at: _Located) -> WindowRule | None:
    assert spec.when is not None and spec.fire is not None
    try:
        window = language.parse_window(spec.when)
    except ExpressionError as exc:
        at.problem(("when",), f"invalid window at column {exc.column} of the expression: {exc.message}")
        return None
    if spec.on is not None and spec.on != window.entity:
        at.problem(("on",), f"the window counts {window.entity}: on: must be {window.entity} (or left out)")
        return None
    within = at.duration(window.within, ("when",))
    late = at.duration(window.late, ("when",)) if window.late else within
    if within is None or late is None:
        return None
    return WindowRule(
        spec.name,
        window.entity,
        window.aggregate,
        window.field,
        window.where,
        within,
        window.within,
        late,
        window.per,
        window.threshold,
        window.strict,
        spec.fire,
        spec.when,
        at.origin(),
    )


def _gate(spec: RuleSpec, at: _Located) -> GateRule | None:
    gate = spec.gate
    assert gate is not None
    if spec.on is None or spec.fire is None:
        at.problem(("name",), "a stage gate needs on: (the entity) and fire: (the event type)")
        return None
    fields = language.field_names(spec.on)
    ok = True
    if gate.field not in fields:
        at.problem(("gate", "field"), f"{spec.on} has no field {gate.field!r}")
        ok = False
    link = gate.link or f"{spec.on}_id"
    if link not in language.field_names(gate.activity):
        at.problem(("gate", "link") if gate.link else ("gate",), f"{gate.activity} has no field {link!r} naming the {spec.on} (set link:)")
        ok = False
    stages: dict[str, Stage] = {}
    for stage_name, stage in gate.stages.items():
        for index, name in enumerate(stage.fields):
            if name not in fields:
                at.problem(("gate", "stages", stage_name, "fields", index), f"{spec.on} has no field {name!r}")
                ok = False
        requirements = []
        for requirement, text in stage.activities.items():
            where = at.filter(text, gate.activity, ("gate", "stages", stage_name, "activities", requirement))
            if where is None:
                ok = False
                continue
            requirements.append(Requirement(requirement, where))
        stages[stage_name] = Stage(tuple(stage.fields), tuple(requirements))
    if not ok:
        return None
    return GateRule(spec.name, spec.on, gate.field, stages, gate.activity, link, spec.fire, at.origin())


# --------------------------------------------------------------------------- actions


def _action(spec: ActionSpec, at: _Located) -> Action | None:
    kinds = [k for k in ("salesforce", "hubspot", "odoo", "wecom", "dingtalk") if getattr(spec, k) is not None]
    if len(kinds) != 1:
        at.problem(("name",), "an action writes to one system: give exactly one of salesforce, hubspot, odoo, wecom, dingtalk")
        return None
    kind = kinds[0]
    types = (spec.on,) if isinstance(spec.on, str) else tuple(spec.on)
    for index, event_type in enumerate(types):
        if event_type != "*" and not _EVENT_TYPE.match(event_type):
            at.problem(
                ("on",) if isinstance(spec.on, str) else ("on", index), f"{event_type!r}: expected an event type such as lead.not_contacted"
            )
    fields = tuple(r for name, value in spec.fields.items() if (r := _reader(name, value, at, ("fields", name))) is not None)
    if len(fields) != len(spec.fields):
        return None
    origin = at.origin()
    common: dict[str, Any] = {
        "name": spec.name,
        "types": types,
        "kind": kind,
        "fields": fields,
        "origin": origin,
        "examples": tuple(spec.examples),
    }
    action: Action | None = None
    if kind == "salesforce":
        assert spec.salesforce is not None
        action = _crm_action(spec.salesforce, "salesforce", at, common, create=spec.salesforce.create, update=spec.salesforce.update)
        if action is not None and spec.salesforce.external_id_field:
            action = _replace(action, external_id_field=spec.salesforce.external_id_field)
    elif kind == "hubspot":
        assert spec.hubspot is not None
        action = _crm_action(spec.hubspot, "hubspot", at, common, create=spec.hubspot.create, update=spec.hubspot.update)
        if action is not None:
            associations = []
            for other, value in spec.hubspot.associate.items():
                reader = _reader(other, value, at, ("hubspot", "associate", other))
                if reader is None:
                    return None
                if (action.target, other) not in HUBSPOT_ASSOCIATIONS:
                    at.problem(("hubspot", "associate", other), f"{action.target} cannot be associated here")
                    return None
                associations.append((other, reader))
            action = _replace(action, associations=tuple(associations))
    elif kind == "odoo":
        assert spec.odoo is not None
        action = _crm_action(
            spec.odoo, "odoo", at, common, create=spec.odoo.schedule_activity, update=spec.odoo.update, create_word="schedule_activity"
        )
    else:
        robot = spec.wecom if kind == "wecom" else spec.dingtalk
        assert robot is not None
        if "content" not in spec.fields:
            at.problem(("fields",), "a message needs fields: content (the text)")
            return None
        mentions = []
        for option, list_name in (("mention", "mentioned_list"), ("mention_mobile", "mentioned_mobile_list")):
            value = getattr(robot, option)
            if value is not None:
                reader = _reader(option, value, at, (kind, option))
                if reader is None:
                    return None
                mentions.append((list_name, reader))
        action = Action(
            **common, operation="message", target="", connector=robot.connector, mentions=tuple(mentions), marker_field="content"
        )
    return action


def _crm_action(
    spec: SalesforceSpec | HubSpotSpec | OdooSpec,
    kind: str,
    at: _Located,
    common: dict[str, Any],
    *,
    create: str | None,
    update: str | None,
    create_word: str = "create",
) -> Action | None:
    if (create is None) == (update is None):
        at.problem((kind,), f"give one of {create_word} or update")
        return None
    record_id = None
    if spec.id is not None:
        record_id = _reader("id", spec.id, at, (kind, "id"))
        if record_id is None:
            return None
    needs_id = update is not None or kind == "odoo"
    if needs_id and record_id is None:
        at.problem((kind,), "missing id: the vendor record's id (e.g. subject.source_ids." + kind + ")")
        return None
    operation = "update" if update is not None else create_word
    target = str(update or create)
    marker_field = None
    if operation != "update":
        marker_field = spec.marker_field or MARKER_FIELDS.get((kind, target)) or MARKER_FIELDS.get((kind, operation))
        if marker_field is None:
            at.problem((kind,), f"name marker_field: a text field of {target} that carries the write-back marker")
            return None
    return Action(**common, operation=operation, target=target, connector=spec.connector, record_id=record_id, marker_field=marker_field)


def _reader(name: str, raw: Any, at: _Located, path: tuple[str | int, ...]) -> ValueReader | None:
    spec = ValueSpec(path=raw) if isinstance(raw, str) else raw
    given = [key for key in ("path", "value", "expr") if key in spec.model_fields_set]
    if len(given) != 1:
        at.problem(path, "give exactly one of path, value, expr")
        return None
    steps = []
    for index, step in enumerate(spec.transforms):
        try:
            steps.append(build_transform(step, BuildContext(field=name))[1])
        except TransformConfigError as exc:
            at.problem(path + ("transforms", index), exc.message)
            return None
    if isinstance(spec.path, str):
        try:
            getter = compile_getter(parse_path(spec.path))
        except PathError as exc:
            at.problem(path, f"invalid path {spec.path!r} at column {exc.column} of the path: {exc.message}")
            return None
        return ValueReader(name, getter, tuple(steps), spec.path)
    if spec.path is not None:
        at.problem(path + ("path",), "a write-back field reads one path")
        return None
    if "value" in spec.model_fields_set:
        constant = Decimal(str(spec.value)) if isinstance(spec.value, float) else spec.value
        return ValueReader(name, lambda document: constant, tuple(steps), f"value: {constant}")
    try:
        expression = compile_reader_expression(spec.expr or "")
    except ExpressionError as exc:
        at.problem(path + ("expr",), f"invalid expression at column {exc.column} of the expression: {exc.message}")
        return None
    return ValueReader(name, expression_reader(expression, spec.expr or ""), tuple(steps), f"expr: {spec.expr}")


def _replace(action: Action, **changes: Any) -> Action:
    from dataclasses import replace

    return replace(action, **changes)
