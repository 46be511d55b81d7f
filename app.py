"""salesbridge: the Lambda entry points. Each handler hands over to chalicelib."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalice import Chalice, IAMAuthorizer, Rate, Response

from chalicelib.console.routes import console
from chalicelib.errors import ApiError
from chalicelib.runtime import snapstart

# X-Ray is installed when the first AWS or HTTP client is made (chalicelib/runtime/tracing.py), not at import:
# a cold start that needs no client (GET /health) does not pay for the SDK and its patches.
app = Chalice(app_name="salesbridge")
app.api.binary_types = []  # webhook bodies are read raw below, whatever their content type
app.register_blueprint(console)  # /console and the customers' /my-data/{link} pages (chalicelib/console)

# Operator routes: AWS IAM (SigV4) at API Gateway in deployed stages; the local stack checks a
# bearer token instead (chalicelib/api/auth.py). Every route except the door and /health has it.
OPERATOR = IAMAuthorizer()

INBOUND_QUEUE = "salesbridge-inbound.fifo"
WEBHOOK_CONTENT_TYPES = [
    "application/json",
    "application/xml",
    "text/xml",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/soap+xml",
]


def _plain(value: Any) -> Any:
    """JSON for DynamoDB numbers: counters as integers, money and the rest as exact text."""
    from decimal import Decimal

    if isinstance(value, Decimal) and value.as_tuple().exponent == 0:
        return int(value)
    return str(value)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body, default=_plain, ensure_ascii=False),
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _admin(handler: Callable[..., Any]) -> Callable[..., Response]:
    """Admin routes: the verified caller (IAM, or the local token), JSON errors, never a 500 for bad input."""

    def wrapped(**params: Any) -> Response:
        from chalicelib.api.auth import require_admin

        request = app.current_request
        assert request is not None
        try:
            actor = require_admin(dict(request.headers), request.context)
            return _json(200, handler(actor, request, **params))
        except ApiError as exc:
            return _json(exc.status, exc.body(), exc.headers)

    wrapped.__name__ = handler.__name__
    return wrapped


def _query(request: Any) -> dict[str, str]:
    return dict(request.query_params or {})


def _config():
    from chalicelib.configuration import current

    return current()


def _connectors():
    """The door's connectors: the connector files alone when the build showed the whole configuration loads."""
    from chalicelib.ingress.door import door_connectors

    return door_connectors()


def _settings():
    from chalicelib.runtime.settings import get_settings

    return get_settings()


@app.middleware("all")
def observe(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Every invocation: JSON log lines that name the function, its metrics written at the end."""
    from chalicelib.runtime import observability

    with observability.invocation(_function_name(event)):
        response = get_response(event)
        if response_status(response) in (405, 415) and _context(event).get("resourcePath") == "/webhooks/{connector}":
            return _refused_before_the_door(event, response)
        return response


def response_status(response: Any) -> int | None:
    return getattr(response, "status_code", None)


def _context(event: Any) -> dict[str, Any]:
    context = getattr(event, "context", None)
    return context if isinstance(context, dict) else {}


def _refused_before_the_door(request: Any, response: Response) -> Response:
    """Chalice answered 405 or 415 at the door without calling it: counted like every other refusal."""
    from chalicelib.errors import ConfigError
    from chalicelib.ingress.door import refused_before_the_door

    try:
        connectors = _connectors()
    except ConfigError:
        return response
    if not refused_before_the_door((request.uri_params or {}).get("connector", ""), request, connectors, _settings(), response.status_code):
        return _json(503, {"error": "unavailable", "message": "the request could not be processed now; please retry"})
    return response


@app.middleware("http")
def one_error_shape(request: Any, get_response: Callable[[Any], Response]) -> Response:
    """Errors Chalice answers itself (405, 415, an unhandled exception) in the routes' shape."""
    response = get_response(request)
    if response.status_code >= 400 and isinstance(response.body, dict):
        from chalicelib.api.errors import from_chalice

        body = from_chalice(response.body)
        if body is not None:
            headers = {k: str(v) for k, v in response.headers.items() if k.lower() != "content-type"}
            return _json(response.status_code, body, headers)
    return response


def _function_name(event: Any) -> str:
    context = getattr(event, "context", None) or app.lambda_context
    return str(getattr(context, "function_name", None) or "api")


# ----------------------------------------------------------------------------- the door
@app.route("/webhooks/{connector}", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def webhook(connector: str) -> Response:
    from chalicelib.errors import ConfigError
    from chalicelib.ingress.door import receive

    request = app.current_request
    try:
        connectors = _connectors()
    except ConfigError:
        # Not acknowledged, so the vendor retries once the configuration is fixed: nothing is lost.
        return _json(
            503, {"error": "configuration_invalid", "message": "salesbridge's configuration does not load; see GET /health/details"}
        )
    reply = receive(connector, request, connectors, _settings())
    headers: dict[str, str | list[str]] = dict(reply.headers)
    # Lambda serialises the response as JSON: every reply, Salesforce's SOAP ack too, is text (door.Reply).
    return Response(body=reply.body, status_code=reply.status, headers=headers)


@app.route("/health", methods=["GET"])
def health() -> Response:
    """Liveness for anyone (load balancers, uptime checks): nothing about the stage or its configuration."""
    from chalicelib.errors import ConfigError

    try:
        _connectors()
    except ConfigError:
        return _json(503, {"status": "unavailable", "error": "configuration_invalid", "message": "the configuration does not load"})
    return _json(200, {"status": "ok"})


@app.route("/health/details", methods=["GET"], authorizer=OPERATOR)
def health_details() -> Response:
    """Stage, connectors, mapping versions, and a broken configuration's problems by file and line: operators only."""
    from chalicelib.api.auth import require_admin
    from chalicelib.api.health import health as health_report
    from chalicelib.errors import ConfigError

    request = app.current_request
    assert request is not None
    try:
        require_admin(dict(request.headers), request.context)
    except ApiError as exc:
        return _json(exc.status, exc.body(), exc.headers)
    try:
        config = _config()
    except ConfigError as exc:
        return _json(503, {"error": "configuration_invalid", "message": str(exc), "problems": [str(p) for p in exc.problems]})
    return _json(200, health_report(config, _settings()))


# ----------------------------------------------------------------------------- operator surface
@app.route("/audit", methods=["GET"], authorizer=OPERATOR)
@_admin
def audit_trail(actor: str, request: Any) -> Any:
    from chalicelib.api.admin import audit_trail as read

    return read(_settings(), _query(request))


@app.route("/audit/verify", methods=["GET"], authorizer=OPERATOR)
@_admin
def audit_verify(actor: str, request: Any) -> Any:
    from chalicelib.api.admin import verify_chain

    return verify_chain(_settings(), _query(request))


@app.route("/state", methods=["GET"], authorizer=OPERATOR)
@_admin
def state(actor: str, request: Any) -> Any:
    from chalicelib.api.admin import entity_state

    return entity_state(_settings(), _query(request))


@app.route("/events", methods=["GET"], authorizer=OPERATOR)
@_admin
def events(actor: str, request: Any) -> Any:
    from chalicelib.api.admin import list_events

    return list_events(_settings(), _query(request))


@app.route("/quarantine", methods=["GET"], authorizer=OPERATOR)
@_admin
def quarantine_list(actor: str, request: Any) -> Any:
    from chalicelib.api.admin import list_quarantine

    return list_quarantine(_settings(), _query(request))


@app.route("/quarantine/{qid}", methods=["GET"], authorizer=OPERATOR)
@_admin
def quarantine_get(actor: str, request: Any, qid: str) -> Any:
    from chalicelib.api.admin import get_quarantined

    return get_quarantined(_settings(), qid)


@app.route("/quarantine/{qid}/replay", methods=["POST"], authorizer=OPERATOR)
@_admin
def quarantine_replay(actor: str, request: Any, qid: str) -> Any:
    from chalicelib.api.admin import replay_one
    from chalicelib.api.requests import ReplayChoice, parse_body

    return replay_one(_config(), _settings(), qid, actor, parse_body(ReplayChoice, request.raw_body))


@app.route("/quarantine/{qid}/discard", methods=["POST"], authorizer=OPERATOR)
@_admin
def quarantine_discard(actor: str, request: Any, qid: str) -> Any:
    from chalicelib.api.admin import discard_one
    from chalicelib.api.requests import DiscardChoice, parse_body

    return discard_one(_settings(), qid, actor, parse_body(DiscardChoice, request.raw_body))


@app.route("/quarantine/discard", methods=["POST"], authorizer=OPERATOR)
@_admin
def quarantine_discard_matching(actor: str, request: Any) -> Any:
    from chalicelib.api.admin import discard_matching
    from chalicelib.api.deadline import deadline_from
    from chalicelib.api.requests import DiscardFilter, parse_body

    wanted = parse_body(DiscardFilter, request.raw_body)
    return discard_matching(_settings(), wanted, actor, seconds_left=deadline_from(app.lambda_context))


@app.route("/quarantine/replay", methods=["POST"], authorizer=OPERATOR)
@_admin
def quarantine_replay_matching(actor: str, request: Any) -> Any:
    from chalicelib.api.admin import replay_matching
    from chalicelib.api.deadline import deadline_from
    from chalicelib.api.requests import ReplayFilter, parse_body

    wanted = parse_body(ReplayFilter, request.raw_body)
    return replay_matching(_config(), _settings(), wanted, actor, seconds_left=deadline_from(app.lambda_context))


@app.route("/consent", methods=["GET", "PUT"], authorizer=OPERATOR)
@_admin
def consent_registry(actor: str, request: Any) -> Any:
    from chalicelib.api import sovereignty
    from chalicelib.api.admin import entity_key_from
    from chalicelib.api.requests import ConsentChange, parse_body

    params = _query(request)
    key = entity_key_from(params.get("entity"), params.get("source"))
    if request.method == "GET":
        return sovereignty.get_consent(_config(), _settings(), key)
    change = parse_body(ConsentChange, request.raw_body)
    return sovereignty.set_consent(_config(), _settings(), key, change, actor)


@app.route("/usage", methods=["GET"], authorizer=OPERATOR)
@_admin
def usage(actor: str, request: Any) -> Any:
    from chalicelib.api import sovereignty
    from chalicelib.api.admin import entity_key_from

    params = _query(request)
    return sovereignty.usage_report(_settings(), entity_key_from(params.get("entity"), params.get("source")), _config())


@app.route("/erase", methods=["POST"], authorizer=OPERATOR)
@_admin
def erase(actor: str, request: Any) -> Any:
    from chalicelib.api import sovereignty
    from chalicelib.api.admin import entity_key_from
    from chalicelib.api.deadline import deadline_from
    from chalicelib.api.requests import EraseRequest, parse_body

    params, body = _query(request), parse_body(EraseRequest, request.raw_body)
    if not body.confirm:
        raise ApiError(400, "confirmation_required", 'erasure cannot be undone: send {"confirm": true}')
    key = entity_key_from(params.get("entity"), params.get("source"))
    identifiers = sovereignty.identifiers_of(body.identifiers)
    return sovereignty.erase(_settings(), key, actor, _config().pii_key, identifiers, seconds_left=deadline_from(app.lambda_context))


@app.route("/identity", methods=["GET"], authorizer=OPERATOR)
@_admin
def identity_show(actor: str, request: Any) -> Any:
    from chalicelib.api import identity
    from chalicelib.api.admin import entity_key_from

    params = _query(request)
    return identity.show(_settings(), entity_key_from(params.get("entity"), params.get("source")))


@app.route("/identity/unmerge", methods=["POST"], authorizer=OPERATOR)
@_admin
def identity_unmerge(actor: str, request: Any) -> Any:
    from chalicelib.api import identity
    from chalicelib.api.admin import entity_key_from
    from chalicelib.api.requests import UnmergeRequest, parse_body

    params, member = _query(request), parse_body(UnmergeRequest, request.raw_body).member
    return identity.unmerge(_config(), _settings(), entity_key_from(params.get("entity"), params.get("source")), member, actor)


@app.route("/identity/merge", methods=["POST"], authorizer=OPERATOR)
@_admin
def identity_merge(actor: str, request: Any) -> Any:
    from chalicelib.api import identity
    from chalicelib.api.admin import entity_key_from
    from chalicelib.api.requests import MergeRequest, parse_body

    params, other = _query(request), parse_body(MergeRequest, request.raw_body).other
    return identity.merge(_config(), _settings(), entity_key_from(params.get("entity"), params.get("source")), other, actor)


@app.route("/customer-links", methods=["POST"], authorizer=OPERATOR)
@_admin
def customer_link(actor: str, request: Any) -> Any:
    from chalicelib.api.admin import entity_key_from
    from chalicelib.api.requests import CustomerLinkRequest, parse_body
    from chalicelib.console.links import base_url, issue_link

    params = _query(request)
    days = parse_body(CustomerLinkRequest, request.raw_body).days
    key = entity_key_from(params.get("entity"), params.get("source"))
    return issue_link(_settings(), key, days, actor, base_url(request, _settings()))


@app.route("/login-links", methods=["POST"], authorizer=OPERATOR)
@_admin
def console_login_link(actor: str, request: Any) -> Any:
    """A one-time link that opens a console session as the caller (deployed stages authenticate with IAM, not a token)."""
    from chalicelib.api.requests import LoginLinkRequest, parse_body
    from chalicelib.console.links import base_url
    from chalicelib.console.login_links import issue

    parse_body(LoginLinkRequest, request.raw_body)
    return issue(_settings(), actor, base_url(request, _settings()))


@app.route("/mappings/try", methods=["POST"], authorizer=OPERATOR)
@_admin
def mapping_try_edited(actor: str, request: Any) -> Any:
    from chalicelib.api.mappings import try_edited
    from chalicelib.api.requests import EditedMappingTry, parse_body

    return try_edited(_config(), _settings(), parse_body(EditedMappingTry, request.raw_body))


@app.route("/mappings/{name}/try", methods=["POST"], authorizer=OPERATOR)
@_admin
def mapping_try(actor: str, request: Any, name: str) -> Any:
    from chalicelib.api.mappings import try_mapping
    from chalicelib.api.requests import read_object

    return try_mapping(_config(), _settings(), name, read_object(request.raw_body))


@app.route("/mappings/{name}/regression", methods=["POST"], authorizer=OPERATOR)
@_admin
def mapping_regression(actor: str, request: Any, name: str) -> Any:
    from chalicelib.api.mappings import regression
    from chalicelib.api.requests import RegressionRequest, parse_body

    return regression(_config(), _settings(), name, parse_body(RegressionRequest, request.raw_body))


@app.route("/events/redrive", methods=["POST"], authorizer=OPERATOR)
@_admin
def events_redrive(actor: str, request: Any) -> Any:
    """Deliver again the events whose dispatch did not finish (the stream gave up on them)."""
    from chalicelib.api.deadline import deadline_from
    from chalicelib.api.redrive import redrive
    from chalicelib.api.requests import RedriveRequest, parse_body

    limit = parse_body(RedriveRequest, request.raw_body).limit
    return redrive(_dispatcher().deliver, _settings(), limit=limit, seconds_left=deadline_from(app.lambda_context)).view()


@app.route("/actions/redrive", methods=["POST"], authorizer=OPERATOR)
@_admin
def actions_redrive(actor: str, request: Any) -> Any:
    """Send a dead action again: {"event": <event id>, "action": <action name>}."""
    from chalicelib.api.actions import redrive_action
    from chalicelib.api.requests import ActionRedriveRequest, parse_body

    return redrive_action(_dispatcher(), _config(), _settings(), parse_body(ActionRedriveRequest, request.raw_body))


def _dispatcher() -> Any:
    """Delivery to the subscribers and the rules' actions (chalicelib/dispatch/deliver.py)."""
    from chalicelib.dispatch.deliver import Dispatcher
    from chalicelib.runtime.secrets import default_resolver

    config = _config()
    return Dispatcher(config.subscribers, _settings(), default_resolver().get, actions=config.rules.actions, connectors=config.connectors)


# ----------------------------------------------------------------------------- queue, stream, schedule
@app.on_sqs_message(queue=INBOUND_QUEUE, batch_size=10)
def process_inbound(event: Any) -> dict[str, Any]:
    """Both lanes: the webhook lane (this decorator) and the bulk lane (its event source is added by infra/template.py)."""
    from chalicelib.pipeline.batch import messages_from_event, process_batch
    from chalicelib.pipeline.processor import Processor

    settings = _settings()
    response, _ = process_batch(messages_from_event(event.to_dict()), Processor.of(_config(), settings), settings.stats_table)
    return response


@app.on_dynamodb_record(
    stream_arn="arn:aws:dynamodb:us-east-1:000000000000:table/salesbridge-events/stream/local",
    batch_size=25,
    starting_position="TRIM_HORIZON",
)
def dispatch_events(event: Any) -> dict[str, Any]:
    """The events table's stream (its ARN is set by infra/template.py at package time)."""
    return _dispatcher().handle_stream(event.to_dict())


@app.schedule(Rate(5, unit=Rate.MINUTES))
def scheduled_sync(event: Any) -> dict[str, Any]:
    """Pull every due connector stream into the inbound queue (see chalicelib/sync/scheduler.py)."""
    from chalicelib.sync.scheduler import run_due_streams

    context = event.context
    runs = run_due_streams(_config(), _settings(), deadline=lambda: context.get_remaining_time_in_millis() / 1000)
    return {"runs": [run.__dict__ for run in runs]}


@app.schedule(Rate(1, unit=Rate.MINUTES))
def fire_timers(event: Any) -> dict[str, Any]:
    """Fire every response deadline whose time has come (see chalicelib/pipeline/timers.py)."""
    from chalicelib.pipeline.timers import run_scheduled

    context = event.context
    run = run_scheduled(_config(), _settings(), seconds_left=lambda: context.get_remaining_time_in_millis() / 1000)
    return run.view()


def _prime_door() -> None:
    from chalicelib.ingress.door import prime

    prime()


# In an init that Lambda snapshots (SnapStart: the door's published versions), the door's first-request
# work is done now, once per version, instead of after every restore (chalicelib/runtime/snapstart.py).
snapstart.prepare({snapstart.DOOR_FUNCTION: _prime_door})
