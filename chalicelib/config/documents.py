"""Reading a folder of configuration files: every YAML document, with its kind, or the problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chalicelib.config import parsed_cache
from chalicelib.config.problems import Problem
from chalicelib.config.yaml_lines import LocatedDict, load_yaml_text
from chalicelib.errors import ConfigError

Document = tuple[str, LocatedDict]  # (file name relative to the configuration root, the located YAML)


def read_documents(root: Path, folder: str, kinds: tuple[str, ...]) -> tuple[list[Document], list[Problem]]:
    """Every ``*.yaml``/``*.yml`` under ``root/folder``; a file without ``kind`` is a problem naming ``kinds``."""
    docs: list[Document] = []
    problems: list[Problem] = []
    base = root / folder
    if not base.is_dir():
        return docs, [Problem(folder, 1, 1, "", f"folder {base} not found")]
    for name in parsed_cache.configuration_files(root, (folder,)):
        try:
            doc = _parse(root, root / name, name)
        except ConfigError as exc:
            problems += exc.problems
            continue
        if not isinstance(doc, LocatedDict):
            problems.append(Problem(name, 1, 1, "", "expected a mapping at the top of the file"))
            continue
        if "kind" not in doc:
            problems.append(Problem(name, *doc.position, "kind", f"missing 'kind' (one of: {', '.join(kinds)})"))
            continue
        docs.append((name, doc))
    return docs, problems


def _parse(root: Path, path: Path, name: str) -> Any:
    """The file's document: from the package's parsed cache when the bytes match, else parsed now."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError([Problem(name, 1, 1, "", f"cannot read the file: {exc.strerror or exc}")]) from None
    cached = parsed_cache.cached_document(root, name, data)
    if cached is not None:
        return cached
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError([Problem(name, 1, 1, "", "file is not UTF-8 text")]) from None
    return load_yaml_text(text, name)


def of_kind(docs: list[Document], *kinds: str) -> list[Document]:
    return [(n, d) for n, d in docs if d.get("kind") in kinds]
