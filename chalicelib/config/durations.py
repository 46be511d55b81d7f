"""Durations as analysts write them: ``15m``, ``4h``, ``24h``, ``1h30m``, ``2d``, ``90 seconds`` (rules, schedules)."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}
_PART = re.compile(r"\s*(\d+)\s*([a-z]+)\s*")


def parse_duration(text: object) -> timedelta:
    """``"1h30m"`` → 90 minutes. Raises ValueError naming what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"expected a duration such as 15m, 4h or 2d, got {text!r}")
    seconds, position, cleaned = 0, 0, text.strip().lower()
    while position < len(cleaned):
        match = _PART.match(cleaned, position)
        if not match or match.group(2) not in _UNITS:
            raise ValueError(f"expected a duration such as 15m, 4h, 1h30m or 2d, got {text!r}")
        seconds += int(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    return timedelta(seconds=seconds)


def has_days(text: str) -> bool:
    """Whether a duration text counts days or weeks (which working-hours calendars do not take)."""
    return any(unit in ("d", "day", "days", "w", "week", "weeks") for _, unit in _PART.findall(text.strip().lower()))


def describe(delta: timedelta) -> str:
    """``timedelta(minutes=90)`` → ``1h30m``."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"
