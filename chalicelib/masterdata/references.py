"""Names that point across files: owner systems, same_as connectors, distributors by business key.

Each of these validates on its own and then silently matches nothing when a name is wrong
(``grade: CRM`` stops every grade event), so they are checked against the loaded
connectors once everything is read, and reported at file:line:column.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from chalicelib.config.documents import Document
from chalicelib.config.models import problem_at
from chalicelib.config.problems import Problem
from chalicelib.connectors.definition import Connector
from chalicelib.domain.identity import SAME_AS
from chalicelib.mapping import MappingSet
from chalicelib.triggers.config import distributor_problems

Path = tuple[str | int, ...]


def check_references(docs: list[Document], connectors: Mapping[str, Connector]) -> list[Problem]:
    """Every system and connector named in mappings, triggers and rebate policies exists."""
    if not connectors:
        return []  # a folder of mappings alone names systems it cannot know
    systems = {c.system for c in connectors.values()} | set(connectors)
    known = ", ".join(sorted(systems))
    problems = []
    for file, doc in docs:
        if doc.get("kind") == "rebate_policy":
            problems += distributor_problems(doc, file)
        for path, system in _systems_named(doc):
            if isinstance(system, str) and system not in systems:
                problems.append(problem_at(doc, file, path, f"unknown system {system!r}; the connectors are: {known}"))
        for path, connector in _connectors_named(doc):
            if isinstance(connector, str) and connector not in connectors:
                message = f"unknown connector {connector!r}; configured: {', '.join(sorted(connectors))}"
                problems.append(problem_at(doc, file, path, message))
    return problems


def _systems_named(doc: dict[str, Any]) -> Iterator[tuple[Path, Any]]:
    kind = doc.get("kind")
    if kind == "triggers":
        for entity, fields in _items(doc.get("owners")):
            for name, system in _items(fields):
                yield ("owners", entity, name), system
    elif kind == "mapping":
        if "owner" in doc:
            yield ("owner",), doc["owner"]
        for name, spec in _items(doc.get("fields")):
            if isinstance(spec, dict) and "owner" in spec:
                yield ("fields", name, "owner"), spec["owner"]
    elif kind == "rebate_policy":
        distributors = doc.get("distributors")
        for index, distributor in enumerate(distributors if isinstance(distributors, list) else []):
            if isinstance(distributor, dict) and "system" in distributor:
                yield ("distributors", index, "system"), distributor["system"]


def _connectors_named(doc: dict[str, Any]) -> Iterator[tuple[Path, Any]]:
    if doc.get("kind") != "mapping":
        return
    for name, spec in _items(doc.get("references")):
        if name == SAME_AS and isinstance(spec, dict) and "connector" in spec:
            yield ("references", name, "connector"), spec["connector"]


def _items(value: Any) -> list[tuple[str, Any]]:
    return [(str(k), v) for k, v in value.items()] if isinstance(value, dict) else []


def effective_owners(configured: Mapping[str, Mapping[str, str]], mappings: MappingSet) -> dict[str, dict[str, str]]:
    """The owner system of each field: triggers.yaml first, then the mappings' `owner:` claims.

    A field that mappings of two systems both claim has no owner (``""``): the survivorship
    preference, else the most recent value, decides — never the order records arrived in.
    """
    claims: dict[str, dict[str, set[str]]] = {}
    for mapping in mappings.mappings.values():
        for name, system in mapping.owners.items():
            claims.setdefault(mapping.entity, {}).setdefault(name, set()).add(system)
    owners = {entity: dict(fields) for entity, fields in configured.items()}
    for entity, fields in claims.items():
        explicit = owners.setdefault(entity, {})
        if "*" in explicit:
            continue
        for name, systems in fields.items():
            if name not in explicit:
                explicit[name] = next(iter(systems)) if len(systems) == 1 else ""
    return {entity: fields for entity, fields in owners.items() if fields}
