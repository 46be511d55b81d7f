"""The evaluate step: what one canonical record does to the state, decided without writing anything.

consent (drop the fields the customer has not granted) → golden merge → triggers → rules
(chalicelib/rules: deadlines, windows, stage gates) → the rare second read (a partial update hid
where its dependent state lives).

The processor, the dry run, the regression diff, the trigger tests and the accuracy
benchmark all call this one function, so what a dry run shows is what the real run
does on the same state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import ValidationError

from chalicelib.domain import consent, identity
from chalicelib.domain.canonical import CanonicalRecord
from chalicelib.domain.state import StateKey, States, consent_key
from chalicelib.errors import RecordMappingError, StateKeysMissing
from chalicelib.mapping import CompiledMapping
from chalicelib.rules import engine as rules_engine
from chalicelib.rules.model import EMPTY, RuleSet
from chalicelib.triggers.config import TriggerConfig
from chalicelib.triggers.outcome import Outcome
from chalicelib.triggers.process import process, required_state_keys

ReadMore = Callable[[list[StateKey]], States]


@dataclass(frozen=True)
class Rules:
    """What evaluation needs from the configuration."""

    triggers: TriggerConfig
    consent_opt_in: tuple[str, ...] = consent.DEFAULT_OPT_IN
    rules: RuleSet = field(default=EMPTY)


@dataclass
class Evaluation:
    record: CanonicalRecord  # as applied: the fields without consent are gone
    entity_id: str
    customer: str | None  # whose consent governs this record
    dropped: consent.Dropped
    outcome: Outcome


def to_canonical(mapping: CompiledMapping, payload: object, connector: str | None = None) -> tuple[CanonicalRecord, str]:
    """Map a payload and resolve its ids; raises RecordMappingError (``invalid_canonical`` among the codes)."""
    record = mapping.apply(payload, connector=connector)  # type: ignore[arg-type]
    try:
        record.validated_fields()
    except ValidationError as exc:
        raise RecordMappingError(
            "invalid_canonical", f"mapping {mapping.file} produced an invalid {record.entity}: {_first_error(exc)}"
        ) from None
    record = identity.resolve_references(record)
    return record, identity.canonical_id(record)


def state_keys(record: CanonicalRecord, entity_id: str, rules: Rules) -> list[StateKey]:
    """Everything evaluation reads for this record, judged from the fields it carries: one batched read."""
    keys = required_state_keys(record, entity_id, rules.triggers)
    keys += rules_engine.required_keys(record, entity_id, rules.rules)
    customer = consent.customer_of(record, entity_id)
    if customer:
        keys.append(consent_key(customer))
    return list(dict.fromkeys(keys))


def evaluate(
    record: CanonicalRecord,
    entity_id: str,
    states: States,
    rules: Rules,
    *,
    read_more: ReadMore | None = None,
    correlation_id: str | None = None,
    now: datetime | None = None,
) -> Evaluation:
    """Raises TriggerInputError for a record that cannot be applied as it is (quarantine it).

    ``now``: the clock the rules read (a deadline whose time has passed fires at once); default the wall clock.
    """
    customer = consent.customer_of(record, entity_id)
    dropped = consent.Dropped({})
    if customer:
        record, dropped = consent.apply_consent(record, states.get(consent_key(customer)), rules.consent_opt_in)
    try:
        outcome = process(record, entity_id, states, rules.triggers, correlation_id=correlation_id)
    except StateKeysMissing as missing:
        if read_more is None:
            raise
        states = {**states, **read_more([k for k in missing.keys if k not in states])}
        outcome = process(record, entity_id, states, rules.triggers, correlation_id=correlation_id)
    _run_rules(record, entity_id, states, rules, outcome, now or datetime.now(UTC), read_more, correlation_id)
    return Evaluation(record, entity_id, customer, dropped, outcome)


def _run_rules(
    record: CanonicalRecord,
    entity_id: str,
    states: States,
    rules: Rules,
    outcome: Outcome,
    now: datetime,
    read_more: ReadMore | None,
    correlation_id: str | None,
) -> None:
    """The rules on the merged record; what they change is added to ``outcome`` (all of it, or nothing)."""
    for _ in range(3):
        trial = Outcome(dict(outcome.puts), list(outcome.events), list(outcome.notes), outcome.changed_fields, outcome.stale)
        try:
            rules_engine.apply(record, entity_id, states, trial, rules.rules, now, correlation_id)
        except StateKeysMissing as missing:
            if read_more is None:
                raise
            states.update(read_more([k for k in missing.keys if k not in states]))
            continue
        outcome.puts, outcome.events, outcome.notes = trial.puts, trial.events, trial.notes
        return
    raise StateKeysMissing([])


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    return f"{where}: {err.get('msg')}"
