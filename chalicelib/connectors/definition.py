"""Connector files (connectors/*.yaml): what system it is, how it calls us, how we call it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.config.problems import Problem
from chalicelib.config.yaml_lines import LocatedDict
from chalicelib.errors import ConfigError

TOP_LEVEL = ("kind", "name", "type", "system", "description", "webhook", "api", "streams")


@dataclass(frozen=True)
class Connector:
    name: str
    type: str
    system: str
    file: str
    webhook: Any = None  # chalicelib.ingress.webhook_config model
    api: Any = None  # chalicelib.connectors.api_config.ApiSections (api + streams)
    streams: Any = None  # list of chalicelib.connectors.api_config.StreamConfig


def load_connectors(docs: list[tuple[str, LocatedDict]]) -> dict[str, Connector]:
    connectors: dict[str, Connector] = {}
    problems: list[Problem] = []
    for filename, doc in docs:
        connector, found = _one(filename, doc)
        problems += found
        if connector is None:
            continue
        if connector.name in connectors:
            problems.append(
                Problem(
                    filename,
                    *doc.where_value("name"),
                    "name",
                    f"connector {connector.name!r} is already defined in {connectors[connector.name].file}",
                )
            )
            continue
        connectors[connector.name] = connector
    if problems:
        raise ConfigError(problems)
    return connectors


def _one(filename: str, doc: LocatedDict) -> tuple[Connector | None, list[Problem]]:
    problems = [
        Problem(filename, *doc.where(k), str(k), f"unknown key; expected one of: {', '.join(TOP_LEVEL)}") for k in doc if k not in TOP_LEVEL
    ]
    name = doc.get("name")
    kind = doc.get("type")
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        problems.append(Problem(filename, *doc.where_value("name"), "name", "required: a name of letters, digits, '_' or '-'"))
    if not isinstance(kind, str):
        problems.append(
            Problem(
                filename,
                *doc.where_value("type"),
                "type",
                "required: the connector type (e.g. hubspot, salesforce, shopify, odoo, generic_json, generic_rest)",
            )
        )
    webhook = api = streams = None
    if "webhook" in doc:
        from chalicelib.ingress.webhook_config import validate_webhook_section

        webhook, found = validate_webhook_section(doc["webhook"], filename)
        problems += found
    if "api" in doc or "streams" in doc:
        from chalicelib.connectors.api_config import validate_api_sections

        parsed, found = validate_api_sections(_as_api_document(doc), filename)
        problems += found
        if parsed is not None:
            api, streams = parsed, parsed.streams
            problems += _schedule_problems(doc, filename, streams)
    if problems:
        return None, problems
    system = doc.get("system") or name
    return Connector(name=name, type=kind, system=system, file=filename, webhook=webhook, api=api, streams=streams), []


def _as_api_document(doc: LocatedDict) -> LocatedDict:
    """The API validator reads the connector type under ``kind``; ours is under ``type``."""
    view = LocatedDict(doc)
    view.position = doc.position
    view.key_positions = dict(doc.key_positions)
    view.value_positions = dict(doc.value_positions)
    view["kind"] = doc.get("type")
    view.key_positions["kind"] = doc.where("type")
    view.value_positions["kind"] = doc.where_value("type")
    return view


def _schedule_problems(doc: LocatedDict, filename: str, streams: list[Any]) -> list[Problem]:
    from chalicelib.sync.scheduler import interval_seconds

    problems = []
    for index, stream in enumerate(streams):
        try:
            interval_seconds(stream.schedule)
        except ValueError as exc:
            item = doc["streams"][index]
            line, column = item.where_value("schedule") if isinstance(item, LocatedDict) else doc.where("streams")
            problems.append(Problem(filename, line, column, f"streams[{index}].schedule", str(exc)))
    return problems
