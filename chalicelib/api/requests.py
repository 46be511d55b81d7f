"""The JSON bodies the operator routes take, one pydantic model each: a wrong body is a 400 that names the field.

``parse_body`` reads a body strictly (no NaN or Infinity, no repeated keys, fractions as
Decimal so money stays exact) and validates it against the route's model; unknown fields are
refused too, so a mistyped filter (``{"conector": …}``) cannot widen a replay to everything.
Every problem is reported at once as ``field: message`` in the 400's message.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, StringConstraints, ValidationError, model_validator

from chalicelib.domain.consent import DataCategory
from chalicelib.errors import ApiError

Name = Annotated[StrictStr, Field(min_length=1, max_length=200)]
MappingText = Annotated[StrictStr, Field(min_length=1, max_length=256 * 1024)]
Payload = dict[str, Any]


class RequestBody(BaseModel):
    """Unknown fields are errors; values are fixed once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ReplayChoice(RequestBody):
    """``POST /quarantine/{id}/replay``: through an edited mapping file (its text), and/or only what it would do (dry run)."""

    mapping_file: MappingText | None = None
    dry_run: StrictBool = False


Reason = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class DiscardChoice(RequestBody):
    """``POST /quarantine/{id}/discard``: why the record is given up, kept on it and in the input's audit trail."""

    reason: Reason


class QuarantineFilter(RequestBody):
    """Which open quarantined records a request takes: all the given filters match, newest first, up to ``limit``."""

    connector: Name | None = None
    code: Name | None = None
    mapping: Name | None = None
    limit: Annotated[StrictInt, Field(ge=1, le=200)] = 200
    after: Annotated[StrictStr, Field(min_length=1, max_length=4096)] | None = None  # the ``next`` of the previous answer


class ReplayFilter(ReplayChoice, QuarantineFilter):
    """``POST /quarantine/replay``: every open record matching all the given filters, replayed as chosen."""


class DiscardFilter(DiscardChoice, QuarantineFilter):
    """``POST /quarantine/discard``: every open record matching the filters, discarded for the one reason.

    A discard is final, so at least one filter is required (a replay may take every record; a discard may not).
    """

    @model_validator(mode="after")
    def _filtered(self) -> DiscardFilter:
        if not (self.connector or self.code or self.mapping):
            raise ValueError("name a connector, a code or a mapping: a discard is final, it never takes every record at once")
        return self


class ConsentChange(RequestBody):
    """``PUT /consent``: grant or revoke one data category."""

    category: DataCategory
    status: Literal["granted", "revoked"]
    purpose: Annotated[StrictStr, Field(max_length=200)] | None = None


class EraseRequest(RequestBody):
    """``POST /erase``: erasure cannot be undone, so the body must confirm it."""

    confirm: StrictBool = False
    identifiers: dict[StrictStr, list[StrictStr]] | None = Field(
        default=None, description="values the golden record no longer holds, by kind: email, phone, tax_id, name"
    )


class CustomerLinkRequest(RequestBody):
    """``POST /customer-links``: how long the customer's link stays valid."""

    days: Annotated[StrictInt, Field(ge=1, le=90)] = 7


class EditedMappingTry(RequestBody):
    """``POST /mappings/try``: an edited mapping file's text and a source record."""

    mapping: MappingText
    payload: Payload


class RegressionRequest(RequestBody):
    """``POST /mappings/{name}/regression``: the edited file, run against up to ``limit`` recent inputs."""

    mapping: MappingText
    limit: Annotated[StrictInt, Field(ge=1, le=500)] = 200


class RedriveRequest(RequestBody):
    """``POST /events/redrive``: at most ``limit`` unfinished events."""

    limit: Annotated[StrictInt, Field(ge=1, le=1000)] = 100


class ActionRedriveRequest(RequestBody):
    """``POST /actions/redrive``: one dead action of one event, sent again."""

    event: Name
    action: Name


class UnmergeRequest(RequestBody):
    """``POST /identity/unmerge``: the member to move out of the golden record."""

    member: Annotated[StrictStr, Field(min_length=1, max_length=1000, description="<system>/<entity type>/<source id>")]


class MergeRequest(RequestBody):
    """``POST /identity/merge``: the other entity, known by the operator to be the same one."""

    other: Annotated[StrictStr, Field(alias="with", min_length=1, max_length=1000, description="<entity type>#<canonical id>")]


class LoginLinkRequest(RequestBody):
    """``POST /login-links``: nothing to choose; the link is for the caller."""


def read_json(raw: bytes | str | None, *, empty: str = "{}") -> Any:
    """A body as JSON, strictly; raises a 400 ``malformed_json`` saying why."""
    text = raw if raw else empty
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except _Refused as exc:
        raise ApiError(400, "malformed_json", f"the body is not acceptable JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "malformed_json", "the body's JSON is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, over-long integers, bytes that are not UTF-8
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None


def read_object(raw: bytes | str | None) -> dict[str, Any]:
    """A body that must be one JSON object (a source record for a dry run)."""
    body = read_json(raw)
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "the body must be a JSON object")
    return body


def parse_body[M: BaseModel](model: type[M], raw: bytes | str | None) -> M:
    """The route's body as its model, or a 400 ``invalid_body`` naming each wrong field."""
    return validate(model, read_object(raw))


def validate[M: BaseModel](model: type[M], body: dict[str, Any]) -> M:
    """Values from elsewhere (a console form, the customer page) checked by the same model as the JSON body."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ApiError(400, "invalid_body", "; ".join(describe(exc, body, model))) from None


def describe(exc: ValidationError, body: Any, model: type[BaseModel]) -> list[str]:
    """``field: message`` per problem, worded by the one pydantic-error translator the configuration uses."""
    from chalicelib.config.models import problems_of

    return [f"{p.field}: {p.message}" if p.field else p.message for p in problems_of(exc, body, "body", [model])]


class _Refused(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _Refused(f"the key {key!r} appears twice in one object")
        found[key] = value
    return found
