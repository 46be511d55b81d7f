"""The connectors the door (and ``GET /health``) reads, without loading the rest of the configuration when that is known to load.

The door needs only the connector files, but it must never take deliveries that the processor
could not process because the configuration does not load. A deployment package's build loads the
whole configuration and records it (chalicelib/config/parsed_cache.py): when the files are still
exactly those, only the connector files are read here, and a cold start skips the mappings, the
triggers and the rules. Otherwise (the local stack, whose files change while it runs; a package
built without the check; an edited file) the whole configuration is loaded, as the processor does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from chalicelib.config import parsed_cache
from chalicelib.config.documents import of_kind, read_documents
from chalicelib.config.kinds import KINDS
from chalicelib.runtime.settings import get_settings

if TYPE_CHECKING:
    from chalicelib.connectors.definition import Connector

_built: dict[Path, dict[str, Connector]] = {}  # per configuration root: its files cannot change once the build checked them


def door_connectors() -> dict[str, Connector]:
    """The connectors by name; raises ConfigError (every problem) when the configuration does not load."""
    root = get_settings().config_dir
    if root in _built:
        return _built[root]
    if parsed_cache.loads_as_built(root):
        _built[root] = _connector_files(root)
        return _built[root]
    from chalicelib.configuration import current

    return current().connectors


def _connector_files(root: Path) -> dict[str, Connector]:
    from chalicelib.connectors.definition import load_connectors
    from chalicelib.errors import ConfigError

    docs, problems = read_documents(root, "connectors", KINDS)
    if problems:
        raise ConfigError(problems)
    return load_connectors(of_kind(docs, "connector"))


def reset() -> None:
    _built.clear()
