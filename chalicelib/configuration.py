"""The composition root: load connectors/ and mappings/ once per container, check everything at once.

Each YAML file declares its ``kind``; each feature owns the model of its kinds (connectors,
mappings, triggers, subscribers, consent policy). This module routes the documents to
their owners, collects every problem of every file, and assembles one typed
``Configuration`` that the pipeline, the door, dispatch, sync and the API read.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field

from chalicelib.config import parsed_cache
from chalicelib.config.documents import Document, of_kind, read_documents
from chalicelib.config.kinds import CONSENT_KINDS, IDENTITY_KINDS, KINDS, MAPPING_KINDS, RULE_KINDS, TRIGGER_KINDS
from chalicelib.config.models import StrictModel, validate
from chalicelib.config.problems import Problem
from chalicelib.connectors.definition import Connector, load_connectors
from chalicelib.dispatch.subscribers import DEFAULT, Subscribers, load_subscribers
from chalicelib.domain.consent import DEFAULT_OPT_IN, DataCategory
from chalicelib.domain.golden import Survivorship
from chalicelib.domain.identity import IdentityRules
from chalicelib.errors import ConfigError
from chalicelib.mapping import MappingSet, compile_documents
from chalicelib.masterdata.identity_config import load_identity
from chalicelib.masterdata.references import check_references, effective_owners
from chalicelib.rules.config import load_rules
from chalicelib.rules.model import EMPTY, RuleSet
from chalicelib.triggers.config import TriggerConfig, load_trigger_config

LOCAL_PII_KEY = b"salesbridge-local-pii-key"


@dataclass
class Configuration:
    connectors: dict[str, Connector]
    mappings: MappingSet
    triggers: TriggerConfig
    root: Path
    subscribers: Subscribers = DEFAULT
    consent_opt_in: tuple[DataCategory, ...] = DEFAULT_OPT_IN
    pii_key: bytes = LOCAL_PII_KEY
    versions: dict[str, str] = field(default_factory=dict)
    rules: RuleSet = EMPTY
    identity: IdentityRules = field(default_factory=IdentityRules)
    survivorship: Survivorship = field(default_factory=Survivorship)


class ConsentPolicyFile(StrictModel):
    """`kind: consent_policy`: which data categories need an explicit grant (opt-in)."""

    kind: Literal["consent_policy"]
    opt_in: list[DataCategory] = Field(default_factory=list)


def load_configuration(root: Path) -> Configuration:
    """Every file checked; raises ConfigError with every problem of every file."""
    connector_docs, problems = read_documents(root, "connectors", KINDS)
    mapping_docs, more = read_documents(root, "mappings", KINDS)
    problems += more
    for name, doc in connector_docs + mapping_docs:
        if doc.get("kind") not in KINDS:
            message = f"unknown kind {doc.get('kind')!r}; expected one of: {', '.join(KINDS)}"
            problems.append(Problem(name, *doc.where_value("kind"), "kind", message))
    connectors: dict[str, Connector] = {}
    try:
        connectors = load_connectors(of_kind(connector_docs, "connector"))
    except ConfigError as exc:
        problems += exc.problems
    mappings = triggers = None
    try:
        mappings = compile_documents(of_kind(mapping_docs, *MAPPING_KINDS), {c.name: c.system for c in connectors.values()})
    except ConfigError as exc:
        problems += exc.problems
    try:
        triggers = load_trigger_config(of_kind(mapping_docs, *TRIGGER_KINDS, "grade_scale"))
    except ConfigError as exc:
        problems += exc.problems
    subscribers, found = load_subscribers(of_kind(connector_docs, "subscribers"))
    problems += found
    opt_in, found = _consent_policy(of_kind(mapping_docs, *CONSENT_KINDS))
    problems += found
    systems = {c.system for c in connectors.values()}
    identity, preference, found = load_identity(of_kind(mapping_docs, *IDENTITY_KINDS), systems)
    problems += found + check_references(mapping_docs, connectors)
    rules = EMPTY
    try:
        rules = load_rules(of_kind(mapping_docs, *RULE_KINDS))
    except ConfigError as exc:
        problems += exc.problems
    problems += _action_connectors(rules, connectors)
    if problems or mappings is None or triggers is None:
        raise ConfigError(problems)
    versions = {name: m.version for name, m in mappings.mappings.items()}
    versions["_configuration"] = _fingerprint(root, connector_docs + mapping_docs)
    identity = IdentityRules(identity.keys, linked=mappings.linked_entities())
    survivorship = Survivorship(owners=effective_owners(triggers.owners, mappings), preference=preference)
    return Configuration(
        connectors,
        mappings,
        triggers,
        root,
        subscribers,
        opt_in,
        versions=versions,
        identity=identity,
        survivorship=survivorship,
        rules=rules,
    )


def _action_connectors(rules: RuleSet, connectors: dict[str, Connector]) -> list[Problem]:
    """An action that writes to a CRM needs that connector, of that type, with an ``api:`` section."""
    problems = []
    for action in rules.actions:
        if action.connector is None:
            continue
        connector = connectors.get(action.connector)
        where = (action.origin.file, action.origin.line, 5, f"actions.{action.name}.{action.kind}.connector")
        if connector is None:
            problems.append(Problem(*where, f"no connector named {action.connector!r} (connectors/{action.connector}.yaml)"))
        elif connector.api is None or connector.api.kind != action.kind:
            problems.append(
                Problem(
                    *where,
                    f"connector {action.connector!r} needs an api: section of type {action.kind} to write back (see {connector.file})",
                )
            )
    return problems


def grade_scale_documents(root: Path) -> list[Document]:
    """The grade scale and code list files, which an edited mapping is compiled against."""
    docs, _ = read_documents(root, "mappings", KINDS)
    return of_kind(docs, "grade_scale", "code_list")


def _consent_policy(docs: list[Document]) -> tuple[tuple[DataCategory, ...], list[Problem]]:
    if not docs:
        return DEFAULT_OPT_IN, []
    problems = [Problem(n, *d.position, "kind", "only one consent_policy file is allowed") for n, d in docs[1:]]
    name, doc = docs[0]
    policy, found = validate(ConsentPolicyFile, doc, name)
    return (tuple(policy.opt_in) if policy else DEFAULT_OPT_IN), problems + found


def _fingerprint(root: Path, docs: list[Document]) -> str:
    h = hashlib.sha256()
    for name, _ in docs:
        h.update(name.encode())
        h.update((root / name).read_bytes())
    return h.hexdigest()[:12]


@dataclass
class _Loaded:
    config: Configuration | None = None
    checked: float = 0.0
    signature: tuple[tuple[str, int, int], ...] | None = None


_loaded = _Loaded()
LOCAL_RECHECK_SECONDS = 1.0


def current() -> Configuration:
    """The configuration of this container (loaded on first use, then reused).

    On the local stack the files are re-checked about once a second and reloaded
    when they change, so an edited mapping takes effect without a restart (and the
    quarantined records kept in the running stand-in can be replayed through it).
    """
    from chalicelib.runtime.settings import get_settings

    settings = get_settings()
    cached = _loaded.config
    if cached is not None and (settings.stage != "local" or time.monotonic() - _loaded.checked < LOCAL_RECHECK_SECONDS):
        return cached
    signature = _signature(settings.config_dir) if settings.stage == "local" else None
    _loaded.checked = time.monotonic()
    if cached is not None and signature == _loaded.signature:
        return cached
    try:
        config = load_configuration(settings.config_dir)
    except ConfigError as exc:
        if cached is None:
            raise
        logging.getLogger("salesbridge.config").error("edited configuration not loaded, still running the previous one:\n%s", exc)
        _loaded.signature = signature
        return cached
    config.pii_key = _pii_key(settings.stage)
    _loaded.config, _loaded.signature = config, signature
    return config


def _signature(root: Path) -> tuple[tuple[str, int, int], ...]:
    files = [root / name for name in parsed_cache.configuration_files(root)]
    return tuple(sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files))


def _pii_key(stage: str) -> bytes:
    """The key of the masking hash. Only the local stack may fall back to a fixed key."""
    from chalicelib.runtime.settings import get_settings, resolve_ref_string

    try:
        return resolve_ref_string(get_settings().pii_key_ref).encode()
    except Exception:
        if stage == "local":
            return LOCAL_PII_KEY
        raise


def reset() -> None:
    global _loaded
    _loaded = _Loaded()
