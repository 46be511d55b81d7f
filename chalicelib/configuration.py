"""Load connectors/ and mappings/ once per container, check everything, fail with every problem.

Each YAML file declares its ``kind``; this module only routes documents to the
module that owns that kind and collects all problems from all files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.config.problems import ConfigError, Problem
from chalicelib.config.yaml_lines import LocatedDict, load_yaml_file

MAPPING_KINDS = ("mapping", "grade_scale")
CONSENT_KINDS = ("consent_policy",)
TRIGGER_KINDS = ("triggers", "rebate_policy")
CONNECTOR_KINDS = ("connector", "subscribers")


@dataclass
class Configuration:
    connectors: dict[str, Any]
    mappings: Any  # chalicelib.mapping.MappingSet
    triggers: Any  # chalicelib.triggers.config.TriggerConfig
    root: Path
    subscribers: Any = None  # chalicelib.dispatch.subscribers.Subscribers
    consent_opt_in: tuple[str, ...] = ("meeting_recording", "trial_behaviour")
    pii_key: bytes = b"salesbridge-local-pii-key"
    versions: dict[str, str] = field(default_factory=dict)


Document = tuple[str, LocatedDict]


def read_documents(root: Path, folder: str) -> tuple[list[Document], list[Problem]]:
    docs: list[Document] = []
    problems: list[Problem] = []
    base = root / folder
    if not base.is_dir():
        return docs, [Problem(folder, 1, 1, "", f"folder {base} not found")]
    for path in sorted(list(base.rglob("*.yaml")) + list(base.rglob("*.yml"))):
        name = str(path.relative_to(root))
        try:
            doc = load_yaml_file(path, name)
        except ConfigError as exc:
            problems += exc.problems
            continue
        if not isinstance(doc, LocatedDict):
            problems.append(Problem(name, 1, 1, "", "expected a mapping at the top of the file"))
            continue
        if "kind" not in doc:
            problems.append(
                Problem(
                    name, *doc.position, "kind", f"missing 'kind' (one of: {', '.join(MAPPING_KINDS + TRIGGER_KINDS + CONNECTOR_KINDS)})"
                )
            )
            continue
        docs.append((name, doc))
    return docs, problems


def _of_kind(docs: list[Document], kinds: tuple[str, ...]) -> list[Document]:
    return [(n, d) for n, d in docs if d.get("kind") in kinds]


def load_configuration(root: Path) -> Configuration:
    from chalicelib.connectors.definition import load_connectors
    from chalicelib.dispatch.subscribers import load_subscribers
    from chalicelib.mapping import compile_documents
    from chalicelib.triggers.config import load_trigger_config

    connector_docs, problems = read_documents(root, "connectors")
    mapping_docs, more = read_documents(root, "mappings")
    problems += more
    known = MAPPING_KINDS + TRIGGER_KINDS + CONNECTOR_KINDS + CONSENT_KINDS
    for name, doc in connector_docs + mapping_docs:
        if doc.get("kind") not in known:
            problems.append(
                Problem(name, *doc.where_value("kind"), "kind", f"unknown kind {doc.get('kind')!r}; expected one of: {', '.join(known)}")
            )
    connectors = mappings = triggers = None
    try:
        connectors = load_connectors(_of_kind(connector_docs, ("connector",)))
    except ConfigError as exc:
        problems += exc.problems
    try:
        mappings = compile_documents(_of_kind(mapping_docs, MAPPING_KINDS))
    except ConfigError as exc:
        problems += exc.problems
    try:
        triggers = load_trigger_config(_of_kind(mapping_docs, TRIGGER_KINDS + ("grade_scale",)))
    except ConfigError as exc:
        problems += exc.problems
    subscribers, found = load_subscribers(_of_kind(connector_docs, ("subscribers",)))
    problems += found
    opt_in, found = _consent_policy(_of_kind(mapping_docs, CONSENT_KINDS))
    problems += found
    if problems:
        raise ConfigError(problems)
    versions = {name: m.version for name, m in mappings.mappings.items()}
    versions["_configuration"] = _fingerprint(root, connector_docs + mapping_docs)
    return Configuration(
        connectors=connectors,
        mappings=mappings,
        triggers=triggers,
        subscribers=subscribers,
        consent_opt_in=opt_in,
        root=root,
        versions=versions,
    )


def _consent_policy(docs: list[Document]) -> tuple[tuple[str, ...], list[Problem]]:
    """`kind: consent_policy` — which data categories need an explicit grant (opt-in)."""
    from chalicelib.domain.consent import DEFAULT_OPT_IN
    from chalicelib.mapping.spec import DATA_CATEGORIES as CATEGORIES  # not api.sovereignty: it imports boto3

    if not docs:
        return DEFAULT_OPT_IN, []
    problems = [Problem(n, *d.position, "kind", "only one consent_policy file is allowed") for n, d in docs[1:]]
    name, doc = docs[0]
    problems += [Problem(name, *doc.where(k), str(k), "unknown key; expected: kind, opt_in") for k in doc if k not in ("kind", "opt_in")]
    opt_in = doc.get("opt_in", [])
    if not isinstance(opt_in, list):
        return DEFAULT_OPT_IN, problems + [Problem(name, *doc.where_value("opt_in"), "opt_in", "expected a list of data categories")]
    for index, category in enumerate(opt_in):
        if category not in CATEGORIES:
            problems.append(
                Problem(
                    name, *opt_in.where(index), f"opt_in[{index}]", f"unknown data category {category!r}; one of: {', '.join(CATEGORIES)}"
                )
            )
    return tuple(opt_in), problems


def _fingerprint(root: Path, docs: list[Document]) -> str:
    h = hashlib.sha256()
    for name, _ in docs:
        h.update(name.encode())
        h.update((root / name).read_bytes())
    return h.hexdigest()[:12]


_current: dict[str, Any] = {}
LOCAL_RECHECK_SECONDS = 1.0


def current() -> Configuration:
    """The configuration of this container (loaded on first use, then reused).

    On the local stack the files are re-checked about once a second and reloaded
    when they change, so an edited mapping takes effect without a restart (and the
    quarantined records kept in the running stand-in can be replayed through it).
    """
    import time

    from chalicelib.runtime.settings import get_settings

    settings = get_settings()
    cached = _current.get("config")
    if cached is not None and (settings.stage != "local" or time.monotonic() - _current["checked"] < LOCAL_RECHECK_SECONDS):
        return cached
    signature = _signature(settings.config_dir) if settings.stage == "local" else None
    _current["checked"] = time.monotonic()
    if cached is not None and signature == _current.get("signature"):
        return cached
    try:
        config = load_configuration(settings.config_dir)
    except ConfigError as exc:
        if cached is None:
            raise
        import logging

        logging.getLogger("salesbridge.config").error("edited configuration not loaded, still running the previous one:\n%s", exc)
        _current["signature"] = signature
        return cached
    config.pii_key = _pii_key(settings.stage)
    _current.update(config=config, signature=signature)
    return config


def _signature(root: Path) -> tuple[tuple[str, int, int], ...]:
    files = [p for folder in ("connectors", "mappings") for p in (root / folder).rglob("*") if p.suffix in (".yaml", ".yml")]
    return tuple(sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files))


def _pii_key(stage: str) -> bytes:
    """The key of the masking hash. Only the local stack may fall back to a fixed key."""
    from chalicelib.runtime.settings import get_settings, resolve_ref_string

    try:
        return resolve_ref_string(get_settings().pii_key_ref).encode()
    except Exception:
        if stage == "local":
            return b"salesbridge-local-pii-key"
        raise


def reset() -> None:
    _current.clear()
