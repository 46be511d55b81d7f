"""Shared code lists (`kind: code_list`): one vocabulary, its canonical values and each system's codes.

A grade, region or product category is written differently by every system. A code list
says once which source values of each system mean which canonical value; mappings use it
with the transform ``code_list: <name>``, and the system is the mapping's connector's system.
Source values are compared like ``map:`` keys (trimmed, case-folded).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from chalicelib.config.models import StrictModel
from chalicelib.config.problems import Problem
from chalicelib.config.yaml_lines import LocatedDict, LocatedList
from chalicelib.mapping.spec import check_shape

SourceValue = str | int


class CodeListFile(StrictModel):
    """The file: canonical values, then per system ``canonical value: [source values]``."""

    kind: Literal["code_list"]
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", description="How mappings name it: `code_list: <name>`")
    description: str | None = None
    values: list[SourceValue] = Field(min_length=1, description="The canonical values, e.g. the grade scale's levels")
    systems: dict[str, dict[SourceValue, list[SourceValue] | SourceValue]] = Field(
        min_length=1, description="system -> canonical value -> the source value(s) that mean it"
    )


@dataclass(frozen=True)
class CodeList:
    name: str
    file: str
    line: int
    description: str | None
    values: tuple[str, ...]
    codes: dict[str, dict[str, tuple[str, ...]]]  # system -> canonical value -> source values as written

    def table(self, system: str, key: Any) -> dict[str, str] | None:
        """normalised source value -> canonical value for ``system``; None when the list has no such system."""
        by_value = self.codes.get(system)
        if by_value is None:
            return None
        return {key(source): canonical for canonical, sources in by_value.items() for source in sources}


def load_code_lists(docs: list[tuple[str, LocatedDict]], problems: list[Problem]) -> dict[str, CodeList]:
    """Every code list by name; problems (unknown canonical value, a code meaning two values…) are appended."""
    from chalicelib.mapping.transforms import vocabulary_key

    lists: dict[str, CodeList] = {}
    for file, doc in docs:
        spec, found = check_shape(doc, file, CodeListFile)
        problems.extend(found)
        if spec is None:
            continue
        if spec.name in lists:
            problems.append(
                Problem(file, *doc.where_value("name"), "name", f"code list {spec.name!r} is also defined in {lists[spec.name].file}")
            )
            continue
        values = tuple(str(v) for v in spec.values)
        codes: dict[str, dict[str, tuple[str, ...]]] = {}
        for system, by_value in spec.systems.items():
            section = doc["systems"][system]
            seen: dict[str, str] = {}
            codes[system] = {}
            for canonical_raw, sources_raw in by_value.items():
                canonical = str(canonical_raw)
                where = _key_position(section, canonical_raw)
                if canonical not in values:
                    message = f"{canonical!r} is not one of this list's values ({', '.join(values)})"
                    problems.append(Problem(file, *where, f"systems.{system}.{canonical}", message))
                    continue
                sources = tuple(str(s) for s in (sources_raw if isinstance(sources_raw, list) else [sources_raw]))
                for index, source in enumerate(sources):
                    normalised = vocabulary_key(source)
                    if normalised in seen and seen[normalised] != canonical:
                        position = _item_position(section.get(canonical_raw), index, where)
                        message = f"source value {source!r} already means {seen[normalised]!r} for {system}"
                        problems.append(Problem(file, *position, f"systems.{system}.{canonical}[{index}]", message))
                    seen[normalised] = canonical
                codes[system][canonical] = codes[system].get(canonical, ()) + sources
        lists[spec.name] = CodeList(spec.name, file, doc.position[0], spec.description, values, codes)
    return lists


def _key_position(section: Any, key: Any) -> tuple[int, int]:
    if isinstance(section, LocatedDict):
        return section.where(key)
    return (1, 1)


def _item_position(node: Any, index: int, fallback: tuple[int, int]) -> tuple[int, int]:
    return node.where(index) if isinstance(node, LocatedList) else fallback
