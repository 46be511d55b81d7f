"""Pages: Jinja2 templates with autoescape, imported on the first page rendered (not at cold start).

Every page is sent with a strict Content-Security-Policy (scripts and styles only from this
deployment's own static files, no inline code), and bodies are text: on Lambda a ``bytes``
body outside ``binary_types`` cannot be serialised, so CSS, JS and the SVG charts are text too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from chalice.app import Response

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}

CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # a customer's link is a credential: never send it on
    "Cache-Control": "no-store",
}


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty"] = pretty_json
    env.filters["when"] = when
    env.filters["ago"] = ago
    env.filters["entity_key"] = entity_key_of
    return env


def render(template: str, **context: Any) -> str:
    return str(_environment().get_template(template).render(**context))


def page(template: str, status: int = 200, headers: dict[str, str | list[str]] | None = None, **context: Any) -> Response:
    if context.get("ctx") is not None:
        context.setdefault("prefix", context["ctx"].prefix)
    return Response(body=render(template, **context), status_code=status, headers={**PAGE_HEADERS, **(headers or {})})


def redirect(location: str, headers: dict[str, str | list[str]] | None = None) -> Response:
    return Response(body="", status_code=303, headers={"Location": location, "Cache-Control": "no-store", **(headers or {})})


def static(name: str) -> Response:
    """A file of static/ as text, cached by browsers for an hour; 404 for anything else (a NUL byte included)."""
    try:
        path = (STATIC / name).resolve()
        found = path.parent == STATIC and path.suffix in STATIC_TYPES and path.is_file()
    except (ValueError, OSError):  # a name the file system cannot even look up: not one of ours
        found = False
    if not found:
        return Response(body="not found", status_code=404, headers={"Content-Type": "text/plain; charset=utf-8"})
    return Response(
        body=path.read_text(encoding="utf-8"),
        status_code=200,
        headers={"Content-Type": STATIC_TYPES[path.suffix], "Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def entity_key_of(subject: Any) -> str | None:
    """``cus_…`` → ``customer#cus_…`` (canonical ids name their entity type), else None."""
    from chalicelib.domain.identity import PREFIXES

    kinds = {prefix: kind for kind, prefix in PREFIXES.items()}
    kind = kinds.get(str(subject).partition("_")[0])
    return f"{kind}#{subject}" if kind else None


def pretty_json(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def when(value: Any) -> str:
    """ISO times as 'YYYY-MM-DD HH:MM:SS UTC'; anything else unchanged."""
    moment = _parse(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ("" if value is None else str(value))


def ago(value: Any, now: datetime | None = None) -> str:
    moment = _parse(value)
    if moment is None:
        return ""
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 0:
        return "in the future"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
