"""The customer's data-usage page (数据使用看板 / 数据授权): per data category, held? granted? used how?

Reads the consent registry and the usage report of chalicelib/api/sovereignty; a grant or
revocation calls ``set_consent`` exactly as ``salesbridge consent revoke`` does, with the
customer as the audit trail's actor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.configuration import Configuration
from chalicelib.console import i18n
from chalicelib.console.links import CustomerLink
from chalicelib.runtime.settings import Settings

CUSTOMER_PURPOSE = "customer's choice on the data-usage page"


@dataclass(frozen=True)
class CategoryRow:
    category: str
    name: str
    covers: str
    granted: bool
    by_default: bool
    choice: str  # who decided and when, in the page's language
    held: list[str]  # field names held now (never their values)
    uses: int
    last_used: str | None
    purposes: list[tuple[str, int]] = field(default_factory=list)
    rules: list[tuple[str, int]] = field(default_factory=list)
    systems: list[tuple[str, int]] = field(default_factory=list)
    dropped: int = 0


def actor_of(link: CustomerLink) -> str:
    return f"customer:{link.customer_id}"


def category_rows(config: Configuration, settings: Settings, link: CustomerLink, lang: str) -> list[CategoryRow]:
    from chalicelib.api import admin, sovereignty
    from chalicelib.errors import ApiError

    consent = sovereignty.get_consent(config, settings, link.entity_key)["categories"]
    usage = sovereignty.usage_report(settings, link.entity_key, config)["categories"]
    try:
        held_fields = set(admin.entity_state(settings, {"entity": link.entity_key}).get("fields") or {})
    except ApiError as exc:
        if exc.status != 404:
            raise
        held_fields = set()
    field_categories = {
        name: category for m in config.mappings.mappings.values() if m.entity == "customer" for name, category in m.categories.items()
    }
    text = i18n.TEXT[lang]
    rows = []
    for category in sovereignty.CATEGORIES:
        state = consent.get(category) or {}
        used = usage.get(category) or {}
        name, covers = i18n.CATEGORIES[category][lang]
        rows.append(
            CategoryRow(
                category=category,
                name=name,
                covers=covers,
                granted=state.get("status") == "granted",
                by_default=bool(state.get("default")),
                choice=_choice(state, actor_of(link), text),
                held=sorted(f for f in held_fields if field_categories.get(f) == category),
                uses=int(used.get("uses", 0)),
                last_used=used.get("last_used"),
                purposes=[(i18n.purpose_text(p, lang), n) for p, n in sorted((used.get("purposes") or {}).items())],
                rules=sorted((used.get("rules") or {}).items()),
                systems=sorted((used.get("systems") or {}).items()),
                dropped=int(used.get("dropped", 0)),
            )
        )
    return rows


def _choice(state: dict[str, Any], customer: str, text: dict[str, str]) -> str:
    if state.get("default"):
        return text["by_default"]
    at = _day(state.get("at"))
    return text["your_choice"].format(at=at) if state.get("by") == customer else text["changed_by"].format(at=at)


def _day(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value)).astimezone(UTC).strftime("%Y-%m-%d")
    except ValueError:
        return ""


def change_consent(config: Configuration, settings: Settings, link: CustomerLink, category: str, status: str) -> dict[str, Any]:
    """The customer's own grant or revocation; effective at once, audited with the customer as actor."""
    from chalicelib.api import sovereignty
    from chalicelib.api.requests import ConsentChange, validate

    change = validate(ConsentChange, {"category": category, "status": status, "purpose": CUSTOMER_PURPOSE})
    return sovereignty.set_consent(config, settings, link.entity_key, change, actor_of(link))
