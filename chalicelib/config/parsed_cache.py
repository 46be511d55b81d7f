"""The configuration files of a deployment package, parsed when the package is built.

A cold start would otherwise import PyYAML and parse every file under connectors/ and
mappings/ before the first request. The package build writes each file's parsed document
(positions included, so every later problem still names file and line) beside the files,
keyed by the SHA-256 of the file's bytes. Reading takes a document from here only when the
file's bytes still have that digest, so an edited file is parsed again and a stale or damaged
cache is never wrong, only unused. JSON, not pickle: loading it runs no code.

The build also loads the whole configuration from those files and records that it did
(``checked``): the door then reads only the connector files, knowing that the rest loads
(``loads_as_built``; chalicelib/ingress/door.py).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from chalicelib.config.yaml_lines import LocatedDict, LocatedList
from chalicelib.errors import ConfigError

FILE_NAME = ".parsed-configuration.json"
FOLDERS = ("connectors", "mappings")
VERSION = 1


class Unencodable(ValueError):
    """A parsed value the cache cannot hold (that file is parsed at run time instead)."""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- writing (package build)
def write(root: Path, checked: bool = False) -> Path:
    """Parse every configuration file under ``root`` and write the cache there; returns its path.

    ``checked``: the caller loaded the whole configuration from these files (see ``loads_as_built``).
    """
    from chalicelib.config.yaml_lines import load_yaml_text

    files: dict[str, dict[str, Any]] = {}
    for name in configuration_files(root):
        data = (root / name).read_bytes()
        try:
            files[name] = {"sha256": digest(data), "document": encode(load_yaml_text(data.decode("utf-8"), name))}
        except (ValueError, ConfigError):  # not UTF-8, invalid YAML, an odd value: parsed (and reported) at run time
            continue
    target = root / FILE_NAME
    cache = {"version": VERSION, "checked": checked, "files": files}
    target.write_text(json.dumps(cache, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return target


def encode(value: Any) -> Any:
    if isinstance(value, LocatedDict):
        entries = [[encode(k), encode(v), value.key_positions.get(k), value.value_positions.get(k)] for k, v in value.items()]
        return {"d": entries, "p": value.position}
    if isinstance(value, LocatedList):
        return {"l": [encode(v) for v in value], "p": value.position, "ip": value.item_positions}
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise Unencodable(f"{type(value).__name__} in a configuration file")


# ----------------------------------------------------------------------------- reading (cold start)
_loaded: dict[Path, dict[str, Any]] = {}


def _cache(root: Path) -> dict[str, Any]:
    """The cache as written (empty when there is none, it cannot be read, or it is another version's); read once per root."""
    if root not in _loaded:
        try:
            cache = json.loads((root / FILE_NAME).read_text(encoding="utf-8"))
            usable = isinstance(cache, dict) and cache.get("version") == VERSION and isinstance(cache.get("files"), dict)
            _loaded[root] = cache if usable else {}
        except (OSError, ValueError):
            _loaded[root] = {}
    return _loaded[root]


def documents(root: Path) -> dict[str, Any]:
    """The cache's entries by file name (empty when there is no usable cache)."""
    files: dict[str, Any] = _cache(root).get("files", {})
    return files


def loads_as_built(root: Path) -> bool:
    """Whether the build loaded the whole configuration from exactly the files under ``root`` now.

    True only when the cache says so and holds every configuration file there is, each with the
    digest of its bytes now: a file added, removed or edited since, or a damaged cache, is False.
    """
    cache = _cache(root)
    files = documents(root)
    if cache.get("checked") is not True or set(files) != set(configuration_files(root)):
        return False
    for name, entry in files.items():
        try:
            if not isinstance(entry, dict) or entry.get("sha256") != digest((root / name).read_bytes()):
                return False
        except OSError:
            return False
    return True


def configuration_files(root: Path, folders: tuple[str, ...] = FOLDERS) -> list[str]:
    """The configuration files under ``root``'s ``folders``, by name relative to ``root``, sorted per folder."""
    found: list[str] = []
    for folder in folders:
        base = root / folder
        if base.is_dir():
            found += [str(p.relative_to(root)) for p in sorted([*base.rglob("*.yaml"), *base.rglob("*.yml")])]
    return found


def cached_document(root: Path, name: str, data: bytes) -> Any | None:
    """The parsed document of file ``name`` if the cache holds it for exactly these bytes, else None."""
    entry = documents(root).get(name)
    if not isinstance(entry, dict) or entry.get("sha256") != digest(data):
        return None
    try:
        return decode(entry["document"])
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if "d" in value:
        located = LocatedDict()
        located.position = tuple(value["p"])
        located.key_positions, located.value_positions = {}, {}
        for key, item, key_position, value_position in value["d"]:
            key = decode(key)
            located[key] = decode(item)
            if key_position is not None:
                located.key_positions[key] = tuple(key_position)
            if value_position is not None:
                located.value_positions[key] = tuple(value_position)
        return located
    if "l" in value:
        items = LocatedList(decode(v) for v in value["l"])
        items.position = tuple(value["p"])
        items.item_positions = [tuple(p) for p in value["ip"]]
        return items
    if "dt" in value:
        return datetime.fromisoformat(value["dt"])
    return date.fromisoformat(value["date"])
