"""Connector files (connectors/*.yaml): what system it is, how it calls us, how we call it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.config.problems import ConfigError, Problem
from chalicelib.config.yaml_lines import LocatedDict

TOP_LEVEL = ("kind", "name", "type", "system", "description", "webhook", "api", "streams")


@dataclass(frozen=True)
class Connector:
    name: str
    type: str
    system: str
    file: str
    webhook: Any = None  # chalicelib.ingress.webhook_config model
    api: Any = None  # chalicelib.connectors.api_config model
    streams: Any = None


def load_connectors(docs: list[tuple[str, LocatedDict]]) -> dict[str, Connector]:
    connectors: dict[str, Connector] = {}
    problems: list[Problem] = []
    for filename, doc in docs:
        connector, found = _one(filename, doc)
        problems += found
        if connector is None:
            continue
        if connector.name in connectors:
            problems.append(Problem(filename, *doc.where_value("name"), "name", f"connector {connector.name!r} is already defined in {connectors[connector.name].file}"))
            continue
        connectors[connector.name] = connector
    if problems:
        raise ConfigError(problems)
    return connectors


def _one(filename: str, doc: LocatedDict) -> tuple[Connector | None, list[Problem]]:
    problems = [Problem(filename, *doc.where(k), str(k), f"unknown key; expected one of: {', '.join(TOP_LEVEL)}") for k in doc if k not in TOP_LEVEL]
    name = doc.get("name")
    kind = doc.get("type")
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        problems.append(Problem(filename, *doc.where_value("name"), "name", "required: a name of letters, digits, '_' or '-'"))
    if not isinstance(kind, str):
        problems.append(Problem(filename, *doc.where_value("type"), "type", "required: the connector type (e.g. hubspot, salesforce, shopify, odoo, generic_json, generic_rest)"))
    webhook = api = streams = None
    if "webhook" in doc:
        from chalicelib.ingress.webhook_config import validate_webhook_section

        webhook, found = validate_webhook_section(doc["webhook"], filename)
        problems += found
    if "api" in doc or "streams" in doc:
        from chalicelib.connectors.api_config import validate_api_sections

        parsed, found = validate_api_sections(doc, filename)
        problems += found
        if parsed is not None:
            api, streams = parsed
    if problems:
        return None, problems
    system = doc.get("system") or name
    return Connector(name=name, type=kind, system=system, file=filename, webhook=webhook, api=api, streams=streams), []
