"""Trigger configuration: what the integrator declares in `mappings/` (no code change needed).

Three kinds of YAML document feed it: `kind: triggers` (field owners, grade trigger options,
order-anomaly parameters, rebate tolerances, custom rules), `kind: rebate_policy` (one policy each)
and `kind: grade_scale` (the canonical grade levels, owned by the mappings). Every problem in every
document is collected and raised together as one ConfigError naming file:line:column.

The files are checked by pydantic models (``TriggersFile``, ``RebatePolicyFile``) through the
shared translator (chalicelib.config.models); rules that span items or documents (tier order, a
scale that must exist, unique policy names) are checked after, at the place they point to. The
result is the frozen dataclasses below, which the triggers read.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, TypeAdapter, ValidationError, ValidationInfo, field_validator

from chalicelib.config.documents import Document
from chalicelib.config.models import StrictModel, problem_at, validate
from chalicelib.config.problems import Problem
from chalicelib.config.yaml_lines import LocatedDict
from chalicelib.domain.canonical import EntityType
from chalicelib.errors import ConditionError, ConfigError
from chalicelib.triggers.conditions import Condition, compile_condition

DEFAULT_TIMEZONE = "Asia/Shanghai"


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
    convert_to: str | None = None  # compare every order in this currency; None: each currency on its own
    rates: dict[str, Decimal] = field(default_factory=dict)  # units of convert_to per unit of each currency


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
    distributors: frozenset[str] | None  # canonical ids; None = every distributor
    skus: frozenset[str] | None  # None = every SKU
    timezone: str
    basis: Literal["sell_through", "sell_in"]
    tier_mode: Literal["all_units", "incremental"]
    tiers: tuple[Tier, ...]
    abs_tolerance: Decimal
    pct_tolerance: Decimal
    distributor_codes: frozenset[tuple[str, str]] = frozenset()  # (system, code): the source record a sale references

    def covers_distributor(self, distributor_id: str | None, source: tuple[str, str] | None = None) -> bool:
        """By canonical id, or by the (system, code) the sale names its distributor with."""
        if distributor_id is None:
            return False
        if self.distributors is None and not self.distributor_codes:
            return True
        return distributor_id in (self.distributors or ()) or (source is not None and source in self.distributor_codes)

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


# --------------------------------------------------------------------------- value types of the files


def _number(value: Any) -> Decimal:
    """A number written as 3, 0.5, "1.00" or "0.5%" (a percentage); never a boolean."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError("expected a number")
    text = str(value).strip()
    try:
        number = Decimal(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except InvalidOperation:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


def _positive(number: Decimal) -> Decimal:
    if number <= 0:
        raise ValueError(f"must be greater than 0, got {number}")
    return number


def _not_negative(number: Decimal) -> Decimal:
    if number < 0:
        raise ValueError(f"must be at least 0, got {number}")
    return number


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected a whole number >= 1, got {value!r}")
    return value


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Asia/Shanghai)") from None
    return name


def _ids(value: Any) -> Any:
    if value == "*":
        return value
    if not isinstance(value, list) or not value or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        raise ValueError("expected '*' or a non-empty list of ids")
    return [str(v) for v in value]


def _currency(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{3}", value.strip()):
        raise ValueError(f"expected an ISO 4217 currency code such as CNY or USD, got {value!r}")
    return value.strip()


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a non-empty text")
    return value.strip()


Positive = Annotated[Decimal, BeforeValidator(_number), AfterValidator(_positive)]
NotNegative = Annotated[Decimal, BeforeValidator(_number), AfterValidator(_not_negative)]
Whole = Annotated[int, BeforeValidator(_whole)]
TimeZoneName = Annotated[str, BeforeValidator(_text), AfterValidator(_zone)]
Text = Annotated[str, BeforeValidator(_text)]
Currency = Annotated[str, BeforeValidator(_currency)]
Ids = Annotated[Literal["*"] | list[str], BeforeValidator(_ids)]
_CANONICAL_CUSTOMER_ID = re.compile(r"^cus_(k\d+_)?[0-9a-f]{20}$")


class DistributorCode(StrictModel):
    """A distributor named by its business key: the system that knows it and its code there."""

    system: Text
    code: Text

    @field_validator("code", mode="before")
    @classmethod
    def _code_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Distributors = Literal["*"] | Annotated[list[DistributorCode | str], Field(min_length=1)]


def distributor_problems(doc: LocatedDict, file: str) -> list[Problem]:
    """A distributor named by a text that is no canonical id can never match: say so, where it is written."""
    listed = doc.get("distributors")
    problems = []
    for index, value in enumerate(listed if isinstance(listed, list) else []):
        if isinstance(value, (str, int)) and not isinstance(value, bool) and not _CANONICAL_CUSTOMER_ID.match(str(value)):
            message = (
                f"{value!r} is not a canonical customer id (cus_…): name the distributor by its system and code, "
                "e.g. {system: kingdee, code: DIST001}"
            )
            problems.append(problem_at(doc, file, ("distributors", index), message))
    return problems


_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_RULE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
BUILTIN_RULES = ("amount_spike", "below_floor_price", "duplicate_order", "credit_limit_exceeded")
CONDITION_NAMES = frozenset({"order", "customer", "product", "line"})


# --------------------------------------------------------------------------- kind: triggers


class GradeChangedSpec(StrictModel):
    enabled: bool = Field(True, strict=True)
    scale: Text = "grade_scale"
    baseline_on_first_sight: bool = Field(True, strict=True, description="The first grade seen is a baseline: no event")


class ConversionSpec(StrictModel):
    """Amounts in other currencies, converted before they are compared (an integrator's rate table)."""

    to: Currency = Field(description="The currency every order is compared in")
    rates: dict[Currency, Positive] = Field(description="Units of `to` per one unit of each listed currency")

    @field_validator("rates")
    @classmethod
    def _not_the_target(cls, rates: dict[str, Decimal], info: ValidationInfo) -> dict[str, Decimal]:
        target = info.data.get("to")
        if target in rates:
            raise ValueError(f"{target} is the currency compared in: it needs no rate")
        return rates


class AmountSpikeSpec(StrictModel):
    enabled: bool = Field(True, strict=True)
    factor: Positive = Decimal("3.0")
    window: Whole = 20
    min_history: Whole = 5
    convert: ConversionSpec | None = Field(
        None, description="Without it, an order is compared only with the customer's previous orders in its own currency"
    )


class FloorPriceSpec(StrictModel):
    enabled: bool = Field(True, strict=True)


class DuplicateOrderSpec(StrictModel):
    enabled: bool = Field(True, strict=True)
    window_minutes: Positive = Decimal(10)


class CreditLimitSpec(StrictModel):
    enabled: bool = Field(True, strict=True)
    closed_statuses: list[str] = Field(default_factory=lambda: ["paid", "cancelled"])


class OrderAnomalySpec(StrictModel):
    enabled: bool = Field(True, strict=True)
    # Factories, not instances: an instance made here would build its model's validator at import.
    amount_spike: AmountSpikeSpec = Field(default_factory=AmountSpikeSpec)
    below_floor_price: FloorPriceSpec = Field(default_factory=FloorPriceSpec)
    duplicate_order: DuplicateOrderSpec = Field(default_factory=DuplicateOrderSpec)
    credit_limit_exceeded: CreditLimitSpec = Field(default_factory=CreditLimitSpec)
    history_limit: Whole | None = Field(None, description="Orders kept per customer (every open one besides); at least amount_spike.window")


class RebateSpec(StrictModel):
    abs_tolerance: NotNegative = Decimal("1.00")
    pct_tolerance: NotNegative = Decimal("0.005")
    default_timezone: TimeZoneName = DEFAULT_TIMEZONE


class CustomRuleSpec(StrictModel):
    name: Text
    severity: Literal["info", "warning", "high", "critical"] = "warning"
    event_type: Text = "order.anomaly_detected"
    when: Text

    @field_validator("name")
    @classmethod
    def _rule_name(cls, name: str) -> str:
        if not _RULE_NAME.match(name) or name in BUILTIN_RULES:
            raise ValueError(f"{name!r}: use lower_snake_case, not a built-in rule name")
        return name

    @field_validator("event_type")
    @classmethod
    def _event_type(cls, event_type: str) -> str:
        if not _EVENT_TYPE.match(event_type):
            raise ValueError(f"{event_type!r}: expected a dotted lower-case type such as order.anomaly_detected")
        return event_type

    @field_validator("when")
    @classmethod
    def _condition(cls, text: str) -> str:
        try:
            compile_condition(text, CONDITION_NAMES)
        except ConditionError as exc:
            raise ValueError(str(exc)) from None
        return text


class TriggersFile(StrictModel):
    """`kind: triggers`: owners, the grade trigger, order-anomaly rules, rebate tolerances, custom rules."""

    kind: Literal["triggers"]
    version: Any = None
    owners: dict[EntityType, dict[str, Text]] = Field(default_factory=dict, description="entity -> field (or *) -> owner system")
    grade_changed: GradeChangedSpec = GradeChangedSpec()
    order_anomaly: OrderAnomalySpec = OrderAnomalySpec()
    rebate: RebateSpec = RebateSpec()
    custom_rules: list[CustomRuleSpec] = Field(default_factory=list)


# --------------------------------------------------------------------------- kind: rebate_policy


class TierSpec(StrictModel):
    start: NotNegative = Field(alias="from")
    rate: NotNegative
    name: str | None = None


class RebatePolicyFile(StrictModel):
    """`kind: rebate_policy`: one policy per file."""

    kind: Literal["rebate_policy"]
    version: Any = None
    name: Text
    distributors: Distributors = Field("*", description="'*', or distributors as {system, code} (or canonical customer ids)")
    skus: Ids = "*"
    timezone: TimeZoneName | None = None
    basis: Literal["sell_through", "sell_in"] = "sell_through"
    tier_mode: Literal["all_units", "incremental"] = "all_units"
    tiers: list[TierSpec] = Field(min_length=1)
    abs_tolerance: NotNegative | None = None
    pct_tolerance: NotNegative | None = None


@functools.cache
def _tiers() -> TypeAdapter[list[TierSpec]]:
    """Built on first use: only a rebate policy needs it."""
    return TypeAdapter(list[TierSpec])


# --------------------------------------------------------------------------- from files to the configuration


def load_trigger_config(docs: list[Document]) -> TriggerConfig:
    """Build the trigger configuration from (file name, parsed YAML) pairs of every mapping document.

    Documents of other kinds are ignored. Raises ConfigError listing every problem.
    """
    problems: list[Problem] = []
    scales = {_scale_name(file, doc): doc for file, doc in docs if doc.get("kind") == "grade_scale"}
    trigger_docs = [(f, d) for f, d in docs if d.get("kind") == "triggers"]
    problems += [
        Problem(file, *doc.where("kind"), "kind", f"a second 'kind: triggers' document (the first is {trigger_docs[0][0]}); keep one")
        for file, doc in trigger_docs[1:]
    ]
    config = TriggerConfig()
    scale_name = "grade_scale"
    if trigger_docs:
        file, doc = trigger_docs[0]
        spec, found = validate(TriggersFile, doc, file)
        problems += found
        if spec is not None:
            problems += _history_problem(spec, doc, file)
            config, scale_name = _triggers(spec), spec.grade_changed.scale
            if config.grade.enabled and scale_name not in scales:
                known = ", ".join(sorted(scales)) or "none"
                problems.append(
                    problem_at(
                        doc, file, ("grade_changed", "scale"), f"no 'kind: grade_scale' document named {scale_name!r} (found: {known})"
                    )
                )
    grade = GradeConfig(config.grade.enabled, _levels(scales.get(scale_name)), config.grade.baseline_on_first_sight)
    policies: list[RebatePolicy] = []
    declared: dict[str, str] = {}
    for file, doc in docs:
        if doc.get("kind") != "rebate_policy":
            continue
        policy_spec, found = validate(RebatePolicyFile, doc, file)
        found += _tier_problems(doc, file)
        if policy_spec is not None and policy_spec.name in declared:
            message = f"policy {policy_spec.name!r} is already declared in {declared[policy_spec.name]}"
            found.append(problem_at(doc, file, ("name",), message))
        problems += found
        if policy_spec is not None and not found:
            declared[policy_spec.name] = file
            policies.append(_policy(policy_spec, config))
    if problems:
        raise ConfigError(problems)
    return _replace(config, grade=grade, policies=tuple(policies))


def _scale_name(file: str, doc: LocatedDict) -> str:
    return str(doc.get("name") or file.rsplit("/", 1)[-1].rsplit(".", 1)[0])


def _levels(doc: LocatedDict | None) -> tuple[str, ...]:
    """The scale's levels; a broken scale file is reported by the mappings, which own it."""
    from chalicelib.mapping.spec import GradeScaleFile

    if doc is None:
        return ()
    scale, _ = validate(GradeScaleFile, doc, "")
    return tuple(level.strip() for level in scale.levels) if scale else ()


def _history_problem(spec: TriggersFile, doc: LocatedDict, file: str) -> list[Problem]:
    anomaly = spec.order_anomaly
    if anomaly.history_limit is not None and anomaly.history_limit < anomaly.amount_spike.window:
        message = f"must be at least amount_spike.window ({anomaly.amount_spike.window})"
        return [problem_at(doc, file, ("order_anomaly", "history_limit"), message)]
    return []


def _tier_problems(doc: LocatedDict, file: str) -> list[Problem]:
    """Tiers start from 0 and rise (checked even when other parts of the file are wrong)."""
    try:
        tiers = _tiers().validate_python(doc.get("tiers"))
    except ValidationError:
        return []  # reported with the rest of the file
    problems = []
    if tiers and tiers[0].start != 0:
        problems.append(problem_at(doc, file, ("tiers", 0, "from"), "the first tier must start from 0"))
    for index in range(1, len(tiers)):
        if tiers[index].start <= tiers[index - 1].start:
            problems.append(problem_at(doc, file, ("tiers", index, "from"), "tiers must be in increasing 'from' order"))
    return problems


def _triggers(spec: TriggersFile) -> TriggerConfig:
    anomaly, spike, rebate = spec.order_anomaly, spec.order_anomaly.amount_spike, spec.rebate
    return TriggerConfig(
        owners={entity: dict(fields) for entity, fields in spec.owners.items()},
        grade=GradeConfig(spec.grade_changed.enabled, (), spec.grade_changed.baseline_on_first_sight),
        order_anomaly=OrderAnomalyConfig(
            enabled=anomaly.enabled,
            history_limit=max(anomaly.history_limit or 50, spike.window),
            amount_spike=AmountSpikeConfig(
                spike.enabled,
                spike.factor,
                spike.window,
                spike.min_history,
                spike.convert.to if spike.convert else None,
                dict(spike.convert.rates) if spike.convert else {},
            ),
            below_floor_price=FloorPriceConfig(anomaly.below_floor_price.enabled),
            duplicate_order=DuplicateOrderConfig(
                anomaly.duplicate_order.enabled, timedelta(seconds=float(anomaly.duplicate_order.window_minutes * 60))
            ),
            credit_limit_exceeded=CreditLimitConfig(
                anomaly.credit_limit_exceeded.enabled, frozenset(s.strip().lower() for s in anomaly.credit_limit_exceeded.closed_statuses)
            ),
        ),
        abs_tolerance=rebate.abs_tolerance,
        pct_tolerance=rebate.pct_tolerance,
        default_timezone=rebate.default_timezone,
        custom_rules=tuple(
            CustomRule(rule.name, rule.severity, rule.event_type, compile_condition(rule.when, CONDITION_NAMES), rule.when)
            for rule in spec.custom_rules
        ),
    )


def _policy(spec: RebatePolicyFile, config: TriggerConfig) -> RebatePolicy:
    return RebatePolicy(
        name=spec.name,
        distributors=None if spec.distributors == "*" else frozenset(d for d in spec.distributors if isinstance(d, str)),
        distributor_codes=frozenset()
        if spec.distributors == "*"
        else frozenset((d.system, d.code) for d in spec.distributors if isinstance(d, DistributorCode)),
        skus=None if spec.skus == "*" else frozenset(spec.skus),
        timezone=spec.timezone or config.default_timezone,
        basis=spec.basis,
        tier_mode=spec.tier_mode,
        tiers=tuple(Tier(tier.start, tier.rate, tier.name or f"tier {index + 1}") for index, tier in enumerate(spec.tiers)),
        abs_tolerance=config.abs_tolerance if spec.abs_tolerance is None else spec.abs_tolerance,
        pct_tolerance=config.pct_tolerance if spec.pct_tolerance is None else spec.pct_tolerance,
    )


def _replace(config: TriggerConfig, **changes: Any) -> TriggerConfig:
    from dataclasses import replace

    return replace(config, **changes)
