"""Consent registry, per-customer data-usage report and erasure (SPEC §4)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.api.errors import bad_request, not_found
from chalicelib.api.requests import ConsentChange
from chalicelib.configuration import Configuration
from chalicelib.domain import consent
from chalicelib.domain.erasure import Masker, Subject, subject_of
from chalicelib.domain.golden import member_keys
from chalicelib.domain.state import consent_key, golden_key
from chalicelib.errors import ApiError, ConflictError
from chalicelib.runtime.settings import Settings
from chalicelib.store import audit, erasure, keys
from chalicelib.store.audit import AuditEntry
from chalicelib.store.dynamo_store import DynamoStore
from chalicelib.store.port import ChainAppend, Plan, Snapshot

CATEGORIES = consent.DATA_CATEGORIES


def _customer_id(entity_key: str) -> str:
    kind, _, ident = entity_key.partition("#")
    if kind != "customer" or not ident:
        raise bad_request("consent, usage and erasure are per customer: entity=customer#cus_… or source=<connector>/customer/<id>")
    return ident


def get_consent(config: Configuration, settings: Settings, entity_key: str) -> dict[str, Any]:
    customer_id = _customer_id(entity_key)
    key = consent_key(customer_id)
    item = DynamoStore(settings).read([key]).states[key] or {}
    categories = item.get("categories") or {}
    default = {c: {"status": "not_granted" if c in config.consent_opt_in else "granted", "default": True} for c in CATEGORIES}
    return {"customer": entity_key, "categories": {c: categories.get(c, default[c]) for c in CATEGORIES}}


def set_consent(config: Configuration, settings: Settings, entity_key: str, change: ConsentChange, actor: str) -> dict[str, Any]:
    """Grant or revoke one category, effective at once.

    A revocation also removes the stored golden values of that category (the fields the
    customer mappings declare in it), in the same commit, audited on both chains.
    """
    customer_id = _customer_id(entity_key)
    category, status, purpose = change.category, change.status, change.purpose
    store = DynamoStore(settings)
    key, golden = consent_key(customer_id), golden_key("customer", customer_id)
    purge = _fields_in(config, category) if status == "revoked" else set()
    for _ in range(5):
        snapshot = store.read([key, golden] if purge else [key])
        updated = consent.updated_item(snapshot.states[key], customer_id, category, status, actor, purpose)
        entry = AuditEntry(
            action=f"consent_{status}",
            actor=actor,
            correlation_id=keys.consent_chain(customer_id),
            details={"category": category, "purpose": purpose},
        )
        plan = Plan(snapshot, puts={key: updated}, audit=[ChainAppend(keys.consent_chain(customer_id), [entry])])
        stored = snapshot.states.get(golden)
        held = set((stored or {}).get("fields", {})) | {
            f for m in ((stored or {}).get("sources") or {}).values() for f in m.get("fields", {})
        }
        removed = sorted(purge & held)
        if stored and removed:
            fields = {k: v for k, v in stored["fields"].items() if k not in removed}
            provenance = {k: v for k, v in (stored.get("provenance") or {}).items() if k not in removed}
            sources = {
                name: {**member, "fields": {k: v for k, v in member.get("fields", {}).items() if k not in removed}}
                for name, member in (stored.get("sources") or {}).items()
            }
            plan.puts[golden] = dict(stored, fields=fields, provenance=provenance, sources=sources)
            purge_entry = AuditEntry(
                action="consent_purged",
                actor=actor,
                correlation_id=keys.consent_chain(customer_id),
                details={"category": category, "fields": removed},
            )
            plan.audit.append(ChainAppend(entity_key, [purge_entry]))
        try:
            store.commit(plan)
        except ConflictError:
            continue
        return get_consent(config, settings, entity_key) | {"purged_fields": removed}
    raise ApiError(409, "conflict", "the consent record kept changing; try again")


def _fields_in(config: Any, category: str) -> set[str]:
    return {name for m in config.mappings.mappings.values() if m.entity == "customer" for name, c in m.categories.items() if c == category}


def usage_report(settings: Settings, entity_key: str, config: Configuration | None = None) -> dict[str, Any]:
    """How often was this customer's data used, for what, by which mapping, rule and target.

    With the configuration, ``categories`` also names each data category's uses in the last
    90 days; without it only the categories the audit entries carry (the personal ones) are known.
    """
    customer_id = _customer_id(entity_key)
    entries = audit.read_chain(settings.audit_table, entity_key) + audit.read_chain(settings.audit_table, keys.consent_chain(customer_id))
    views = [audit.entry_view(i) for i in entries]
    erasures = _erasures(settings, customer_id, config)
    by_action = Counter(v["action"] for v in views)
    by_mapping = Counter(
        f"{v.get('mapping')}@{v.get('mapping_version')}" for v in views if v["action"] in ("applied", "replayed") and v.get("mapping")
    )
    by_connector = Counter(v.get("connector") for v in views if v["action"] in ("received", "replayed") and v.get("connector"))
    fired = [v["details"] for v in views if v["action"] == "trigger_fired"]
    by_rule = Counter(f"{d.get('type')}" for d in fired)
    dropped = Counter(cat for v in views if v["action"] == "consent_dropped" for cat in (v.get("details", {}).get("fields") or {}).values())
    deliveries: Counter[str] = Counter()
    for d in fired:
        for item in audit.read_chain(settings.audit_table, keys.event_chain(str(d.get("event_id")))):
            view = audit.entry_view(item)
            if view["action"] == "delivered":
                deliveries[view["details"].get("target")] += 1
    return {
        "customer": entity_key,
        "uses": by_action.get("applied", 0) + by_action.get("replayed", 0),
        "by_action": dict(by_action),
        "by_mapping": dict(by_mapping),
        "by_connector": dict(by_connector),
        "events_fired": dict(by_rule),
        "events_delivered_to": dict(deliveries),
        "fields_dropped_for_lack_of_consent": dict(dropped),
        "first": views[0]["at"] if views else None,
        "last": max((v["at"] for v in views), default=None),
        "categories": usage_by_category(views, config),
        "erasures": erasures,
    }


def _erasures(settings: Settings, customer_id: str, config: Configuration | None) -> list[dict[str, Any]]:
    """The customer's past erasures (found by the masked subject: the configuration's key is needed): when, by whom, what went where."""
    if config is None:
        return []
    masked = audit.mask(customer_id, config.pii_key) or ""
    tombstones = [audit.entry_view(i) for i in audit.read_correlation(settings.audit_table, keys.erasure_correlation(masked))]
    erased = [v for v in tombstones if v["action"] == "erased"]
    return [{"at": v["at"], "actor": v["actor"], "removed": v.get("details", {}).get("removed", {})} for v in erased]


USAGE_WINDOW_DAYS = 90


def usage_by_category(views: list[dict[str, Any]], config: Any = None, now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Per data category, over the last 90 days: how often the customer's data of it was used, why and from where.

    A use is a record applied (or replayed) that stored or changed a field of the category; its
    purposes are keeping the master record (``master_data``, by the mapping rule file:line that made
    the field) and every event a trigger fired on that change (``event:<type>``, by that rule).
    """
    since = ((now or datetime.now(UTC)) - timedelta(days=USAGE_WINDOW_DAYS)).isoformat()
    recent = [v for v in views if str(v.get("at", "")) >= since]
    fired: dict[str, list[str]] = {}
    for v in recent:
        if v["action"] == "trigger_fired":
            fired.setdefault(str(v.get("correlation_id")), []).append(str(v.get("details", {}).get("type")))
    report: dict[str, dict[str, Any]] = {c: _empty_usage() for c in CATEGORIES}
    for v in recent:
        if v["action"] == "consent_dropped":
            for category in (v.get("details", {}).get("fields") or {}).values():
                if category in report:
                    report[category]["dropped"] += 1
        if v["action"] not in ("applied", "replayed") or not v.get("changes"):
            continue
        touched: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for name, change in v["changes"].items():
            category = change.get("category") or _category_of(config, v.get("mapping"), name)
            if category in report:
                touched.setdefault(category, []).append((name, change))
        for category, changes in touched.items():
            usage = report[category]
            usage["uses"] += 1
            usage["last_used"] = max(usage["last_used"] or "", str(v["at"]))
            usage["purposes"]["master_data"] = usage["purposes"].get("master_data", 0) + 1
            for name, change in changes:
                usage["fields"] = sorted(set(usage["fields"]) | {name})
                rule = change.get("rule") or v.get("mapping")
                if rule:
                    usage["rules"][rule] = usage["rules"].get(rule, 0) + 1
            if v.get("connector"):
                usage["systems"][v["connector"]] = usage["systems"].get(v["connector"], 0) + 1
            for event_type in fired.get(str(v.get("correlation_id")), []):
                usage["purposes"][f"event:{event_type}"] = usage["purposes"].get(f"event:{event_type}", 0) + 1
                usage["rules"][event_type] = usage["rules"].get(event_type, 0) + 1
    return report


def _empty_usage() -> dict[str, Any]:
    return {"uses": 0, "last_used": None, "fields": [], "purposes": {}, "rules": {}, "systems": {}, "dropped": 0}


def _category_of(config: Any, mapping: str | None, field: str) -> str | None:
    if config is None or not mapping:
        return None
    compiled = config.mappings.mappings.get(mapping)
    return compiled.categories.get(field) if compiled is not None else None


IDENTIFIER_KINDS = ("email", "phone", "tax_id", "name")


def identifiers_of(body: Any) -> list[tuple[str, str]]:
    """The request's extra identifiers (``{"email": ["a@b.example"], ...}``): values the golden record no longer holds."""
    if body is None:
        return []
    problem = f"identifiers must map {', '.join(IDENTIFIER_KINDS)} to lists of at most 20 texts of at most 200 characters"
    if not isinstance(body, dict) or not set(body) <= set(IDENTIFIER_KINDS):
        raise bad_request(problem)
    found: list[tuple[str, str]] = []
    for kind, values in body.items():
        if not isinstance(values, list) or len(values) > 20 or not all(isinstance(v, str) and 0 < len(v) <= 200 for v in values):
            raise bad_request(problem)
        found += [(kind, v) for v in values]
    return found


ERASE_MARGIN_SECONDS = 8.0  # a request starts no further page of the sweep with less time than this left


def erase(
    settings: Settings,
    entity_key: str,
    actor: str,
    pii_key: bytes,
    identifiers: list[tuple[str, str]] | None = None,
    seconds_left: Callable[[], float] = lambda: math.inf,
) -> dict[str, Any]:
    """Delete or mask every stored copy that names the customer; keep only a masked tombstone in the audit.

    The tombstone is a one-entry chain named by the masked subject (``erasure#masked:…#<at>``):
    nothing left names the customer's id, and if a source sends the customer again, its
    entity chain starts afresh.

    The customer is looked for by its golden id and the ids merged into it, every member's
    source record id, and its e-mail, phone, tax id and name, with any ``identifiers`` the
    request adds (a value a consent revocation already removed from the golden record is
    still in raw inputs kept for replay) (docs/sovereignty.md). The
    tombstone records what was removed where (counts per table and kind), how many of the
    customer's own audit entries went and the hash of the last one, and nothing about the person.

    The sweep reads every table, which on a large deployment takes longer than one request may
    run: it stops while ``seconds_left()`` allows an orderly end, saves where it stands, and
    answers ``"complete": false``; the same request again resumes it. Identifiers a later
    request adds start the sweep over, so every table is searched for them too.
    """
    customer_id = _customer_id(entity_key)
    store = DynamoStore(settings)
    golden, registry = golden_key("customer", customer_id), consent_key(customer_id)
    job_key = keys.erasure_job(customer_id)
    job = erasure.load_job(settings.state_table, job_key)
    snapshot = store.read([golden, registry])
    stored = snapshot.states[golden]
    if job is None:
        if stored is None and snapshot.states[registry] is None:
            raise not_found(f"nothing stored for {entity_key}")
        job = erasure.Job(job_key, actor, datetime.now(UTC).isoformat(), [], _last_hash(settings, entity_key))
        job.versions = erasure.customer_versions(settings.state_table, job_key)
    added = [i for i in identifiers or [] if i not in job.identifiers]
    if added:
        job.identifiers += added
        if job.progress.table or job.progress.cursor:  # a pass under way: every table again, for these too
            job.progress = erasure.Progress(removal=job.progress.removal, deferred=job.progress.deferred)
            job.versions = erasure.customer_versions(settings.state_table, job_key)
    masked = audit.mask(customer_id, pii_key) or ""
    named = subject(masked, customer_id, stored, job.identifiers)
    try:
        erasure.save_job(settings.state_table, job)  # claims the erasure: a concurrent request for it gets 409
        progress = erasure.sweep(
            settings,
            Masker(named),
            last=[keys.state(golden), keys.state(registry)],
            progress=job.progress,
            keep=frozenset({job_key}),
            go_on=lambda: seconds_left() > ERASE_MARGIN_SECONDS,
            saved=lambda _: erasure.save_job(settings.state_table, job),
            remove_last=lambda: _remove_if_unchanged(settings, entity_key, job, [keys.state(golden), keys.state(registry)]),
        )
    except ConflictError as exc:
        raise ApiError(409, "conflict", f"{exc}: the customer's record is kept until the sweep completes; erase again") from exc
    if not progress.done:
        started_over = progress.table == 0 and progress.cursor is None
        return {
            "erasing": entity_key,
            "complete": False,
            "swept": progress.swept,
            "scanned": dict(progress.removal.scanned),
            "started_over": started_over,
            "message": (
                "records were applied to the customer during the sweep: it goes over every table again when this request is sent again"
                if started_over
                else "the sweep continues where it stopped when this request is sent again"
            ),
        }
    return _finish(store, settings, entity_key, masked, job)


def _remove_if_unchanged(settings: Settings, entity_key: str, job: erasure.Job, own: list[tuple[str, str]]) -> bool:
    """The customer's golden and consent items go if nothing was applied to the customer since the pass began.

    Otherwise the pass goes again from the versions and chain end of now: the record applied may
    have left its raw input and audit entries in tables already swept.
    """
    if erasure.delete_if_unchanged(settings.state_table, job.key, own, job.versions):
        return True
    job.versions = erasure.customer_versions(settings.state_table, job.key)
    job.last_hash = _last_hash(settings, entity_key) or job.last_hash
    return False


def _last_hash(settings: Settings, entity_key: str) -> str | None:
    """The hash of the last entry of the customer's own chain (None: it has none)."""
    own_chain = audit.read_chain(settings.audit_table, entity_key)
    return str(own_chain[-1]["hash"]) if own_chain else None


def _finish(store: DynamoStore, settings: Settings, entity_key: str, masked: str, job: erasure.Job) -> dict[str, Any]:
    """The tombstone, then the saved progress goes; a request that failed in between finds its tombstone written.

    The tombstone is dated when the erasure started (the job keeps that time), so every request
    that finishes it names the same chain.
    """
    removal = job.progress.removal
    removed = removal.report()
    at = datetime.fromisoformat(job.started_at)
    tombstone = AuditEntry(
        action="erased",
        actor=job.actor,
        correlation_id=keys.erasure_correlation(masked),
        details={
            "subject": masked,
            "entries_removed": removal.total("audit", "deleted"),
            "last_hash": job.last_hash,
            "removed": removed,
            "at": at.isoformat(),
        },
        at=at,
    )
    chain = keys.erasure_chain(masked, at.isoformat(timespec="microseconds"))
    try:
        store.commit(Plan(Snapshot(), audit=[ChainAppend(chain, [tombstone], headless=True)]))
    except ConflictError:
        pass  # written by the request that stopped before removing the job
    erasure.drop_job(settings.state_table, job)
    return {
        "erased": entity_key,
        "complete": True,
        "subject": masked,
        "tombstone": chain,
        "state_items_removed": removal.total("state", "deleted"),
        "audit_entries_removed": removal.total("audit", "deleted"),
        "removed": removed,
    }


def subject(token: str, customer_id: str, golden: dict[str, Any] | None, identifiers: list[tuple[str, str]]) -> Subject:
    """Everything that names the customer: its ids, its members' source ids, and their identifying values."""
    golden = golden or {}
    members = list((golden.get("sources") or {}).values())
    values: list[tuple[str, Any]] = list(identifiers)
    values += [(name, value) for name, value in (golden.get("fields") or {}).items()]
    values += [(name, value) for m in members for name, value in (m.get("fields") or {}).items()]
    return subject_of(
        token,
        golden_ids=[customer_id, *[str(a) for a in golden.get("aliases", [])]],
        source_ids=[str(m["record_id"]) for m in members if m.get("record_id")],
        values=values,
        match_keys=sorted(member_keys(golden)),
    )
