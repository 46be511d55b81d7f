"""The evaluate step: what one canonical record does to the state, decided without writing anything.

identity (which entity; a merge when the record shows entities are one) → consent (drop the
fields the customer has not granted) → golden merge → triggers → rules (chalicelib/rules:
deadlines, windows, stage gates) → the rare extra read (a partial update hid where its dependent
state lives).

The processor, the dry run, the regression diff, the trigger tests and the accuracy
benchmark all call this one function, so what a dry run shows is what the real run
does on the same state. ``read_identity`` / ``read_state`` are the two reads it needs,
through the storage port; entity types without identity rules need only the second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import ValidationError

from chalicelib.configuration import Configuration
from chalicelib.domain import consent, identity
from chalicelib.domain.canonical import CanonicalRecord
from chalicelib.domain.golden import Survivorship
from chalicelib.domain.identity import Decision, IdentityRules
from chalicelib.domain.state import StateKey, States, consent_key
from chalicelib.errors import RecordMappingError, StateKeysMissing
from chalicelib.mapping import CompiledMapping
from chalicelib.pipeline.identify import Identified, Merge, entity_keys, identify, identity_puts, lookup_keys, merge_entities
from chalicelib.rules import engine as rules_engine
from chalicelib.rules.model import EMPTY, RuleSet
from chalicelib.store.port import Snapshot, Store
from chalicelib.triggers.config import TriggerConfig
from chalicelib.triggers.outcome import Outcome
from chalicelib.triggers.process import process, required_state_keys

ReadMore = Callable[[list[StateKey]], States]
MAX_EXTRA_READS = 3


@dataclass(frozen=True)
class Rules:
    """What evaluation needs from the configuration."""

    triggers: TriggerConfig
    consent_opt_in: tuple[str, ...] = consent.DEFAULT_OPT_IN
    identity: IdentityRules = field(default_factory=IdentityRules)
    survivorship: Survivorship | None = None  # default: the owners of the trigger configuration
    rules: RuleSet = EMPTY  # the rules files: deadlines, windows, stage gates, conditions

    @classmethod
    def of(cls, config: Configuration) -> Rules:
        return cls(config.triggers, config.consent_opt_in, config.identity, config.survivorship, config.rules)

    def rules_of_survival(self) -> Survivorship:
        return self.survivorship or Survivorship(owners=self.triggers.owners)


@dataclass
class Evaluation:
    record: CanonicalRecord  # as applied: the fields without consent are gone
    entity_id: str
    customer: str | None  # whose consent governs this record
    dropped: consent.Dropped
    outcome: Outcome
    merge: Merge | None = None  # entities this record showed to be one (None when it merged nothing)


def prepare(mapping: CompiledMapping, payload: object, connector: str | None = None) -> CanonicalRecord:
    """Map a payload and check it against the canonical model; raises RecordMappingError (``invalid_canonical`` …)."""
    record = mapping.apply(payload, connector=connector)  # type: ignore[arg-type]
    try:
        record.validated_fields()
    except ValidationError as exc:
        raise RecordMappingError(
            "invalid_canonical", f"mapping {mapping.file} produced an invalid {record.entity}: {_first_error(exc)}"
        ) from None
    return record


def to_canonical(mapping: CompiledMapping, payload: object, connector: str | None = None) -> tuple[CanonicalRecord, str]:
    """Map a payload and resolve its ids by source alone (no identity rules): mapping tools and examples."""
    record = identity.resolve_references(prepare(mapping, payload, connector))
    return record, identity.canonical_id(record)


def state_keys(record: CanonicalRecord, entity_id: str, rules: Rules, decision: Decision | None = None) -> list[StateKey]:
    """Everything evaluation reads for this record, judged from the fields it carries: one batched read."""
    keys = required_state_keys(record, entity_id, rules.triggers)
    keys += rules_engine.required_keys(record, entity_id, rules.rules)
    customer = consent.customer_of(record, entity_id)
    if customer:
        keys.append(consent_key(customer))
    if decision is not None and decision.merged:
        keys += entity_keys(record.entity, [entity_id, *decision.merged])
    return list(dict.fromkeys(keys))


@dataclass
class Prepared:
    snapshot: Snapshot
    identified: Identified
    complete: bool  # the state is read too (no identity lookup was needed)


def read_identity(
    store: Store, record: CanonicalRecord, rules: Rules, *, input_key: str | None = None, entity_id: str | None = None
) -> Prepared:
    """The first read: the input's dedupe mark, and either the identity lookups or (none needed) the state."""
    lookups = [] if entity_id is not None else lookup_keys(record, rules.identity)
    if not lookups:
        if entity_id is not None:
            identified = Identified(record, Decision(entity_id))
        else:
            resolved = identity.resolve_references(record)
            identified = Identified(resolved, Decision(identity.canonical_id(resolved)))
        snapshot = store.read(state_keys(identified.record, identified.entity_id, rules), input_key=input_key)
        return Prepared(snapshot, identified, complete=True)
    snapshot = store.read(lookups + _likely_state_keys(record, rules), input_key=input_key)
    return Prepared(snapshot, identify(record, snapshot.states, rules.identity), complete=False)


def _likely_state_keys(record: CanonicalRecord, rules: Rules) -> list[StateKey]:
    """The state the record most likely needs, read with its identity lookups: usually the second read is then
    not needed (the entity is the one its best key or its own source id names; references resolve to their own ids)."""
    resolved = identity.resolve_references(record)
    if not rules.identity.applies(record.entity):
        return state_keys(resolved, identity.canonical_id(record), rules)
    own = identity.id_for(record.source)
    if keys := rules.identity.record_keys(record.entity, record.fields):
        # a record with a key joins the key's entity, and whatever its own id holds merges into it: read both
        likely = identity.key_id(record.entity, rules.identity.key_rank(record.entity, keys[0]), keys[0])
        return list(dict.fromkeys(state_keys(resolved, likely, rules) + entity_keys(record.entity, [likely, own])))
    return state_keys(resolved, own, rules)


def read_state(store: Store, prepared: Prepared, rules: Rules) -> None:
    """The second read (after identity), only for what the first did not already bring."""
    if not prepared.complete:
        identified = prepared.identified
        wanted = state_keys(identified.record, identified.entity_id, rules, identified.decision)
        if any(key not in prepared.snapshot.states for key in wanted):
            store.read_more(prepared.snapshot, wanted)
        prepared.complete = True


def evaluate(
    record: CanonicalRecord,
    entity_id: str,
    states: States,
    rules: Rules,
    *,
    decision: Decision | None = None,
    read_more: ReadMore | None = None,
    correlation_id: str | None = None,
    now: datetime | None = None,
) -> Evaluation:
    """Raises TriggerInputError for a record that cannot be applied as it is (quarantine it).

    ``now``: the clock the rules read (a deadline whose time has passed fires at once); default the wall clock.
    """
    work = dict(states)
    survival = rules.rules_of_survival()
    decision = decision or Decision(entity_id)
    merge = None
    if decision.merged:
        merge = _with_reads(lambda: merge_entities(record.entity, entity_id, decision.merged, work, survival), work, read_more)
        work.update(merge.puts)
    customer = consent.customer_of(record, entity_id)
    dropped = consent.Dropped({})
    if customer:
        record, dropped = consent.apply_consent(record, work.get(consent_key(customer)), rules.consent_opt_in)
    outcome = _with_reads(
        lambda: process(
            record,
            entity_id,
            work,
            rules.triggers,
            survivorship=survival,
            keys=decision.keys,
            correlation_id=correlation_id,
            merged=tuple(merge.merged) if merge else (),
        ),
        work,
        read_more,
    )
    if outcome.stale:  # a stale version changes neither fields nor keys nor links
        return Evaluation(record, entity_id, customer, dropped, outcome)
    extra = identity_puts(Identified(record, decision), work)
    outcome.puts = {**(merge.puts if merge and merge.merged else {}), **outcome.puts, **extra}
    if rules.rules:
        moment = now or datetime.now(UTC)
        ruled = _with_reads(lambda: _run_rules(record, entity_id, work, rules.rules, outcome, moment, correlation_id), work, read_more)
        outcome.puts, outcome.events, outcome.notes = ruled.puts, ruled.events, ruled.notes
    return Evaluation(record, entity_id, customer, dropped, outcome, merge if merge and merge.merged else None)


def _run_rules(
    record: CanonicalRecord, entity_id: str, states: States, rules: RuleSet, outcome: Outcome, now: datetime, correlation_id: str | None
) -> Outcome:
    """The rules on the merged record, on a copy of the outcome: what they add is kept only when they ran through."""
    trial = Outcome(dict(outcome.puts), list(outcome.events), list(outcome.notes), outcome.changed_fields, outcome.stale)
    rules_engine.apply(record, entity_id, states, trial, rules, now, correlation_id)
    return trial


def _with_reads[T](step: Callable[[], T], work: States, read_more: ReadMore | None) -> T:
    """Run a step; when it needs state that was not read, read it (a few times at most) and run it again."""
    for _ in range(MAX_EXTRA_READS):
        try:
            return step()
        except StateKeysMissing as missing:
            if read_more is None:
                raise
            work.update(read_more([k for k in missing.keys if k not in work]))
    return step()


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    return f"{where}: {err.get('msg')}"
