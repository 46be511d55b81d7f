"""How long an operator request may still work: what the long ones (redrive, replay, erasure) stop by."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def deadline_from(context: Any, budget: float = 25.0) -> Callable[[], float]:
    """Seconds left in this invocation (Lambda's context), or a fixed budget locally."""
    started = time.monotonic()
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        return lambda: float(context.get_remaining_time_in_millis()) / 1000
    return lambda: budget - (time.monotonic() - started)
