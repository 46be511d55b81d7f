"""The wall clock, in one place: what the processor's rules and the timers take for "now".

Tests of deadlines move it (monkeypatch ``now``) rather than wait fifteen minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
