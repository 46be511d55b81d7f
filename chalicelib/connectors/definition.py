"""Connector files (connectors/*.yaml): what system it is, how it calls us, how we call it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from chalicelib.config.models import StrictModel, validate
from chalicelib.config.problems import Problem
from chalicelib.config.yaml_lines import LocatedDict, subset
from chalicelib.connectors.api_config import ApiSections, StreamConfig, validate_api_sections
from chalicelib.errors import ConfigError
from chalicelib.ingress.webhook_config import WebhookConfig, validate_webhook_section


class ConnectorHeader(StrictModel):
    """The top of a connector file; ``webhook:`` and ``api:``/``streams:`` are checked by their own models."""

    kind: Literal["connector"]
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$", description="How mappings and webhook URLs name this connector")
    type: str = Field(min_length=1, description="The connector type, e.g. hubspot, salesforce, shopify, odoo, generic_json, generic_rest")
    system: str | None = Field(None, description="The system of record's name in owners: and lineage (default: the name)")
    description: str | None = None
    webhook: Any = None
    api: Any = None
    streams: Any = None


@dataclass(frozen=True)
class Connector:
    name: str
    type: str
    system: str
    file: str
    webhook: WebhookConfig | None = None
    api: ApiSections | None = None
    streams: list[StreamConfig] | None = None


def load_connectors(docs: list[tuple[str, LocatedDict]]) -> dict[str, Connector]:
    connectors: dict[str, Connector] = {}
    problems: list[Problem] = []
    for filename, doc in docs:
        connector, found = _one(filename, doc)
        problems += found
        if connector is None:
            continue
        if connector.name in connectors:
            message = f"connector {connector.name!r} is already defined in {connectors[connector.name].file}"
            problems.append(Problem(filename, *doc.where_value("name"), "name", message))
            continue
        connectors[connector.name] = connector
    if problems:
        raise ConfigError(problems)
    return connectors


def _one(filename: str, doc: LocatedDict) -> tuple[Connector | None, list[Problem]]:
    header, problems = validate(ConnectorHeader, doc, filename)
    webhook = api = None
    if "webhook" in doc:
        webhook, found = validate_webhook_section(doc["webhook"], filename)
        problems += found
    if "api" in doc or "streams" in doc:
        api, found = validate_api_sections(_as_api_document(doc), filename)
        problems += found
    if header is None or problems:
        return None, problems
    return Connector(header.name, header.type, header.system or header.name, filename, webhook, api, api.streams if api else None), []


def _as_api_document(doc: LocatedDict) -> LocatedDict:
    """The API validator reads the connector type under ``kind``; ours is under ``type``."""
    view = subset(doc, ("name", "api", "streams"))
    view["kind"] = doc.get("type")
    view.key_positions["kind"] = doc.where("type")
    view.value_positions["kind"] = doc.where_value("type")
    return view
