"""GET /health: apart from the other operator functions, so a cold start answering it imports no AWS SDK."""

from __future__ import annotations

from typing import Any

from chalicelib.configuration import Configuration
from chalicelib.runtime.settings import Settings


def health(config: Configuration, settings: Settings) -> dict[str, Any]:
    return {"status": "ok", "stage": settings.stage, "versions": config.versions, "connectors": sorted(config.connectors)}
