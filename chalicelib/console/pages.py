"""What each console page and the customer page do; routes.py maps the URLs onto these functions.

Imported on the first page request, not with app.py: every function here takes the request
and calls the same operator functions as the JSON API (chalicelib/api).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice.app import Response

if TYPE_CHECKING:
    from chalicelib.console.masking import Masker

CUSTOMER_CSRF = "customer-csrf/v1"


class Page:
    """What every console page needs: the request, settings, where the routes live, and who is acting."""

    def __init__(self, request: Any, settings: Any, prefix: str, session: Any, csrf: str, form: dict[str, str]):
        self.request = request
        self.settings = settings
        self.prefix = prefix
        self.session = session  # chalicelib.console.session.Session
        self.csrf = csrf
        self.form = form

    @property
    def actor(self) -> str:
        return str(self.session.identity)

    def query(self) -> dict[str, str]:
        return {k: v for k, v in dict(self.request.query_params or {}).items() if v != ""}


# ----------------------------------------------------------------------------- plumbing
def _settings() -> Any:
    from chalicelib.runtime.settings import get_settings

    return get_settings()


def _config() -> Any:
    from chalicelib.configuration import current

    return current()


def _form(request: Any) -> dict[str, str]:
    from urllib.parse import parse_qs

    if request.method != "POST":
        return {}
    raw = request.raw_body or b""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    return {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items()}


def _prefix(request: Any) -> str:
    from chalicelib.console.links import path_prefix

    return path_prefix(request)


def _source_ip(request: Any) -> str:
    return str(((request.context or {}).get("identity") or {}).get("sourceIp") or "unknown")


def _error(page: Page | None, status: int, message: str, prefix: str = "", problems: list[str] | None = None) -> Response:
    from chalicelib.console.render import page as render_page

    return render_page(
        "error.html", status, ctx=page, prefix=page.prefix if page else prefix, code=status, message=message, problems=problems or []
    )


def operator_page(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Console routes: a valid session (else the login page), a CSRF token on every POST, errors as pages."""

    def wrapped(request: Any, **params: Any) -> Response:
        from botocore.exceptions import BotoCoreError, ClientError

        from chalicelib.console import render, session
        from chalicelib.errors import ApiError, ConfigError, ConsoleUnavailable

        settings = _settings()
        prefix = _prefix(request)
        page: Page | None = None
        try:
            current = session.read_session(settings, session.cookie_value(request.headers.get("cookie"), session.COOKIE))
            if current is None:
                return render.redirect(f"{prefix}/console/login")
            page = Page(request, settings, prefix, current, session.csrf_token(settings, current), _form(request))
            if request.method == "POST" and not session.csrf_ok(settings, current, page.form.get("csrf")):
                return _error(page, 403, "This form has expired or did not come from the console. Reload the page and try again.")
            return handler(page, **params)
        except ApiError as exc:
            return _error(page, exc.status, exc.message, prefix)
        except ConfigError as exc:
            return _error(page, 503, "The configuration does not load.", prefix, [str(p) for p in exc.problems])
        except ConsoleUnavailable as exc:
            return _error(None, 503, str(exc), prefix)
        except (BotoCoreError, ClientError) as exc:
            return _error(page, 503, f"AWS did not answer ({type(exc).__name__}); nothing was changed unless the page said so. Try again.")

    wrapped.__name__ = handler.__name__
    return wrapped


def _masker(page: Page, config: Any) -> Masker:
    from chalicelib.console.masking import Masker

    return Masker(config, reveal=page.session.sees_personal_data)


def _audit_personal_view(page: Page, what: str) -> None:
    """A privacy officer's view of unmasked personal data is itself an audited action."""
    from chalicelib.console import audit_log

    if page.session.sees_personal_data:
        audit_log.record(page.settings, "personal_data_viewed", page.actor, audit_log.session_correlation(page.session.sid), {"what": what})


# ----------------------------------------------------------------------------- static files
def console_static(request: Any, name: str) -> Response:
    from chalicelib.console.render import static

    return static(name)


# ----------------------------------------------------------------------------- login
def console_login_form(request: Any) -> Response:
    return _login_page(request, None, 200)


def _login_page(request: Any, error: str | None, status: int) -> Response:
    from chalicelib.console import render, session
    from chalicelib.errors import ConsoleUnavailable

    settings = _settings()
    prefix = _prefix(request)
    try:
        nonce, token = session.login_csrf(settings)
    except ConsoleUnavailable as exc:
        return _error(None, 503, str(exc), prefix)
    cookie = session.cookie(session.LOGIN_COOKIE, nonce, f"{prefix}/console", settings, 1800)
    return render.page("login.html", status, {"Set-Cookie": cookie}, prefix=prefix, csrf=token, error=error, stage=settings.stage)


def console_login(request: Any) -> Response:
    from chalicelib.console import audit_log, render, session
    from chalicelib.errors import ConsoleUnavailable, LoginRefused

    settings = _settings()
    prefix = _prefix(request)
    form = _form(request)
    try:
        if not session.login_csrf_ok(settings, session.cookie_value(request.headers.get("cookie"), session.LOGIN_COOKIE), form.get("csrf")):
            return _login_page(request, "The login form expired. Please log in again.", 403)
        try:
            identity, role, via = session.login(settings, form.get("token", ""), form.get("name", ""))
        except LoginRefused as refused:
            audit_log.record(
                settings, "console_login_refused", f"caller:{_source_ip(request)}", "console-login", {"reason": refused.message}
            )
            return _login_page(request, refused.message, refused.status)
        current, value = session.mint_session(settings, identity, role, via)
    except ConsoleUnavailable as exc:
        return _error(None, 503, str(exc), prefix)
    audit_log.record(
        settings,
        "console_login",
        identity,
        audit_log.session_correlation(current.sid),
        {"role": role, "via": via, "source_ip": _source_ip(request)},
    )
    path = f"{prefix}/console"
    cookies = [
        session.cookie(session.COOKIE, value, path, settings, session.SESSION_SECONDS),
        session.cookie(session.LOGIN_COOKIE, "", path, settings, 0),
    ]
    return render.redirect(path, {"Set-Cookie": cookies})


def console_login_link(request: Any, token: str) -> Response:
    """A one-time login link (chalicelib/console/login_links.py): opens an operator session for the identity it names."""
    from chalicelib.console import audit_log, login_links, render, session
    from chalicelib.errors import ConsoleUnavailable, LoginRefused

    settings = _settings()
    prefix = _prefix(request)
    try:
        link = login_links.redeem(settings, token, _source_ip(request))
        current, value = session.mint_session(settings, link.identity, "operator", "login_link")
    except LoginRefused as refused:
        return _login_page(request, refused.message, refused.status)
    except ConsoleUnavailable as exc:
        return _error(None, 503, str(exc), prefix)
    audit_log.record(
        settings,
        "console_login",
        link.identity,
        audit_log.session_correlation(current.sid),
        {"role": "operator", "via": "login_link", "link_id": link.link_id, "source_ip": _source_ip(request)},
    )
    path = f"{prefix}/console"
    return render.redirect(path, {"Set-Cookie": session.cookie(session.COOKIE, value, path, settings, session.SESSION_SECONDS)})


@operator_page
def console_logout(page: Page) -> Response:
    from chalicelib.console import audit_log, render, session

    audit_log.record(page.settings, "console_logout", page.actor, audit_log.session_correlation(page.session.sid), {})
    gone = session.cookie(session.COOKIE, "", f"{page.prefix}/console", page.settings, 0)
    return render.redirect(f"{page.prefix}/console/login", {"Set-Cookie": gone})


# ----------------------------------------------------------------------------- overview
@operator_page
def console_overview(page: Page) -> Response:
    from datetime import UTC, datetime

    from chalicelib.api.health import health
    from chalicelib.console import overview
    from chalicelib.console.render import page as render_page
    from chalicelib.errors import ConfigError

    now = datetime.now(UTC)
    try:
        config = _config()
    except ConfigError as exc:
        return render_page("overview.html", 503, ctx=page, nav="overview", problems=[str(p) for p in exc.problems], health=None)
    events, more_events = overview.events_by_type(page.settings)
    return render_page(
        "overview.html",
        ctx=page,
        nav="overview",
        problems=[],
        health=health(config, page.settings),
        hours=overview.HOURS,
        charts=overview.connector_charts(config, page.settings, now),
        events=events,
        more_events=more_events,
        dead=overview.dead_deliveries(page.settings),
        lags=overview.sync_lag(config, page.settings, now),
    )


# ----------------------------------------------------------------------------- quarantine
@operator_page
def console_quarantine(page: Page) -> Response:
    from chalicelib.api.admin import list_quarantine
    from chalicelib.console.render import page as render_page

    params = page.query()
    params.setdefault("status", "open")
    listing = list_quarantine(page.settings, params)
    masker = _masker(page, _config())
    records = [dict(r, message=masker.reason(str(r.get("message", "")), r.get("field"))) for r in listing["records"]]
    return render_page("quarantine.html", ctx=page, nav="quarantine", params=params, records=records, next=listing.get("next"))


@operator_page
def console_quarantined(page: Page, qid: str) -> Response:
    from chalicelib.api.admin import get_quarantined
    from chalicelib.console.mapping_lines import excerpt_for
    from chalicelib.console.render import page as render_page

    config = _config()
    item = get_quarantined(page.settings, qid)
    masker = _masker(page, config)
    shown = dict(item.get("input") or {})
    shown["payload"] = masker.raw_input(shown.get("payload"), item.get("mapping"))
    item["message"] = masker.reason(str(item.get("message", "")), item.get("field"))
    _audit_personal_view(page, f"quarantined input {qid}")
    return render_page(
        "quarantined.html", ctx=page, nav="quarantine", item=item, shown=shown, excerpt=excerpt_for(config, item.get("mapping"), item)
    )


@operator_page
def console_replay_one(page: Page, qid: str) -> Response:
    from chalicelib.api.admin import replay_one
    from chalicelib.console.render import page as render_page

    result = replay_one(_config(), page.settings, qid, page.actor)
    return render_page("replayed.html", ctx=page, nav="quarantine", results=[result], replayed=1, filters={})


@operator_page
def console_discard(page: Page, qid: str) -> Response:
    from urllib.parse import quote

    from chalicelib.api.admin import discard_one
    from chalicelib.api.requests import DiscardChoice, validate
    from chalicelib.console.render import redirect

    discard_one(page.settings, qid, page.actor, validate(DiscardChoice, {"reason": page.form.get("reason", "")}))
    return redirect(f"{page.prefix}/console/quarantine/{quote(qid)}")


def _quarantine_filter(page: Page) -> tuple[dict[str, str], dict[str, Any]]:
    """A filter form's chosen filters, and the request parameters they make with its limit and cursor."""
    filters = {k: page.form[k] for k in ("connector", "code", "mapping") if page.form.get(k)}
    params: dict[str, Any] = dict(filters)
    if page.form.get("limit"):
        limit = page.form["limit"].strip()
        params["limit"] = int(limit) if limit.isascii() and limit.isdigit() else limit  # anything else: refused, naming the field
    if page.form.get("after"):
        params["after"] = page.form["after"]  # "... the rest" after a request that ran out of time
    return filters, params


@operator_page
def console_replay_matching(page: Page) -> Response:
    from chalicelib.api.admin import replay_matching
    from chalicelib.api.deadline import deadline_from
    from chalicelib.api.errors import bad_request
    from chalicelib.api.requests import ReplayFilter, validate
    from chalicelib.console.render import page as render_page
    from chalicelib.console.routes import console

    filters, params = _quarantine_filter(page)
    if not filters and page.form.get("all") != "yes":
        raise bad_request("Choose a connector, a code or a mapping to replay, or tick 'every open record'.")
    wanted = validate(ReplayFilter, params)
    result = replay_matching(_config(), page.settings, wanted, page.actor, seconds_left=deadline_from(console.lambda_context))
    return render_page(
        "replayed.html",
        ctx=page,
        nav="quarantine",
        results=result["results"],
        replayed=result["replayed"],
        filters=filters,
        every=page.form.get("all") == "yes",
        limit=wanted.limit,
        more=result["next"],
    )


@operator_page
def console_discard_matching(page: Page) -> Response:
    """Discard the open records matching a filter, for one reason: at least one filter, as the API requires."""
    from chalicelib.api.admin import discard_matching
    from chalicelib.api.deadline import deadline_from
    from chalicelib.api.requests import DiscardFilter, validate
    from chalicelib.console.render import page as render_page
    from chalicelib.console.routes import console

    filters, params = _quarantine_filter(page)
    wanted = validate(DiscardFilter, dict(params, reason=page.form.get("reason", "")))
    result = discard_matching(page.settings, wanted, page.actor, seconds_left=deadline_from(console.lambda_context))
    return render_page(
        "discarded.html",
        ctx=page,
        nav="quarantine",
        results=result["results"],
        discarded=result["discarded"],
        reason=wanted.reason,
        filters=filters,
        limit=wanted.limit,
        more=result["next"],
    )


# ----------------------------------------------------------------------------- a customer's timeline
@operator_page
def console_customer(page: Page) -> Response:
    from chalicelib.api.admin import entity_key_from
    from chalicelib.console.render import page as render_page
    from chalicelib.console.timeline import entity_timeline

    params = page.query()
    if not params.get("source") and not params.get("entity"):
        return render_page("lookup.html", ctx=page, nav="customer", params=params)
    config = _config()
    key = entity_key_from(params.get("entity"), params.get("source"))
    view = entity_timeline(config, page.settings, key, _masker(page, config))
    _audit_personal_view(page, f"golden record of {key}")
    return render_page("timeline.html", ctx=page, nav="customer", view=view, params=params, categories=_categories())


def _categories() -> tuple[str, ...]:
    from chalicelib.api.sovereignty import CATEGORIES

    return CATEGORIES


@operator_page
def console_consent(page: Page) -> Response:
    from urllib.parse import urlencode

    from chalicelib.api.admin import entity_key_from
    from chalicelib.api.requests import ConsentChange, validate
    from chalicelib.api.sovereignty import set_consent
    from chalicelib.console.render import redirect

    key = entity_key_from(page.form.get("entity"), None)
    body = {"category": page.form.get("category"), "status": page.form.get("status"), "purpose": page.form.get("purpose") or None}
    set_consent(_config(), page.settings, key, validate(ConsentChange, body), page.actor)
    return redirect(f"{page.prefix}/console/customer?{urlencode({'entity': key})}#consent")


@operator_page
def console_customer_link(page: Page) -> Response:
    from chalicelib.api.admin import entity_key_from
    from chalicelib.console.links import base_url, issue_link
    from chalicelib.console.render import page as render_page

    key = entity_key_from(page.form.get("entity"), None)
    link = issue_link(page.settings, key, page.form.get("days", "7"), page.actor, base_url(page.request, page.settings))
    return render_page("link.html", ctx=page, nav="customer", link=link)


# ----------------------------------------------------------------------------- try a mapping
@operator_page
def console_try_form(page: Page) -> Response:
    return _try_page(page, page.query(), None)


@operator_page
def console_try(page: Page) -> Response:
    from chalicelib.api.mappings import regression, try_edited, try_mapping
    from chalicelib.api.requests import EditedMappingTry, RegressionRequest, read_json, validate
    from chalicelib.errors import ApiError

    form = page.form
    config = _config()
    try:
        payload = read_json(form.get("payload") or "", empty="")
    except ApiError as exc:
        return _try_page(page, form, None, f"The payload is not valid JSON: {exc.message}")
    if not isinstance(payload, dict):
        return _try_page(page, form, None, "The payload must be a JSON object ({…}).")
    edited = (form.get("edited") or "").strip()
    if form.get("action") == "regression":
        if not edited or not form.get("mapping"):
            return _try_page(page, form, None, "Comparing with recent inputs needs a deployed mapping and its edited text.")
        wanted = validate(RegressionRequest, {"mapping": edited})
        return _try_page(page, form, {"regression": regression(config, page.settings, form["mapping"], wanted)})
    if edited:
        result = try_edited(config, page.settings, validate(EditedMappingTry, {"mapping": edited, "payload": payload}))
    else:
        result = try_mapping(config, page.settings, form.get("mapping", ""), payload)
    return _try_page(page, form, _masker(page, config).dry_run(result))


def _try_page(page: Page, form: dict[str, str], result: dict[str, Any] | None, error: str | None = None) -> Response:
    from chalicelib.console.mapping_lines import file_text
    from chalicelib.console.render import page as render_page

    config = _config()
    names = sorted(config.mappings.mappings)
    chosen = form.get("mapping") or (names[0] if names else "")
    edited = form.get("edited")
    if edited is None and form.get("load") == "yes":
        edited = file_text(config, chosen)
    return render_page(
        "try.html",
        400 if error else 200,
        ctx=page,
        nav="try",
        names=names,
        chosen=chosen,
        payload=form.get("payload", ""),
        edited=edited or "",
        result=result,
        error=error,
    )


# ----------------------------------------------------------------------------- the customer's page
def my_data(request: Any, token: str) -> Response:
    return _customer_page(request, token, None)


def my_data_change(request: Any, token: str) -> Response:
    return _customer_page(request, token, _form(request))


def _customer_page(request: Any, token: str, form: dict[str, str] | None) -> Response:
    """Show the customer's categories; with a form, first apply their grant or revocation (then redirect)."""
    from urllib.parse import urlencode

    from chalicelib.console import customer_page, i18n, links, render, signing
    from chalicelib.errors import ApiError, ConsoleUnavailable, LinkRefused

    settings = _settings()
    prefix = _prefix(request)
    query = dict(request.query_params or {})
    lang = i18n.negotiate(request.headers.get("accept-language"), (form or {}).get("lang") or query.get("lang"))
    text = i18n.TEXT[lang]
    common: dict[str, Any] = {"prefix": prefix, "lang": lang, "t": text, "other_lang": "en" if lang == "zh-CN" else "zh-CN"}
    try:
        link = links.read_token(settings, token)
        csrf = signing.sign(settings, CUSTOMER_CSRF, token)
        if form is not None:
            if not signing.verify(settings, CUSTOMER_CSRF, token, form.get("csrf", "")):
                return render.page("refused.html", 403, **common)
            customer_page.change_consent(_config(), settings, link, form.get("category", ""), form.get("status", ""))
            done = urlencode({"lang": lang, "saved": f"{form.get('category')}:{form.get('status')}"})
            return render.redirect(f"{prefix}{links.PATH}{token}?{done}")
        rows = customer_page.category_rows(_config(), settings, link, lang)
    except LinkRefused:
        return render.page("refused.html", 403, **common)
    except ConsoleUnavailable:
        return render.page("customer_error.html", 503, message="", **common)
    except ApiError as exc:
        return render.page("customer_error.html", exc.status, message=exc.message, **common)
    saved = _saved_notice(query.get("saved", ""), lang)
    return render.page(
        "my_data.html", rows=rows, csrf=csrf, token=token, link=link, saved=saved, expires=_day(link.expires), path=links.PATH, **common
    )


def _saved_notice(saved: str, lang: str) -> str | None:
    from chalicelib.console import i18n

    category, _, status = saved.partition(":")
    if category not in i18n.CATEGORIES or status not in ("granted", "revoked"):
        return None
    return i18n.TEXT[lang][f"saved_{status}"].format(category=i18n.category_name(category, lang))


def _day(seconds: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")
