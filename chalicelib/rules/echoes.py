"""The loop guard: a change that comes back because of an action does not fire the same rule again.

Records an action *creates* carry its marker ``[sb:<rule>:<key>]`` in a text field: a record
whose text holds the marker is skipped by that rule. An *update* has no room for a marker, so
before it is sent the dispatcher leaves an echo in the rules item of the event's subject
(system, record id, the fields and values written, the rule, until when): the first record from
that system about that record, within the hour, whose changed fields are ones the update wrote
(by source field name, or by the value written) is skipped by that rule, and the echo is used up.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.canonical import CanonicalRecord
from chalicelib.domain.golden import iso, parse_time
from chalicelib.rules.actions import markers_in

ECHO_WINDOW = timedelta(hours=1)
MAX_ECHOES = 20
Item = dict[str, Any]


def rules_to_skip(
    record: CanonicalRecord, item: Item | None, changed: dict[str, tuple[Any, Any]], now: datetime
) -> tuple[set[str], Item | None]:
    """Rules this record must not fire, and the rules item with the echoes it used up (None: unchanged)."""
    skip = markers_in(record.fields)
    echoes = list((item or {}).get("echoes") or [])
    if not echoes or not changed:
        return skip, None
    used = None
    for index, echo in enumerate(echoes):
        if echo.get("system") != record.source.system or echo.get("record") != record.source.id or parse_time(echo["until"]) < now:
            continue
        if _written_by(echo, record, changed):
            skip.add(str(echo["rule"]))
            used = index
            break
    if used is None:
        return skip, None
    assert item is not None
    return skip, {**item, "echoes": echoes[:used] + echoes[used + 1 :]}


def _written_by(echo: dict[str, Any], record: CanonicalRecord, changed: dict[str, tuple[Any, Any]]) -> bool:
    fields = set(echo.get("fields") or [])
    values = {str(v) for v in (echo.get("values") or [])}
    return all(record.lineage.get(name) in fields or str(after) in values for name, (_, after) in changed.items())


def with_echo(item: Item, echo: dict[str, Any], now: datetime) -> Item:
    """The rules item with one more pending echo (expired ones dropped, at most MAX_ECHOES kept)."""
    live = [e for e in (item.get("echoes") or []) if parse_time(e["until"]) >= now]
    entry = {**echo, "until": iso(now + ECHO_WINDOW)}
    return {**item, "echoes": (live + [entry])[-MAX_ECHOES:]}
