"""The two entry points the pipeline calls for each canonical record.

1. ``required_state_keys(record, entity_id, config)`` → the state items to read in one batch.
2. ``process(record, entity_id, states, config, correlation_id=...)`` → an ``Outcome`` (puts, events,
   notes, changed fields, stale) that the pipeline commits atomically.

State it reads and writes (chalicelib.domain.state) and who owns it:
- ``golden_key(entity, id)``            golden record (chalicelib.domain.golden), incl. once-only markers
- ``orders_key(customer)``              the customer's order history (order_history)
- ``golden_key("product", sku)``        product master, read for floor prices and custom rules
- ``rebate_basis_key(dist, month, policy)``  rebate basis, settlement, last report (rebate)

A partial update may omit the fields that locate dependent state (an order's customer, a sale's date):
then ``process`` raises ``StateKeysMissing`` with the extra keys; the pipeline reads them and retries.
States read but absent must be passed as ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from chalicelib.domain.canonical import CanonicalRecord
from chalicelib.domain.events import CloudEvent
from chalicelib.domain.golden import MergeResult, Survivorship, merge
from chalicelib.domain.state import StateKey, States, golden_key, orders_key, rebate_basis_key
from chalicelib.errors import StateKeysMissing
from chalicelib.triggers import custom_rules, grade, rebate
from chalicelib.triggers.config import RebatePolicy, TriggerConfig
from chalicelib.triggers.order_anomaly import Finding, amount_spike_not_judged, builtin_findings
from chalicelib.triggers.order_history import OrderFacts, order_facts, with_order, without_order
from chalicelib.triggers.outcome import AuditNote, EventContext, Outcome

MAX_KEYS = 100


def required_state_keys(record: CanonicalRecord, entity_id: str, config: TriggerConfig) -> list[StateKey]:
    """Everything `process` will read for this record, judged from the fields it carries."""
    keys = [golden_key(record.entity, entity_id)]
    fields = record.fields
    if record.entity == "order":
        customer_id = fields.get("customer_id")
        if customer_id:
            keys += [golden_key("customer", customer_id), orders_key(customer_id)]
        keys += [golden_key("product", sku) for sku in _skus(fields)]
        keys += list(_sale_keys(customer_id, fields.get("placed_at"), config, "sell_in", _named(record, "customer_id")).values())
    elif record.entity == "pos_sale":
        sold = _sale_keys(fields.get("distributor_id"), fields.get("sold_at"), config, "sell_through", _named(record, "distributor_id"))
        keys += list(sold.values())
    elif record.entity == "rebate_settlement":
        key = _settlement_key(fields)
        if key:
            keys.append(key)
    return list(dict.fromkeys(keys))


def process(
    record: CanonicalRecord,
    entity_id: str,
    states: States,
    config: TriggerConfig,
    *,
    survivorship: Survivorship | None = None,
    keys: tuple[str, ...] = (),
    correlation_id: str | None = None,
    merged: tuple[str, ...] = (),
) -> Outcome:
    """Merge the record into its golden record and run the triggers; pure: nothing is written here.

    ``survivorship`` defaults to the owners of the trigger configuration; ``keys`` are the record's
    normalised match keys, kept on its member entry; ``merged``: the ids this record's arrival
    merged into ``entity_id`` (a distributor's rebate bases follow it).
    """
    if record.entity == "customer":
        grade.check_grade_value(record, config.grade)
    key = golden_key(record.entity, entity_id)
    rules = (survivorship or Survivorship(owners=config.owners)).with_claims(record.entity, record.owners)
    result = merge(states.get(key), record, entity_id, rules, keys)
    if result.stale:
        return Outcome(
            stale=True,
            notes=[
                AuditNote(
                    "stale",
                    f"update from {record.source.system} at {record.source_time.isoformat()} is not newer than "
                    f"the stored {result.stored_time}; ignored",
                    {"system": record.source.system, "stored_time": result.stored_time},
                )
            ],
        )
    out = Outcome(changed_fields=result.changed)
    if result.ignored:
        out.notes.append(
            AuditNote(
                "not_owner",
                f"values from {record.source.system} kept per source, not applied (another system owns these fields)",
                {"fields": sorted(result.ignored)},
            )
        )
    ctx = EventContext(record.source_time, correlation_id, record.mapping_version)
    if record.entity == "customer" and merged and config.policies:
        fold_rebate_bases(entity_id, merged, _Reader(states, out), config, ctx, out)
    handler = _HANDLERS.get(record.entity)
    if handler is not None and result.changed:  # nothing changed: no trigger can have a new answer
        handler(result, record, entity_id, _Reader(states, out), config, ctx, out)
    out.puts[key] = result.item
    return out


class _Reader:
    """Reads state as this run has already changed it; demands keys that were not read."""

    def __init__(self, states: States, out: Outcome):
        self.states, self.out = states, out

    def require(self, keys: list[StateKey]) -> None:
        missing = [k for k in dict.fromkeys(keys) if k not in self.states]
        if missing:
            raise StateKeysMissing(missing)

    def get(self, key: StateKey) -> dict[str, Any] | None:
        return self.out.puts[key] if key in self.out.puts else self.states.get(key)


# --------------------------------------------------------------------------- customers


def _customer(
    result: MergeResult, record: CanonicalRecord, entity_id: str, reader: _Reader, config: TriggerConfig, ctx: EventContext, out: Outcome
) -> None:
    events, notes = grade.evaluate(result, record, entity_id, config.grade, ctx)
    out.events += events
    out.notes += notes


# --------------------------------------------------------------------------- orders


def _order(
    result: MergeResult, record: CanonicalRecord, entity_id: str, reader: _Reader, config: TriggerConfig, ctx: EventContext, out: Outcome
) -> None:
    fields, before = result.item["fields"], result.before
    facts = order_facts(entity_id, fields, result.item["first_seen"])
    old_customer = before.get("customer_id")
    evaluate = bool({"lines", "total"} & result.changed.keys())
    source = _named(record, "customer_id")
    new_rebate = _sale_keys(facts.customer_id, fields.get("placed_at"), config, "sell_in", source)
    old_rebate = _sale_keys(old_customer, before.get("placed_at"), config, "sell_in", source if old_customer == facts.customer_id else None)
    needed = list(new_rebate.values()) + list(old_rebate.values())
    if facts.customer_id:
        needed += [orders_key(facts.customer_id), golden_key("customer", facts.customer_id)]
    if old_customer and old_customer != facts.customer_id:
        needed.append(orders_key(old_customer))
    if evaluate:
        needed += [golden_key("product", sku) for sku in _skus(fields)]
    reader.require(needed)

    history_item = reader.get(orders_key(facts.customer_id)) if facts.customer_id else None
    if evaluate:
        _anomalies(result, facts, history_item, reader, config, ctx, out)
    anomaly = config.order_anomaly
    if old_customer and old_customer != facts.customer_id:
        out.puts[orders_key(old_customer)] = without_order(reader.get(orders_key(old_customer)), entity_id) or {}
    if facts.customer_id:
        out.puts[orders_key(facts.customer_id)] = with_order(
            history_item, facts.customer_id, facts, anomaly.history_limit, anomaly.credit_limit_exceeded.closed_statuses
        )

    def sell_in(policy: RebatePolicy) -> Decimal:
        return Decimal(0) if facts.status == "cancelled" else rebate.contribution(fields, policy)

    _rebate_contributions(f"order#{entity_id}", old_rebate, new_rebate, sell_in, reader, config, ctx, out)


def _anomalies(
    result: MergeResult,
    facts: OrderFacts,
    history_item: dict[str, Any] | None,
    reader: _Reader,
    config: TriggerConfig,
    ctx: EventContext,
    out: Outcome,
) -> None:
    customer = (reader.get(golden_key("customer", facts.customer_id)) or {}).get("fields") if facts.customer_id else None
    products = {sku: (reader.get(golden_key("product", sku)) or {}).get("fields") for sku in _skus(result.item["fields"])}
    floors = {sku: (p or {}).get("floor_price") for sku, p in products.items()}
    credit_limit = (customer or {}).get("credit_limit")
    history = (history_item or {}).get("orders", {}) if facts.customer_id else {}
    found = builtin_findings(facts, history, floors, credit_limit, config.order_anomaly)
    out.notes += [note for note in [amount_spike_not_judged(facts, history, config.order_anomaly)] if note]
    order_view = {**result.item["fields"], "total": facts.total}
    found += custom_rules.findings(config.custom_rules, order_view, customer, products)
    fired = result.item["fired"]
    for finding in found:
        marker = f"anomaly:{finding.rule}"
        if marker in fired:
            continue  # one event per (order, rule), ever
        fired.append(marker)
        out.events.append(_anomaly_event(finding, facts, ctx))


def _anomaly_event(finding: Finding, facts: OrderFacts, ctx: EventContext) -> CloudEvent:
    data: dict[str, Any] = {
        "order_id": facts.order_id,
        "customer_id": facts.customer_id,
        "rule": finding.rule,
        "reason": finding.reason,
        "evidence": finding.evidence,
    }
    if finding.severity:
        data["severity"] = finding.severity
    return ctx.event(finding.event_type, (facts.order_id, finding.rule), facts.order_id, data)


# --------------------------------------------------------------------------- rebates


def _pos_sale(
    result: MergeResult, record: CanonicalRecord, entity_id: str, reader: _Reader, config: TriggerConfig, ctx: EventContext, out: Outcome
) -> None:
    fields, before = result.item["fields"], result.before
    source = _named(record, "distributor_id")
    new = _sale_keys(fields.get("distributor_id"), fields.get("sold_at"), config, "sell_through", source)
    same = before.get("distributor_id") == fields.get("distributor_id")
    old = _sale_keys(before.get("distributor_id"), before.get("sold_at"), config, "sell_through", source if same else None)
    reader.require(list(new.values()) + list(old.values()))
    _rebate_contributions(f"pos_sale#{entity_id}", old, new, lambda p: rebate.contribution(fields, p), reader, config, ctx, out)


def _rebate_contributions(
    ref: str,
    old: dict[str, StateKey],
    new: dict[str, StateKey],
    amount: Callable[[RebatePolicy], Decimal],
    reader: _Reader,
    config: TriggerConfig,
    ctx: EventContext,
    out: Outcome,
) -> None:
    """Replace this sale's contribution in each policy's basis (moving it if its period/distributor changed)."""
    for policy in config.policies:
        old_key, new_key = old.get(policy.name), new.get(policy.name)
        stored = reader.get(old_key) if old_key and old_key != new_key else None
        if old_key and stored:
            contributions = {k: v for k, v in stored.get("contributions", {}).items() if k != ref}
            _store_basis(old_key, {**stored, "contributions": contributions}, policy, ctx, out)
        if new_key:
            item = reader.get(new_key) or _empty(new_key, policy)
            contributions = {**item.get("contributions", {}), ref: amount(policy)}
            _store_basis(new_key, {**item, "contributions": contributions}, policy, ctx, out)


def _rebate_settlement(
    result: MergeResult, record: CanonicalRecord, entity_id: str, reader: _Reader, config: TriggerConfig, ctx: EventContext, out: Outcome
) -> None:
    fields, before = result.item["fields"], result.before
    new_key, old_key = _settlement_key(fields), _settlement_key(before)
    reader.require([k for k in (new_key, old_key) if k])
    policy = config.policy(fields.get("policy"))
    stored = reader.get(old_key) if old_key and old_key != new_key else None
    if old_key and stored:
        old_policy = config.policy(before.get("policy"))
        item = {k: v for k, v in stored.items() if k != "settlement"}
        if old_policy:
            _store_basis(old_key, item, old_policy, ctx, out)
    if new_key is None or policy is None:
        out.notes.append(
            AuditNote(
                "rebate_not_checked",
                "settlement lacks a distributor, period or declared policy",
                {"policy": fields.get("policy"), "period": fields.get("period"), "distributor_id": fields.get("distributor_id")},
            )
        )
        return
    item = reader.get(new_key) or _empty(new_key, policy)
    settlement = {"id": entity_id, "amount": fields.get("settled_amount")}
    _store_basis(new_key, {**item, "settlement": settlement}, policy, ctx, out)


REBATE_PERIODS_FOLDED = 3  # on a distributor merge: the record's month and the two before it (settled after month end)


def fold_rebate_bases(
    survivor: str, merged: tuple[str, ...], reader: _Reader, config: TriggerConfig, ctx: EventContext, out: Outcome
) -> None:
    """Distributors found to be one settle as one: each merged id's recent bases join the survivor's, sale by sale.

    Contributions are keyed by sale, so a sale counted under both ids counts once. The survivor's
    basis is evaluated again (a deviation may open or resolve); the merged id's basis is emptied and
    says where its sales went.
    """
    pairs = [
        (rebate_basis_key(old, period, p.name), rebate_basis_key(survivor, period, p.name), p)
        for p in config.policies
        for period in _recent_periods(rebate.period_of(ctx.time, p.timezone), REBATE_PERIODS_FOLDED)
        for old in merged
    ]
    reader.require([k for old_key, new_key, _ in pairs for k in (old_key, new_key)])
    for old_key, new_key, policy in pairs:
        folded = reader.get(old_key)
        if not folded or not (folded.get("contributions") or folded.get("settlement")):
            continue
        item = reader.get(new_key) or _empty(new_key, policy)
        contributions = {**folded.get("contributions", {}), **item.get("contributions", {})}
        joined = {**item, "contributions": contributions}
        if "settlement" not in joined and folded.get("settlement"):
            joined["settlement"] = folded["settlement"]
        _store_basis(new_key, joined, policy, ctx, out)
        distributor, period, name = old_key.parts
        out.puts[old_key] = {**rebate.empty_item(distributor, period, name), "merged_into": survivor}


def rebate_bases_of_merge(survivor: str, merged: tuple[str, ...], states: States, config: TriggerConfig, ctx: EventContext) -> Outcome:
    """The same fold for a merge no record brought (an operator's): raises StateKeysMissing for bases not read."""
    out = Outcome()
    if merged and config.policies:
        fold_rebate_bases(survivor, merged, _Reader(states, out), config, ctx, out)
    return out


def _recent_periods(period: str, count: int) -> list[str]:
    year, month = (int(part) for part in period.split("-"))
    periods = []
    for _ in range(count):
        periods.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return periods


def _store_basis(key: StateKey, item: dict[str, Any], policy: RebatePolicy, ctx: EventContext, out: Outcome) -> None:
    item, events = rebate.evaluate(item, policy, ctx)
    out.puts[key] = item
    out.events += events


def _empty(key: StateKey, policy: RebatePolicy) -> dict[str, Any]:
    distributor, period, _ = key.parts
    return rebate.empty_item(distributor, period, policy.name)


# --------------------------------------------------------------------------- keys


def _skus(fields: dict[str, Any]) -> list[str]:
    lines = fields.get("lines") or []
    return list(dict.fromkeys(str(line["sku"]) for line in lines if isinstance(line, dict) and line.get("sku")))


def _named(record: CanonicalRecord, reference: str) -> tuple[str, str] | None:
    """(system, code) of the source record a reference names: what policies may list distributors by."""
    ref = record.references.get(reference)
    return (ref.system, str(ref.id)) if ref is not None else None


def _sale_keys(
    distributor_id: str | None, moment: Any, config: TriggerConfig, basis: str, source: tuple[str, str] | None = None
) -> dict[str, StateKey]:
    """policy name -> basis key, for each policy of this basis that covers the distributor."""
    if not distributor_id or moment is None:
        return {}
    return {
        p.name: rebate_basis_key(distributor_id, rebate.period_of(moment, p.timezone), p.name)
        for p in config.policies
        if p.basis == basis and p.covers_distributor(distributor_id, source)
    }


def _settlement_key(fields: dict[str, Any]) -> StateKey | None:
    distributor, period, policy = fields.get("distributor_id"), fields.get("period"), fields.get("policy")
    if not (distributor and period and policy):
        return None
    return rebate_basis_key(distributor, period, policy)


_HANDLERS: dict[str, Callable[..., None]] = {
    "customer": _customer,
    "order": _order,
    "pos_sale": _pos_sale,
    "rebate_settlement": _rebate_settlement,
}
