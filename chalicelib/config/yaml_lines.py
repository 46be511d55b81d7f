"""YAML loading that remembers where every key and value came from.

PyYAML's safe loader builds plain Python data; we wrap mappings and sequences in
subclasses that also carry the 1-based line and column of each key and item, so
every later check can say *where* a problem is.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.config.problems import Problem
from chalicelib.errors import ConfigError

if TYPE_CHECKING:
    import yaml

Position = tuple[int, int]  # (line, column), 1-based


class LocatedDict(dict[Any, Any]):
    """A dict that knows the position of itself, each key and each value."""

    position: Position = (1, 1)
    key_positions: dict[Any, Position]
    value_positions: dict[Any, Position]

    def where(self, key: Any) -> Position:
        return self.key_positions.get(key, self.position)

    def where_value(self, key: Any) -> Position:
        return self.value_positions.get(key, self.where(key))


def subset(doc: LocatedDict, names: tuple[str, ...]) -> LocatedDict:
    """The named keys of a located mapping, keeping their positions."""
    part = LocatedDict({k: doc[k] for k in names if k in doc})
    part.position = doc.position
    part.key_positions = {k: v for k, v in doc.key_positions.items() if k in names}
    part.value_positions = {k: v for k, v in doc.value_positions.items() if k in names}
    return part


class LocatedList(list[Any]):
    position: Position = (1, 1)
    item_positions: list[Position]

    def where(self, index: int) -> Position:
        if 0 <= index < len(self.item_positions):
            return self.item_positions[index]
        return self.position


def _pos(node: yaml.Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


@functools.cache
def _locating_loader() -> type[yaml.SafeLoader]:
    """The loader class, made on first use: PyYAML is imported only when a file is parsed (not on a cold
    start that reads the package's parsed configuration, chalicelib/config/parsed_cache.py)."""
    import yaml

    base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~5x faster

    class LocatingLoader(base):  # type: ignore[misc,valid-type]  # a base chosen at run time
        """SafeLoader (no arbitrary objects) that records positions; rejects duplicate keys."""

        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LocatedDict:
            if not isinstance(node, yaml.MappingNode):
                raise yaml.constructor.ConstructorError(None, None, "expected a mapping", node.start_mark)
            self.flatten_mapping(node)
            result = LocatedDict()
            result.position = _pos(node)
            result.key_positions = {}
            result.value_positions = {}
            for key_node, value_node in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
                    ) from None
                if key in result:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark, f"duplicate key {key!r}", key_node.start_mark
                    )
                result[key] = self.construct_object(value_node, deep=True)
                result.key_positions[key] = _pos(key_node)
                result.value_positions[key] = _pos(value_node)
            return result

        def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LocatedList:
            result = LocatedList(self.construct_object(child, deep=True) for child in node.value)
            result.position = _pos(node)
            result.item_positions = [_pos(child) for child in node.value]
            return result

    LocatingLoader.add_constructor("tag:yaml.org,2002:map", LocatingLoader.construct_mapping)
    LocatingLoader.add_constructor("tag:yaml.org,2002:seq", LocatingLoader.construct_sequence)
    return LocatingLoader


def load_yaml_text(text: str, filename: str) -> Any:
    """Parse YAML text; a syntax error becomes a ConfigError naming file:line:column."""
    import yaml

    try:
        return yaml.load(text, Loader=_locating_loader())  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ConfigError([Problem(filename, line, column, "", f"invalid YAML: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(filename, 1, 1, "", f"invalid YAML: {exc}")]) from None


def load_yaml_file(path: Path | str, display_name: str | None = None) -> Any:
    path = Path(path)
    name = display_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError([Problem(name, 1, 1, "", "file is not UTF-8 text")]) from None
    return load_yaml_text(text, name)
