"""`POST /mappings/{name}/try` and `POST /mappings/{name}/regression`: see before deploying."""

from __future__ import annotations

from typing import Any

from chalicelib.api.errors import bad_request, not_found
from chalicelib.api.requests import EditedMappingTry, RegressionRequest
from chalicelib.configuration import Configuration
from chalicelib.errors import ApiError
from chalicelib.mapping import CompiledMapping
from chalicelib.pipeline.evaluate import Rules
from chalicelib.runtime.settings import Settings
from chalicelib.store import inputs
from chalicelib.store.dynamo_store import DynamoStore


def _rules(config: Configuration) -> Rules:
    return Rules.of(config)


def api_versions(config: Configuration) -> dict[str, str]:
    """Per connector with an API, its version: the paths action requests are shown with."""
    return {name: c.api.api.api_version for name, c in config.connectors.items() if c.api is not None and c.api.api.api_version}


def _mapping(config: Configuration, name: str) -> Any:
    mapping = config.mappings.mappings.get(name)
    if mapping is None:
        raise not_found(f"no mapping named {name!r}; loaded: {', '.join(sorted(config.mappings.mappings))}")
    return mapping


def try_mapping(config: Configuration, settings: Settings, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    from chalicelib.pipeline.dry_run import simulate

    return simulate(_rules(config), _mapping(config, name), payload, DynamoStore(settings), api_versions(config))


def try_edited(config: Configuration, settings: Settings, body: EditedMappingTry) -> dict[str, Any]:
    """Dry-run an edited mapping file (not deployed yet) on a payload, against the current state."""
    from chalicelib.pipeline.dry_run import simulate

    edited = compile_edited(config, body.mapping, "edited mapping")
    return simulate(_rules(config), edited, body.payload, DynamoStore(settings), api_versions(config))


def compile_edited(config: Configuration, text: str, filename: str) -> CompiledMapping:
    from chalicelib.config.yaml_lines import load_yaml_text
    from chalicelib.errors import ConfigError
    from chalicelib.mapping import compile_documents

    if not text.strip():
        raise bad_request('send the mapping file\'s text as "mapping"')
    try:
        systems = {c.name: c.system for c in config.connectors.values()}
        edited_set = compile_documents([(filename, load_yaml_text(text, filename)), *_scale_docs(config)], systems)
    except ConfigError as exc:
        raise ApiError(400, "invalid_mapping", str(exc)) from None
    edited = next(iter(edited_set.mappings.values()), None)
    if edited is None:
        raise bad_request("the text holds no `kind: mapping` document")
    return edited


def regression(config: Configuration, settings: Settings, name: str, body: RegressionRequest) -> dict[str, Any]:
    """Run recent raw inputs through the deployed and the edited mapping; report what changes."""
    from chalicelib.mapping import MappingSet
    from chalicelib.mapping.regression import regression_diff
    from chalicelib.pipeline.dry_run import event_changes

    deployed = _mapping(config, name)
    limit = body.limit
    edited = compile_edited(config, body.mapping, f"{deployed.file} (edited)")
    edited_set = MappingSet(mappings={edited.name: edited}, grade_scale=config.mappings.grade_scale)
    if (edited.connector, edited.object) != (deployed.connector, deployed.object):
        raise bad_request(f"the edited file must map {deployed.connector} {deployed.object}, like {deployed.file}")
    recent = inputs.recent(settings, deployed.connector, deployed.object, limit)
    changes = regression_diff(config.mappings, edited_set, recent)
    return {
        "mapping": name,
        "deployed_version": deployed.version,
        "edited_version": edited.version,
        "inputs": len(recent),
        "field_changes": [{"input": c.input, "field": c.field, "old": c.old, "new": c.new} for c in changes],
        "event_changes": event_changes(_rules(config), config.mappings, edited_set, recent, DynamoStore(settings)),
    }


def _scale_docs(config: Configuration) -> list[tuple[str, Any]]:
    from chalicelib.configuration import grade_scale_documents

    return list(grade_scale_documents(config.root))
