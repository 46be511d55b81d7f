"""The console's (``/console…``) and the customer page's (``/my-data/{link}``) URLs: a Blueprint app.py registers.

Imported with app.py, so it is only this table: each route hands the request to
chalicelib/console/pages.py, which is imported (with Jinja2 and the API functions) on the
first page request. On Lambda every imported module is compiled at cold start; this one stays small.
"""

from __future__ import annotations

from chalice.app import Blueprint, Response

console = Blueprint(__name__)
FORM = ["application/x-www-form-urlencoded"]


@console.route("/console/static/{name}", methods=["GET"])
def console_static(name: str) -> Response:
    from chalicelib.console.pages import console_static as page

    return page(console.current_request, name)


@console.route("/console/login", methods=["GET"])
def console_login_form() -> Response:
    from chalicelib.console.pages import console_login_form as page

    return page(console.current_request)


@console.route("/console/login", methods=["POST"], content_types=FORM)
def console_login() -> Response:
    from chalicelib.console.pages import console_login as page

    return page(console.current_request)


@console.route("/console/login-link/{token}", methods=["GET"])
def console_login_link(token: str) -> Response:
    from chalicelib.console.pages import console_login_link as page

    return page(console.current_request, token)


@console.route("/console/logout", methods=["POST"], content_types=FORM)
def console_logout() -> Response:
    from chalicelib.console.pages import console_logout as page

    return page(console.current_request)


@console.route("/console", methods=["GET"])
def console_overview() -> Response:
    from chalicelib.console.pages import console_overview as page

    return page(console.current_request)


@console.route("/console/quarantine", methods=["GET"])
def console_quarantine() -> Response:
    from chalicelib.console.pages import console_quarantine as page

    return page(console.current_request)


@console.route("/console/quarantine/{qid}", methods=["GET"])
def console_quarantined(qid: str) -> Response:
    from chalicelib.console.pages import console_quarantined as page

    return page(console.current_request, qid=qid)


@console.route("/console/quarantine/{qid}/replay", methods=["POST"], content_types=FORM)
def console_replay_one(qid: str) -> Response:
    from chalicelib.console.pages import console_replay_one as page

    return page(console.current_request, qid=qid)


@console.route("/console/quarantine/{qid}/discard", methods=["POST"], content_types=FORM)
def console_discard(qid: str) -> Response:
    from chalicelib.console.pages import console_discard as page

    return page(console.current_request, qid=qid)


@console.route("/console/quarantine/replay", methods=["POST"], content_types=FORM)
def console_replay_matching() -> Response:
    from chalicelib.console.pages import console_replay_matching as page

    return page(console.current_request)


@console.route("/console/quarantine/discard", methods=["POST"], content_types=FORM)
def console_discard_matching() -> Response:
    from chalicelib.console.pages import console_discard_matching as page

    return page(console.current_request)


@console.route("/console/customer", methods=["GET"])
def console_customer() -> Response:
    from chalicelib.console.pages import console_customer as page

    return page(console.current_request)


@console.route("/console/customer/consent", methods=["POST"], content_types=FORM)
def console_consent() -> Response:
    from chalicelib.console.pages import console_consent as page

    return page(console.current_request)


@console.route("/console/customer/link", methods=["POST"], content_types=FORM)
def console_customer_link() -> Response:
    from chalicelib.console.pages import console_customer_link as page

    return page(console.current_request)


@console.route("/console/try", methods=["GET"])
def console_try_form() -> Response:
    from chalicelib.console.pages import console_try_form as page

    return page(console.current_request)


@console.route("/console/try", methods=["POST"], content_types=FORM)
def console_try() -> Response:
    from chalicelib.console.pages import console_try as page

    return page(console.current_request)


@console.route("/my-data/{token}", methods=["GET"])
def my_data(token: str) -> Response:
    from chalicelib.console.pages import my_data as page

    return page(console.current_request, token)


@console.route("/my-data/{token}", methods=["POST"], content_types=FORM)
def my_data_change(token: str) -> Response:
    from chalicelib.console.pages import my_data_change as page

    return page(console.current_request, token)
