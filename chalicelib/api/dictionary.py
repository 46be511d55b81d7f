"""The master-data dictionary: the canonical model, and for each field who owns it, its data
category, which mapping of which system fills it (file:line) and the code lists it goes through.

It is the page an integrator hands to the business, so it is built from the loaded
configuration only (no AWS): ``salesbridge dictionary show`` prints it as a table or JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from chalicelib.config.documents import read_documents
from chalicelib.config.kinds import KINDS
from chalicelib.config.yaml_lines import LocatedDict
from chalicelib.configuration import Configuration
from chalicelib.domain.canonical import ENTITY_MODELS
from chalicelib.mapping.compiler import ENTITY_FIELDS, CompiledMapping


@dataclass(frozen=True)
class Filler:
    """One mapping that fills a canonical field."""

    system: str
    connector: str
    mapping: str
    at: str  # file:line of the rule
    source: str  # the source path, or what else makes the value
    owner: str | None  # the owner this mapping declares for the field
    category: str | None
    code_lists: tuple[str, ...] = ()


@dataclass(frozen=True)
class FieldEntry:
    name: str
    type: str
    description: str | None
    owner: str | None  # the system whose value wins
    owner_from: str  # what decides: "triggers" (owners:), "mapping" (the one system whose mappings claim it), "preference", "most_recent"
    preference: tuple[str, ...]  # the identity file's preferred systems, when no one owns the field
    categories: tuple[str, ...]
    filled_by: tuple[Filler, ...]


@dataclass(frozen=True)
class CodeListEntry:
    name: str
    file: str
    description: str | None
    values: tuple[str, ...]
    systems: dict[str, dict[str, tuple[str, ...]]]
    used_by: tuple[str, ...]  # "entity.field (mapping file:line)"


@dataclass(frozen=True)
class EntityEntry:
    name: str
    description: str | None
    fields: tuple[FieldEntry, ...]


@dataclass(frozen=True)
class Dictionary:
    entities: tuple[EntityEntry, ...]
    code_lists: tuple[CodeListEntry, ...]
    grade_scale: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def build(config: Configuration) -> Dictionary:
    """The dictionary of ``config``: every canonical entity and field, filled or not."""
    docs = dict(read_documents(config.root, "mappings", KINDS)[0])
    systems = {name: connector.system for name, connector in config.connectors.items()}
    fillers: dict[tuple[str, str], list[Filler]] = {}
    for mapping in sorted(config.mappings.mappings.values(), key=lambda m: m.file):
        doc = docs.get(mapping.file)
        if doc is None:
            continue
        for name, filler in _fillers(mapping, doc, systems.get(mapping.connector, mapping.connector)):
            fillers.setdefault((mapping.entity, name), []).append(filler)
    entities = []
    for entity, model in ENTITY_MODELS.items():
        entries = []
        for name, canonical in ENTITY_FIELDS[entity].items():
            filled = tuple(fillers.get((entity, name), []))
            owner, owner_from = _owner(config, entity, name, filled)
            categories = tuple(sorted({f.category for f in filled if f.category}))
            description = model.model_fields[name].description
            preference = config.survivorship.preference_of(entity, name)
            entries.append(FieldEntry(name, canonical.kind, description, owner, owner_from, preference, categories, filled))
        entities.append(EntityEntry(entity, _summary(model.__dict__.get("__doc__")), tuple(entries)))
    used: dict[str, list[str]] = {}
    for (entity, name), listed in fillers.items():
        for filler in listed:
            for code_list in filler.code_lists:
                used.setdefault(code_list, []).append(f"{entity}.{name} ({filler.at})")
    code_lists = tuple(
        CodeListEntry(c.name, c.file, c.description, c.values, c.codes, tuple(sorted(used.get(c.name, []))))
        for c in sorted(config.mappings.code_lists.values(), key=lambda c: c.name)
    )
    return Dictionary(tuple(entities), code_lists, tuple(config.mappings.grade_scale))


def _owner(config: Configuration, entity: str, name: str, filled: tuple[Filler, ...]) -> tuple[str | None, str]:
    """Whose value wins, as the golden record decides: triggers' ``owners:``, else the one system whose
    mappings claim the field (``owner:``), else the identity preference, else the most recent value."""
    declared = config.triggers.owner_of(entity, name)
    if declared:
        return declared, "triggers"
    owner = config.survivorship.owner_of(entity, name)
    if owner:
        return owner, "mapping"
    if not filled:
        return None, ""
    return None, "preference" if config.survivorship.preference_of(entity, name) else "most_recent"


def _fillers(mapping: CompiledMapping, doc: LocatedDict, system: str) -> list[tuple[str, Filler]]:
    found: list[tuple[str, Filler]] = []
    default_owner = _text(doc.get("owner"))
    fields = doc.get("fields")
    if isinstance(fields, LocatedDict):
        for name, raw in fields.items():
            if name not in mapping.rules:
                continue
            spec = raw if isinstance(raw, dict) else {"path": raw}
            owner = _text(spec.get("owner")) or default_owner
            filler = Filler(
                system,
                mapping.connector,
                mapping.name,
                mapping.rules[name],
                _source_of(spec),
                owner,
                mapping.categories.get(name),
                _code_lists(spec),
            )
            found.append((str(name), filler))
    lines = doc.get("lines")
    if isinstance(lines, LocatedDict):
        line_fields = lines.get("fields")
        lists = tuple(sorted({c for raw in (line_fields or {}).values() if isinstance(raw, dict) for c in _code_lists(raw)}))
        source = f"{_text(lines.get('path')) or '(the record itself)'}[*]"
        at = f"{mapping.file}:{doc.where('lines')[0]}"
        found.append(("lines", Filler(system, mapping.connector, mapping.name, at, source, default_owner, None, lists)))
    references = doc.get("references")
    if isinstance(references, LocatedDict):
        for name, raw in references.items():
            if name == "same_as" or not isinstance(raw, dict):
                continue
            at = f"{mapping.file}:{references.where(name)[0]}"
            target = f"{_text(raw.get('connector')) or mapping.connector} {raw.get('entity')} id"
            found.append((str(name), Filler(system, mapping.connector, mapping.name, at, target, None, None, ())))
    return found


def _summary(doc: str | None) -> str | None:
    lines = (doc or "").strip().splitlines()
    return lines[0] if lines else None


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and str(value) else None


def _source_of(spec: dict[str, Any]) -> str:
    for key in ("path", "paths", "expr", "value"):
        if key in spec:
            value = spec[key]
            text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            return f"= {text}" if key in ("expr", "value") else text
    return ""


def _code_lists(spec: dict[str, Any]) -> tuple[str, ...]:
    steps = spec.get("transforms") or []
    return tuple(str(s["code_list"]) for s in steps if isinstance(s, dict) and isinstance(s.get("code_list"), str))


# ----------------------------------------------------------------------------- text


def render_text(dictionary: Dictionary, entity: str | None = None) -> str:
    """A plain text table per entity, then the code lists."""
    out: list[str] = []
    for item in dictionary.entities:
        if entity and item.name != entity:
            continue
        out.append(f"{item.name}" + (f" — {item.description}" if item.description else ""))
        rows: list[tuple[str, ...]] = [("field", "type", "owner", "category", "filled by (system: file:line ← source)")]
        for entry in item.fields:
            owner = _owner_text(entry)
            fills = [
                f"{f.system}: {f.at} ← {_short(f.source)}" + (f" [code list {', '.join(f.code_lists)}]" if f.code_lists else "")
                for f in entry.filled_by
            ]
            rows.append((entry.name, entry.type, owner, ", ".join(entry.categories) or "—", fills[0] if fills else "—"))
            rows += [("", "", "", "", fill) for fill in fills[1:]]
        out += _table(rows) + [""]
    out.append(
        "owner: the system whose value wins — '(owners:)' from triggers.yaml, else the one system whose mappings claim it"
        " (owner:); without one, the identity file's preference, else the most recent value"
    )
    out.append("")
    if not entity:
        out.append("code lists")
        rows = [("name", "values", "systems", "used by")]
        for code_list in dictionary.code_lists:
            used = list(code_list.used_by) or ["—"]
            rows.append((f"{code_list.name} ({code_list.file})", ", ".join(code_list.values), ", ".join(code_list.systems), used[0]))
            rows += [("", "", "", u) for u in used[1:]]
        out += _table(rows)
    return "\n".join(out).rstrip() + "\n"


def _owner_text(entry: FieldEntry) -> str:
    if entry.owner_from == "triggers":
        return f"{entry.owner} (owners:)"
    if entry.owner:
        return entry.owner
    if entry.owner_from == "preference":
        return "— prefer " + " > ".join(entry.preference)
    return "— most recent" if entry.owner_from else "—"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = [cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)]
        lines.append("  " + "  ".join(cells).rstrip())
        if index == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return lines


def _width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)
