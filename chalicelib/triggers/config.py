"""Trigger configuration: what the integrator declares in `mappings/` (no code change needed).

Three kinds of YAML document feed it: `kind: triggers` (field owners, grade trigger options,
order-anomaly parameters, rebate tolerances, custom rules), `kind: rebate_policy` (one policy each)
and `kind: grade_scale` (the canonical grade levels, owned by the mappings). Every problem in every
document is collected and raised together as one ConfigError naming file:line:column.

The models are frozen dataclasses read by hand from the located YAML rather than pydantic models:
each value is checked where its line and column are known, every problem is collected (not the
first), and the Lambda pays no model-building cost at cold start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.config.problems import Problem
from chalicelib.config.yaml_lines import LocatedDict, LocatedList
from chalicelib.errors import ConditionError, ConfigError
from chalicelib.triggers.conditions import Condition, compile_condition

DEFAULT_TIMEZONE = "Asia/Shanghai"
ENTITIES = ("customer", "product", "order", "pos_sale", "rebate_settlement")


@dataclass(frozen=True)
class GradeConfig:
    enabled: bool = True
    levels: tuple[str, ...] = ()
    baseline_on_first_sight: bool = True  # first sight is a baseline: no event


@dataclass(frozen=True)
class AmountSpikeConfig:
    enabled: bool = True
    factor: Decimal = Decimal("3.0")
    window: int = 20
    min_history: int = 5


@dataclass(frozen=True)
class FloorPriceConfig:
    enabled: bool = True


@dataclass(frozen=True)
class DuplicateOrderConfig:
    enabled: bool = True
    window: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class CreditLimitConfig:
    enabled: bool = True
    closed_statuses: frozenset[str] = frozenset({"paid", "cancelled"})


@dataclass(frozen=True)
class OrderAnomalyConfig:
    enabled: bool = True
    history_limit: int = 50  # orders kept per customer (plus every open one)
    amount_spike: AmountSpikeConfig = AmountSpikeConfig()
    below_floor_price: FloorPriceConfig = FloorPriceConfig()
    duplicate_order: DuplicateOrderConfig = DuplicateOrderConfig()
    credit_limit_exceeded: CreditLimitConfig = CreditLimitConfig()


@dataclass(frozen=True)
class Tier:
    start: Decimal  # basis from which this tier's rate applies (inclusive)
    rate: Decimal
    name: str


@dataclass(frozen=True)
class RebatePolicy:
    name: str
    distributors: frozenset[str] | None  # None = every distributor
    skus: frozenset[str] | None  # None = every SKU
    timezone: str
    basis: Literal["sell_through", "sell_in"]
    tier_mode: Literal["all_units", "incremental"]
    tiers: tuple[Tier, ...]
    abs_tolerance: Decimal
    pct_tolerance: Decimal

    def covers_distributor(self, distributor_id: str | None) -> bool:
        return distributor_id is not None and (self.distributors is None or distributor_id in self.distributors)

    def covers_sku(self, sku: str) -> bool:
        return self.skus is None or sku in self.skus


@dataclass(frozen=True)
class CustomRule:
    name: str
    severity: str
    event_type: str
    condition: Condition
    source: str  # the expression text, for evidence


@dataclass(frozen=True)
class TriggerConfig:
    owners: dict[str, dict[str, str]] = field(default_factory=dict)  # entity -> field|"*" -> system
    grade: GradeConfig = GradeConfig()
    order_anomaly: OrderAnomalyConfig = OrderAnomalyConfig()
    abs_tolerance: Decimal = Decimal("1.00")
    pct_tolerance: Decimal = Decimal("0.005")
    default_timezone: str = DEFAULT_TIMEZONE
    policies: tuple[RebatePolicy, ...] = ()
    custom_rules: tuple[CustomRule, ...] = ()

    def owner_of(self, entity: str, field_name: str) -> str | None:
        by_field = self.owners.get(entity, {})
        return by_field.get(field_name, by_field.get("*"))

    def policy(self, name: str | None) -> RebatePolicy | None:
        return next((p for p in self.policies if p.name == name), None)


# --------------------------------------------------------------------------- reading helpers


class _Reader:
    """Collects problems while reading one document, so all are reported at once."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, node: Any, key: Any, path: str, message: str, *, at_value: bool = False) -> None:
        if isinstance(node, LocatedDict):
            line, column = node.where_value(key) if at_value else node.where(key)
        elif isinstance(node, LocatedList) and isinstance(key, int):
            line, column = node.where(key)
        else:
            line, column = getattr(node, "position", (1, 1))
        self.problems.append(Problem(self.file, line, column, path, message))

    def section(self, node: LocatedDict, key: str, path: str) -> LocatedDict:
        value = node.get(key)
        if value is None:
            empty = LocatedDict()
            empty.position, empty.key_positions, empty.value_positions = node.where(key), {}, {}
            return empty
        if not isinstance(value, LocatedDict):
            self.problem(node, key, path, "expected a mapping", at_value=True)
            empty = LocatedDict()
            empty.position, empty.key_positions, empty.value_positions = node.where(key), {}, {}
            return empty
        return value

    def unknown_keys(self, node: LocatedDict, allowed: set[str], path: str) -> None:
        for key in node:
            if key not in allowed:
                self.problem(
                    node, key, f"{path}.{key}" if path else str(key), f"unknown key; expected one of: {', '.join(sorted(allowed))}"
                )

    def boolean(self, node: LocatedDict, key: str, path: str, default: bool) -> bool:
        value = node.get(key, default)
        if not isinstance(value, bool):
            self.problem(node, key, path, "expected true or false", at_value=True)
            return default
        return value

    def decimal(
        self, node: LocatedDict, key: str, path: str, default: Decimal, *, positive: bool = False, minimum: Decimal | None = None
    ) -> Decimal:
        if key not in node:
            return default
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self.problem(node, key, path, "expected a number", at_value=True)
            return default
        try:
            number = Decimal(str(value).strip().rstrip("%")) / (100 if str(value).strip().endswith("%") else 1)
        except InvalidOperation:
            self.problem(node, key, path, f"expected a number, got {value!r}", at_value=True)
            return default
        if not number.is_finite() or (positive and number <= 0) or (minimum is not None and number < minimum):
            bound = "greater than 0" if positive else f"at least {minimum}"
            self.problem(node, key, path, f"must be {bound}, got {value!r}", at_value=True)
            return default
        return number

    def integer(self, node: LocatedDict, key: str, path: str, default: int, *, minimum: int = 1) -> int:
        value = node.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problem(node, key, path, f"expected a whole number >= {minimum}, got {value!r}", at_value=True)
            return default
        return value

    def text(self, node: LocatedDict, key: str, path: str, default: str | None = None) -> str | None:
        if key not in node:
            if default is None:
                self.problem(node, key, path, "is required")
            return default
        value = node[key]
        if not isinstance(value, str) or not value.strip():
            self.problem(node, key, path, "expected a non-empty text", at_value=True)
            return default
        return value.strip()

    def names(self, node: LocatedDict, key: str, path: str) -> frozenset[str] | None:
        """A list of ids, or '*' (or absent) for all."""
        value = node.get(key, "*")
        if value == "*":
            return None
        if not isinstance(value, list) or not value or not all(isinstance(v, (str, int)) for v in value):
            self.problem(node, key, path, "expected '*' or a non-empty list of ids", at_value=True)
            return None
        return frozenset(str(v) for v in value)

    def timezone(self, node: LocatedDict, key: str, path: str, default: str) -> str:
        name = self.text(node, key, path, default) or default
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(node, key, path, f"unknown time zone {name!r} (use an IANA name such as Asia/Shanghai)", at_value=True)
            return default
        return name


# --------------------------------------------------------------------------- kind: triggers

_TRIGGERS_KEYS = {"kind", "version", "owners", "grade_changed", "order_anomaly", "rebate", "custom_rules"}
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_RULE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
BUILTIN_RULES = ("amount_spike", "below_floor_price", "duplicate_order", "credit_limit_exceeded")
CONDITION_NAMES = frozenset({"order", "customer", "product", "line"})


def _owners(r: _Reader, doc: LocatedDict) -> dict[str, dict[str, str]]:
    section = r.section(doc, "owners", "owners")
    owners: dict[str, dict[str, str]] = {}
    for entity, fields in section.items():
        if entity not in ENTITIES:
            r.problem(section, entity, f"owners.{entity}", f"unknown entity; expected one of: {', '.join(ENTITIES)}")
            continue
        if not isinstance(fields, LocatedDict):
            r.problem(section, entity, f"owners.{entity}", "expected a mapping of field: system", at_value=True)
            continue
        owners[entity] = {}
        for name, system in fields.items():
            if not isinstance(system, str) or not system.strip():
                r.problem(fields, name, f"owners.{entity}.{name}", "expected a system name", at_value=True)
                continue
            owners[entity][str(name)] = system.strip()
    return owners


def _grade(r: _Reader, doc: LocatedDict) -> tuple[GradeConfig, str | None]:
    node = r.section(doc, "grade_changed", "grade_changed")
    r.unknown_keys(node, {"enabled", "scale", "baseline_on_first_sight"}, "grade_changed")
    scale = r.text(node, "scale", "grade_changed.scale", "grade_scale")
    config = GradeConfig(
        enabled=r.boolean(node, "enabled", "grade_changed.enabled", True),
        baseline_on_first_sight=r.boolean(node, "baseline_on_first_sight", "grade_changed.baseline_on_first_sight", True),
    )
    return config, scale


def _order_anomaly(r: _Reader, doc: LocatedDict) -> OrderAnomalyConfig:
    p = "order_anomaly"
    node = r.section(doc, "order_anomaly", p)
    r.unknown_keys(node, {"enabled", "history_limit", *BUILTIN_RULES}, p)
    spike = r.section(node, "amount_spike", f"{p}.amount_spike")
    r.unknown_keys(spike, {"enabled", "factor", "window", "min_history"}, f"{p}.amount_spike")
    floor = r.section(node, "below_floor_price", f"{p}.below_floor_price")
    r.unknown_keys(floor, {"enabled"}, f"{p}.below_floor_price")
    dup = r.section(node, "duplicate_order", f"{p}.duplicate_order")
    r.unknown_keys(dup, {"enabled", "window_minutes"}, f"{p}.duplicate_order")
    credit = r.section(node, "credit_limit_exceeded", f"{p}.credit_limit_exceeded")
    r.unknown_keys(credit, {"enabled", "closed_statuses"}, f"{p}.credit_limit_exceeded")
    closed = credit.get("closed_statuses", ["paid", "cancelled"])
    if not isinstance(closed, list) or not all(isinstance(s, str) for s in closed):
        r.problem(
            credit, "closed_statuses", f"{p}.credit_limit_exceeded.closed_statuses", "expected a list of order statuses", at_value=True
        )
        closed = ["paid", "cancelled"]
    window = r.integer(spike, "window", f"{p}.amount_spike.window", 20)
    history_limit = r.integer(node, "history_limit", f"{p}.history_limit", max(50, window))
    if history_limit < window:
        r.problem(node, "history_limit", f"{p}.history_limit", f"must be at least amount_spike.window ({window})", at_value=True)
    minutes = r.decimal(dup, "window_minutes", f"{p}.duplicate_order.window_minutes", Decimal(10), positive=True)
    return OrderAnomalyConfig(
        enabled=r.boolean(node, "enabled", f"{p}.enabled", True),
        history_limit=max(history_limit, window),
        amount_spike=AmountSpikeConfig(
            enabled=r.boolean(spike, "enabled", f"{p}.amount_spike.enabled", True),
            factor=r.decimal(spike, "factor", f"{p}.amount_spike.factor", Decimal("3.0"), positive=True),
            window=window,
            min_history=r.integer(spike, "min_history", f"{p}.amount_spike.min_history", 5),
        ),
        below_floor_price=FloorPriceConfig(enabled=r.boolean(floor, "enabled", f"{p}.below_floor_price.enabled", True)),
        duplicate_order=DuplicateOrderConfig(
            enabled=r.boolean(dup, "enabled", f"{p}.duplicate_order.enabled", True),
            window=timedelta(seconds=float(minutes * 60)),
        ),
        credit_limit_exceeded=CreditLimitConfig(
            enabled=r.boolean(credit, "enabled", f"{p}.credit_limit_exceeded.enabled", True),
            closed_statuses=frozenset(s.strip().lower() for s in closed),
        ),
    )


def _custom_rules(r: _Reader, doc: LocatedDict) -> list[CustomRule]:
    rules_node = doc.get("custom_rules", [])
    if not isinstance(rules_node, LocatedList):
        if rules_node:
            r.problem(doc, "custom_rules", "custom_rules", "expected a list of rules", at_value=True)
        return []
    rules: list[CustomRule] = []
    for index, node in enumerate(rules_node):
        path = f"custom_rules[{index}]"
        if not isinstance(node, LocatedDict):
            r.problem(rules_node, index, path, "expected a mapping with name, severity, event_type, when")
            continue
        r.unknown_keys(node, {"name", "severity", "event_type", "when"}, path)
        name = r.text(node, "name", f"{path}.name")
        if name and (not _RULE_NAME.match(name) or name in BUILTIN_RULES):
            r.problem(node, "name", f"{path}.name", f"{name!r}: use lower_snake_case, not a built-in rule name", at_value=True)
        severity = r.text(node, "severity", f"{path}.severity", "warning")
        if severity not in ("info", "warning", "high", "critical"):
            r.problem(node, "severity", f"{path}.severity", f"{severity!r}: expected one of info, warning, high, critical", at_value=True)
        event_type = r.text(node, "event_type", f"{path}.event_type", "order.anomaly_detected")
        if event_type and not _EVENT_TYPE.match(event_type):
            r.problem(
                node,
                "event_type",
                f"{path}.event_type",
                f"{event_type!r}: expected a dotted lower-case type such as order.anomaly_detected",
                at_value=True,
            )
        text = r.text(node, "when", f"{path}.when")
        if not (name and text):
            continue
        try:
            condition = compile_condition(text, CONDITION_NAMES)
        except ConditionError as exc:
            r.problem(node, "when", f"{path}.when", str(exc), at_value=True)
            continue
        rules.append(CustomRule(name, severity or "warning", event_type or "order.anomaly_detected", condition, text))
    return rules


# --------------------------------------------------------------------------- kind: rebate_policy

_POLICY_KEYS = {
    "kind",
    "version",
    "name",
    "distributors",
    "skus",
    "timezone",
    "basis",
    "tier_mode",
    "tiers",
    "abs_tolerance",
    "pct_tolerance",
}


def _policy(r: _Reader, doc: LocatedDict, defaults: TriggerConfig) -> RebatePolicy | None:
    r.unknown_keys(doc, _POLICY_KEYS, "")
    before = len(r.problems)
    name = r.text(doc, "name", "name")
    basis = doc.get("basis", "sell_through")
    if basis not in ("sell_through", "sell_in"):
        r.problem(doc, "basis", "basis", f"{basis!r}: expected sell_through or sell_in", at_value=True)
    mode = doc.get("tier_mode", "all_units")
    if mode not in ("all_units", "incremental"):
        r.problem(doc, "tier_mode", "tier_mode", f"{mode!r}: expected all_units or incremental", at_value=True)
    tiers = _tiers(r, doc)
    policy = RebatePolicy(
        name=name or "",
        distributors=r.names(doc, "distributors", "distributors"),
        skus=r.names(doc, "skus", "skus"),
        timezone=r.timezone(doc, "timezone", "timezone", defaults.default_timezone),
        basis=basis,
        tier_mode=mode,
        tiers=tuple(tiers),
        abs_tolerance=r.decimal(doc, "abs_tolerance", "abs_tolerance", defaults.abs_tolerance, minimum=Decimal(0)),
        pct_tolerance=r.decimal(doc, "pct_tolerance", "pct_tolerance", defaults.pct_tolerance, minimum=Decimal(0)),
    )
    return policy if len(r.problems) == before else None


def _tiers(r: _Reader, doc: LocatedDict) -> list[Tier]:
    node = doc.get("tiers")
    if not isinstance(node, LocatedList) or not node:
        r.problem(doc, "tiers", "tiers", "expected a non-empty list of {from, rate}", at_value="tiers" in doc)
        return []
    tiers: list[Tier] = []
    for index, item in enumerate(node):
        path = f"tiers[{index}]"
        if not isinstance(item, LocatedDict):
            r.problem(node, index, path, "expected a mapping {from, rate, name}")
            continue
        r.unknown_keys(item, {"from", "rate", "name"}, path)
        if "from" not in item or "rate" not in item:
            r.problem(node, index, path, "each tier needs 'from' and 'rate'")
            continue
        start = r.decimal(item, "from", f"{path}.from", Decimal(0), minimum=Decimal(0))
        rate = r.decimal(item, "rate", f"{path}.rate", Decimal(0), minimum=Decimal(0))
        if tiers and start <= tiers[-1].start:
            r.problem(item, "from", f"{path}.from", "tiers must be in increasing 'from' order", at_value=True)
        tiers.append(Tier(start, rate, str(item.get("name", f"tier {index + 1}"))))
    if tiers and tiers[0].start != 0:
        r.problem(node, 0, "tiers[0].from", "the first tier must start from 0")
    return tiers


# --------------------------------------------------------------------------- entry point


def load_trigger_config(docs: list[tuple[str, Any]]) -> TriggerConfig:
    """Build the trigger configuration from (file name, parsed YAML) pairs of every mapping document.

    Documents of other kinds are ignored. Raises ConfigError listing every problem.
    """
    problems: list[Problem] = []
    scales: dict[str, tuple[str, LocatedDict]] = {}
    trigger_docs: list[tuple[str, LocatedDict]] = []
    policy_docs: list[tuple[str, LocatedDict]] = []
    for file, doc in docs:
        if not isinstance(doc, LocatedDict):
            continue
        kind = doc.get("kind")
        if kind == "grade_scale":
            stem = file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            scales[str(doc.get("name", stem))] = (file, doc)
        elif kind == "triggers":
            trigger_docs.append((file, doc))
        elif kind == "rebate_policy":
            policy_docs.append((file, doc))

    config = TriggerConfig()
    if len(trigger_docs) > 1:
        for file, doc in trigger_docs[1:]:
            problems.append(
                Problem(
                    file, *doc.where("kind"), "kind", f"a second 'kind: triggers' document (the first is {trigger_docs[0][0]}); keep one"
                )
            )
    scale_name = "grade_scale"
    if trigger_docs:
        file, doc = trigger_docs[0]
        r = _Reader(file)
        r.unknown_keys(doc, _TRIGGERS_KEYS, "")
        grade, scale_name = _grade(r, doc)
        rebate = r.section(doc, "rebate", "rebate")
        r.unknown_keys(rebate, {"abs_tolerance", "pct_tolerance", "default_timezone"}, "rebate")
        config = TriggerConfig(
            owners=_owners(r, doc),
            grade=grade,
            order_anomaly=_order_anomaly(r, doc),
            abs_tolerance=r.decimal(rebate, "abs_tolerance", "rebate.abs_tolerance", Decimal("1.00"), minimum=Decimal(0)),
            pct_tolerance=r.decimal(rebate, "pct_tolerance", "rebate.pct_tolerance", Decimal("0.005"), minimum=Decimal(0)),
            default_timezone=r.timezone(rebate, "default_timezone", "rebate.default_timezone", DEFAULT_TIMEZONE),
            custom_rules=tuple(_custom_rules(r, doc)),
        )
        problems.extend(r.problems)
        if config.grade.enabled and scale_name not in scales:
            section = doc.get("grade_changed")
            line, column = section.where("scale") if isinstance(section, LocatedDict) else doc.where("grade_changed")
            problems.append(
                Problem(
                    file,
                    line,
                    column,
                    "grade_changed.scale",
                    f"no 'kind: grade_scale' document named {scale_name!r} (found: {', '.join(sorted(scales)) or 'none'})",
                )
            )
    levels = _levels(scales.get(scale_name or "grade_scale"), problems)
    config = _replace(config, grade=GradeConfig(config.grade.enabled, levels, config.grade.baseline_on_first_sight))

    policies: list[RebatePolicy] = []
    seen: dict[str, str] = {}
    for file, doc in policy_docs:
        r = _Reader(file)
        policy = _policy(r, doc, config)
        problems.extend(r.problems)
        if policy is None:
            continue
        if policy.name in seen:
            problems.append(
                Problem(file, *doc.where_value("name"), "name", f"policy {policy.name!r} is already declared in {seen[policy.name]}")
            )
            continue
        seen[policy.name] = file
        policies.append(policy)
    if problems:
        raise ConfigError(problems)
    return _replace(config, policies=tuple(policies))


def _levels(found: tuple[str, LocatedDict] | None, problems: list[Problem]) -> tuple[str, ...]:
    if found is None:
        return ()
    file, doc = found
    levels = doc.get("levels")
    if not isinstance(levels, list) or len(levels) < 2 or not all(isinstance(v, str) and v.strip() for v in levels):
        problems.append(Problem(file, *doc.where_value("levels"), "levels", "expected a list of at least two grade names, lowest first"))
        return ()
    if len(set(levels)) != len(levels):
        problems.append(Problem(file, *doc.where_value("levels"), "levels", "grade names must be unique"))
    return tuple(v.strip() for v in levels)


def _replace(config: TriggerConfig, **changes: Any) -> TriggerConfig:
    from dataclasses import replace

    return replace(config, **changes)
