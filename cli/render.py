"""Readable tables for the operator commands (``--json`` prints the API's JSON instead).

Each renderer takes the API's answer as it is and returns text; a cell longer than
``CELL`` characters is cut with an ellipsis (``--json`` shows it whole). Wide characters
(Chinese) count two columns, so columns stay aligned in a terminal.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from typing import Any

CELL = 60


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def cell(value: Any, limit: int = CELL) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    text = " ".join(text.split())
    if width(text) <= limit:
        return text
    out = ""
    for ch in text:
        if width(out + ch) > limit - 1:
            break
        out += ch
    return out + "…"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers] + [[cell(v) for v in row] for row in rows]
    sizes = [max(width(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(text + " " * (size - width(text)) for text, size in zip(row, sizes, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def pairs(items: list[tuple[str, Any]]) -> str:
    size = max((len(k) for k, _ in items), default=0)
    return "\n".join(f"{k + ':':<{size + 1}} {cell(v, 100)}" for k, v in items)


def _next(data: dict[str, Any]) -> str:
    return f"\nmore: add --next {data['next']}" if data.get("next") else ""


def _what(entry: dict[str, Any]) -> str:
    changes = entry.get("changes") or {}
    if changes:
        return ", ".join(f"{name}: {cell(c.get('before'), 20)} → {cell(c.get('after'), 20)}" for name, c in changes.items())
    details = entry.get("details") or {}
    return cell(details) if details else ""


def audit(data: dict[str, Any]) -> str:
    title = next((f"{k}: {data[k]}" for k in ("entity", "correlation", "day") if data.get(k)), "")
    entries = data.get("entries", [])
    rows = [[e.get("at"), e.get("action"), e.get("actor"), e.get("connector"), e.get("mapping"), _what(e)] for e in entries]
    body = table(["AT", "ACTION", "ACTOR", "CONNECTOR", "MAPPING", "WHAT"], rows) if rows else "no audit entries"
    return f"{title}\n{body}{_next(data)}".lstrip()


def events(data: dict[str, Any]) -> str:
    rows = []
    for item in data.get("events", []):
        event, delivery = item.get("event") or {}, item.get("delivery") or {}
        delivered = [delivery.get("status"), delivery.get("attempts")]
        targets = delivery.get("targets") or None
        rows.append([event.get("time"), event.get("type"), event.get("subject"), *delivered, event.get("id"), targets])
    body = table(["TIME", "TYPE", "SUBJECT", "DELIVERY", "ATTEMPTS", "ID", "TARGETS"], rows) if rows else "no events"
    return body + _next(data)


def quarantine_list(data: dict[str, Any]) -> str:
    rows = [
        [r.get("id"), r.get("status"), r.get("connector"), r.get("code"), r.get("first_at"), r.get("attempts"), r.get("message")]
        for r in data.get("records", [])
    ]
    body = table(["ID", "STATUS", "CONNECTOR", "CODE", "FIRST SEEN", "TRIES", "MESSAGE"], rows) if rows else "no quarantined records"
    return body + _next(data)


def state(data: dict[str, Any]) -> str:
    head = pairs([("entity", data.get("entity")), ("first seen", data.get("first_seen")), ("fired", data.get("fired") or None)])
    fields = data.get("fields") or {}
    body = table(["FIELD", "VALUE"], [[name, value] for name, value in sorted(fields.items())]) if fields else "no fields"
    sources = data.get("sources") or {}
    rows = [[system, s.get("time"), s.get("record_id"), s.get("ignored") or None] for system, s in sorted(sources.items())]
    tail = "\n\n" + table(["SOURCE", "LAST UPDATE", "RECORD", "KEPT, NOT APPLIED"], rows) if rows else ""
    return f"{head}\n\n{body}{tail}"


def usage(data: dict[str, Any]) -> str:
    head = pairs(
        [
            ("customer", data.get("customer")),
            ("uses", data.get("uses")),
            ("first", data.get("first")),
            ("last", data.get("last")),
            ("by mapping", data.get("by_mapping") or None),
            ("by connector", data.get("by_connector") or None),
            ("events fired", data.get("events_fired") or None),
            ("delivered to", data.get("events_delivered_to") or None),
            ("dropped (no consent)", data.get("fields_dropped_for_lack_of_consent") or None),
        ]
    )
    categories = data.get("categories") or {}
    rows = [
        [name, u.get("uses"), u.get("last_used"), ", ".join(u.get("fields") or []) or None, u.get("purposes") or None, u.get("dropped")]
        for name, u in categories.items()
    ]
    body = table(["CATEGORY (90 DAYS)", "USES", "LAST USED", "FIELDS", "PURPOSES", "DROPPED"], rows)
    erased = [
        [e.get("at"), e.get("actor"), name, counts.get("deleted") or None, counts.get("masked") or None]
        for e in data.get("erasures") or []
        for name, counts in (e.get("removed") or {}).items()
    ]
    tail = "\n\n" + table(["ERASED AT", "BY", "TABLE", "DELETED", "MASKED"], erased) if erased else ""
    return f"{head}\n\n{body}{tail}"


RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "audit": audit,
    "events": events,
    "quarantine list": quarantine_list,
    "state": state,
    "usage": usage,
}
