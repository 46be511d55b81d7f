"""Least privilege, enforced on the whole suite: every AWS call a Lambda handler makes is checked
against that function's generated IAM policy.

moto checks no IAM, so the suite plays IAM's part. Each of the app's Lambda entry points runs
with a context variable naming the function it is deployed as (the Chalice route handler is two
functions: the webhook door behind the HTTP API and the admin API behind the REST API). A
``before-parameter-build`` hook on every botocore client turns each call made while a handler
runs into the IAM requests AWS would authorise — (action, resource ARN) pairs, e.g. one per item
of a ``TransactWriteItems`` — and evaluates them against the statements infra/permissions.py
generates for that function, resolved for the stand-in's account, region and resource names.

A request the policy does not allow is answered as AWS would (``AccessDeniedException``) and
fails the test that made it, even when the code under test swallows the error. Calls made by the
tests themselves (setup, reading back) and by Lambda's event-source pollers (the local worker)
are not a function's calls and are not checked here; the pollers' permissions are required by
Lambda and granted from the event-source definitions (tests/infra/test_least_privilege.py).
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlparse

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"

CURRENT_FUNCTION: ContextVar[str | None] = ContextVar("salesbridge_lambda_function", default=None)


@dataclass(frozen=True)
class Request:
    """One IAM authorisation request: what a call needs (a call may need several)."""

    function: str
    action: str
    resource: str
    operation: str


@dataclass
class Ledger:
    """Every request the handlers made in this process, and the denied ones since the last ``take_denied``."""

    requests: list[Request] = field(default_factory=list)
    denied: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    enforcing: bool = True

    def take_denied(self) -> list[Request]:
        with self.lock:
            denied, self.denied = self.denied, []
        return denied


LEDGER = Ledger()


# ----------------------------------------------------------------------------- which function runs
@contextmanager
def running(function: str) -> Iterator[None]:
    token = CURRENT_FUNCTION.set(function)
    try:
        yield
    finally:
        CURRENT_FUNCTION.reset(token)


def _function_of_http(event: dict[str, Any]) -> str:
    from infra.template import WEBHOOK_ROUTES

    context = event.get("requestContext") or {}
    # Any method on the door's path is the door's function: deployed, the HTTP API answers other methods
    # itself; locally the door's function answers them (405) and counts the refusal.
    door_paths = {path for _, path in WEBHOOK_ROUTES}
    return "WebhookHandler" if context.get("resourcePath") in door_paths else "APIHandler"


def _patch_handlers() -> None:
    """Wrap Chalice's entry points (the ones Lambda calls) so each call runs as its function."""
    from chalice import app as chalice_app
    from chalice.utils import to_cfn_resource_name

    rest_call = chalice_app.Chalice.__call__
    source_call = chalice_app.EventSourceHandler.__call__

    def chalice_call(self: Any, event: Any, context: Any) -> Any:
        with running(_function_of_http(event)):
            return rest_call(self, event, context)

    def event_source_call(self: Any, event: Any, context: Any) -> Any:
        with running(to_cfn_resource_name(self.func.__name__)):
            return source_call(self, event, context)

    chalice_app.Chalice.__call__ = chalice_call  # type: ignore[method-assign]
    chalice_app.EventSourceHandler.__call__ = event_source_call  # type: ignore[method-assign]


def _patch_clients(check: Callable[..., None]) -> None:
    """Register the check on every botocore client created from now on."""
    import botocore.session

    create_client = botocore.session.Session.create_client

    def create_checked_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, *args, **kwargs)
        client.meta.events.register("before-parameter-build", check)
        return client

    botocore.session.Session.create_client = create_checked_client  # type: ignore[method-assign]


def install() -> None:
    _patch_handlers()
    _patch_clients(_check_call)


# ----------------------------------------------------------------------------- calls → IAM requests
def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def _table(name: str) -> str:
    return name if name.startswith("arn:") else _arn("dynamodb", f"table/{name}")


def _queue(url: str) -> str:
    path = urlparse(url).path.strip("/").split("/")
    return _arn("sqs", path[-1])


def _bus(name: str | None) -> str:
    if name and name.startswith("arn:"):
        return name
    return _arn("events", f"event-bus/{name or 'default'}")


_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
_SQS_BATCH = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
_S3_ACTIONS = {"HeadObject": "GetObject", "ListObjectsV2": "ListBucket", "ListObjects": "ListBucket", "HeadBucket": "ListBucket"}
_NO_AUTHORISATION = {("sts", "GetCallerIdentity")}  # IAM never denies it


def requests_of(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """The (action, resource ARN) pairs IAM authorises for one API call."""
    if (service, operation) in _NO_AUTHORISATION:
        return []
    if service == "dynamodb":
        if operation == "TransactWriteItems":
            return [
                (f"dynamodb:{_TRANSACT[kind]}", _table(body["TableName"]))
                for item in params["TransactItems"]
                for kind, body in item.items()
            ]
        if operation == "TransactGetItems":
            return [("dynamodb:GetItem", _table(item["Get"]["TableName"])) for item in params["TransactItems"]]
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{operation}", _table(name)) for name in params["RequestItems"]]
        resource = _table(params["TableName"])
        if params.get("IndexName"):
            resource += f"/index/{params['IndexName']}"
        return [(f"dynamodb:{operation}", resource)]
    if service == "sqs":
        action = _SQS_BATCH.get(operation, operation)
        if "QueueUrl" in params:
            return [(f"sqs:{action}", _queue(params["QueueUrl"]))]
        return [(f"sqs:{action}", _arn("sqs", params.get("QueueName", "*")))]
    if service == "events" and operation == "PutEvents":
        return [("events:PutEvents", _bus(entry.get("EventBusName"))) for entry in params["Entries"]]
    if service == "ssm":
        names = params.get("Names") or [params["Name"]]
        return [(f"ssm:{operation}", _arn("ssm", f"parameter{n}" if n.startswith("/") else f"parameter/{n}")) for n in names]
    if service == "secretsmanager":
        secret = params["SecretId"]
        # A name matches its ARN with AWS's 6-character suffix; the stand-in gives the same shape.
        return [(f"secretsmanager:{operation}", secret if secret.startswith("arn:") else _arn("secretsmanager", f"secret:{secret}-AbCdEf"))]
    if service == "s3" and "Bucket" in params:
        target = f"arn:aws:s3:::{params['Bucket']}" + (f"/{params['Key']}" if "Key" in params else "")
        return [(f"s3:{_S3_ACTIONS.get(operation, operation)}", target)]
    return [(f"{service}:{operation}", "*")]


# ----------------------------------------------------------------------------- policy evaluation
def matches(pattern: str, value: str) -> bool:
    """IAM's wildcards: ``*`` any run of characters (``/`` and ``:`` included), ``?`` one; actions ignore case."""
    return fnmatch.fnmatchcase(value, pattern)


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    allowed = False
    for statement in statements:
        actions = _as_list(statement.get("Action"))
        resources = _as_list(statement.get("Resource"))
        if not any(matches(a.lower(), action.lower()) for a in actions):
            continue
        if not any(matches(r, resource) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


@cache
def policies() -> dict[str, list[dict[str, Any]]]:
    """Each function's statements, resolved for the stand-in (stage ``local``, its names and ARNs)."""
    from infra import permissions
    from tests.infra.cfn import standin_resolver

    resolve = standin_resolver(ACCOUNT, REGION)
    return {name: resolve(permissions.policy_document(name))["Statement"] for name in permissions.functions()}


def _check_call(params: dict[str, Any], model: Any, **_: Any) -> None:
    function = CURRENT_FUNCTION.get()
    if function is None or not LEDGER.enforcing:
        return
    service = model.service_model.service_name
    statements = policies().get(function)
    for action, resource in requests_of(service, model.name, params):
        request = Request(function, action, resource, model.name)
        with LEDGER.lock:
            LEDGER.requests.append(request)
        if statements is None or not allows(statements, action, resource):
            with LEDGER.lock:
                LEDGER.denied.append(request)
            raise _access_denied(request, model.name)


def _access_denied(request: Request, operation: str) -> Exception:
    from botocore.exceptions import ClientError

    message = (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{request.function}Role/{request.function} is not authorized to perform: "
        f"{request.action} on resource: {request.resource} because no identity-based policy allows the {request.action} action"
    )
    return ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation
    )
