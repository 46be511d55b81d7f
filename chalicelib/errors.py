"""Every error salesbridge raises on purpose, in one place.

Catch ``SalesbridgeError`` to catch them all. Each class says who raises it and what
the caller does about it::

    SalesbridgeError
    ├── ConfigError                 configuration files: every problem with file:line:column
    ├── SecretError                 a secret reference could not be resolved
    ├── ExpressionError             an expression does not compile (column within it)
    │   └── ConditionError          ... in a trigger rule's condition
    ├── EvaluationError             an expression failed on this data
    ├── MappingError
    │   ├── PathError               a source path does not parse (load time)
    │   ├── TransformConfigError    a transform's name or argument is wrong (load time)
    │   ├── ValueProblem            a value a transform cannot handle (run time, inside a field)
    │   └── RecordMappingError      a record the mapping cannot turn into a canonical record
    ├── TriggerInputError           a record the triggers cannot apply as it is: quarantine it
    ├── StateKeysMissing            evaluation needs state that was not read: read it, retry
    ├── AmbiguousIdentity           a record's match keys point at two entities and no link decides: quarantine
    ├── StoreError
    │   ├── ConflictError           another writer changed an item that was read: re-read, re-apply
    │   ├── Unstorable              DynamoDB refuses the record's items as they are (size, a value): quarantine
    │   ├── PayloadMissing          a raw payload kept in S3 is gone (expired or erased)
    │   └── EventAlreadyStored      an event id is already in the outbox: apply without emitting it
    ├── RetryLater                  contention did not settle: leave the message on the queue
    ├── EnqueueError                some records could not be queued: do not acknowledge them
    ├── RecordTooLarge              a record larger than a queue message: refused at the door (413)
    ├── RejectedRequest             the webhook door refuses a request (status, audit reason)
    │   ├── SignatureError          401: unsigned, forged, stale or from an unknown sender
    │   ├── BodyTooLarge            413
    │   └── MalformedRequest        400: the envelope needed to verify cannot be read
    ├── DeliveryError               400: a verified delivery whose body cannot become records
    ├── UnsafeOrMalformedXml        XML we will not read (DTDs, entities, or not XML)
    ├── CallbackCryptoError         a WeCom / DingTalk ciphertext that does not decrypt
    ├── DeliveryFailed              one attempt to deliver an event to a target failed
    ├── ConnectorError              a vendor API call failed in a way the caller must see
    │   ├── VendorApiError          an answer retrying will not fix (400, 404 ...)
    │   │   └── AuthError           credentials refused even after a fresh token
    │   ├── RetryableError          429, 5xx or a vendor limit signal (retry_after if given)
    │   │   └── RateLimited
    │   ├── MalformedPageError      a page that cannot be trusted
    │   ├── PaginationLoopError     the API handed back a page token it already gave
    │   └── BudgetExhausted         no token in the shared rate budget before the deadline
    ├── ConsoleUnavailable          the console's signing key cannot be read: 503
    ├── LoginRefused                a console login that is not accepted
    ├── LinkRefused                 a customer link that is malformed, tampered with or expired: 403
    └── ApiError                    the operator API answers this HTTP status and JSON error

Errors that must also be caught as ``ValueError`` by callers that validate input keep
that base too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.config.problems import Problem
    from chalicelib.ingress.verify.base import VendorReply


class SalesbridgeError(Exception):
    """The root of every error salesbridge raises on purpose."""


# --------------------------------------------------------------------------- configuration


class ConfigError(SalesbridgeError):
    """One or more configuration problems, all reported together."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.column))
        super().__init__("\n".join(str(p) for p in self.problems))


class SecretError(SalesbridgeError):
    """A secret could not be resolved. The message names the reference, never a value."""


# --------------------------------------------------------------------------- expressions


class ExpressionError(SalesbridgeError, ValueError):
    """An expression that may not be compiled; ``column`` is 1-based within the expression."""

    def __init__(self, message: str, column: int = 1):
        self.message = message
        self.column = column
        super().__init__(f"column {column}: {message}")


class ConditionError(SalesbridgeError, ValueError):
    """A trigger condition that is not a valid expression; the message says where and why."""


class EvaluationError(SalesbridgeError):
    """An expression that failed on this data (wrong type, division by zero, ...)."""


# --------------------------------------------------------------------------- mapping


class MappingError(SalesbridgeError):
    """Base of the mapping engine's errors."""


class PathError(MappingError, ValueError):
    """A path that does not parse; ``column`` is 1-based within the path."""

    def __init__(self, message: str, column: int):
        self.message = message
        self.column = column
        super().__init__(f"column {column}: {message}")


class TransformConfigError(MappingError, ValueError):
    """A transform whose name or argument is wrong (reported at load time)."""

    def __init__(self, message: str, column: int | None = None):
        self.message = message
        self.column = column  # column within an expression argument, when there is one
        super().__init__(message)


class ValueProblem(MappingError):
    """A value a transform cannot handle; the caller adds field, path and mapping."""

    def __init__(self, code: str, message: str, hint: str = ""):
        self.code = code
        self.message = message
        self.hint = hint
        super().__init__(message)


RECORD_MAPPING_ERROR_CODES = (
    "missing_required",  # a required source value is absent or null
    "bad_type",  # a value has the wrong shape or cannot be read (text where a number is needed ...)
    "unknown_value",  # a value outside a vocabulary (e.g. an unknown grade)
    "expression_error",  # an expression failed on this record
    "filtered_out",  # the mapping's filter said: skip this record (audit as skipped, not quarantined)
    "not_an_object",  # the payload is not a JSON object
    "internal_error",  # a bug in the engine; reported, never a traceback
)


class RecordMappingError(MappingError):
    """A record that this mapping cannot turn into a canonical record (``code``: RECORD_MAPPING_ERROR_CODES).

    The only exception ``CompiledMapping.apply`` raises: the pipeline quarantines the
    record (or, for ``filtered_out``, audits it as skipped) with this message.
    """

    def __init__(self, code: str, message: str, field: str = "", path: str = "", value: object = None):
        self.code = code
        self.field = field
        self.path = path
        self.value = value
        self.message = message
        super().__init__(f"{code}: {message}")

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "field": self.field, "path": self.path, "message": self.message}


# --------------------------------------------------------------------------- triggers and store


class TriggerInputError(SalesbridgeError):
    """The record cannot be applied as it is: quarantine it with this message (replayable after a fix)."""


class StateKeysMissing(SalesbridgeError):
    """Evaluation needs state that was not read (a partial update hid the keys): read these too, retry.

    Keys that were read and found absent must be present in the states with value None.
    """

    def __init__(self, keys: list[Any]):
        self.keys = keys
        super().__init__(f"state not read: {keys}")


class AmbiguousIdentity(SalesbridgeError):
    """A record whose match keys point at two or more entities and no link says which: quarantine it, naming them."""

    def __init__(self, record: Any, candidates: tuple[str, ...]):
        self.candidates = candidates
        source = f"{record.source.system}/{record.entity}/{record.source.id}"
        names = ", ".join(f"{record.entity}#{c}" for c in candidates)
        super().__init__(
            f"{source} matches {len(candidates)} {record.entity} entities by its match keys ({names}) and carries no same_as link "
            "to choose between them; fix the source data or link them (same_as), then replay"
        )


class StoreError(SalesbridgeError):
    """Base of the storage port's errors."""


class ConflictError(StoreError):
    """Another writer changed an item we read: re-read and re-apply."""


class Unstorable(StoreError):
    """DynamoDB refuses the items of a record (ValidationException: an item over 400 KB, a key or a
    value it cannot hold). The same record fails the same way on every attempt: it is poison, to be
    quarantined on the first, not retried."""


class PayloadMissing(StoreError):
    """A raw payload kept in S3 by claim check is gone (expired after the inputs' retention, or erased)."""


class EventAlreadyStored(StoreError):
    """These event ids are already in the outbox: the same occurrence must not be emitted again."""

    def __init__(self, event_ids: list[str]):
        super().__init__(", ".join(event_ids))
        self.event_ids = event_ids


class RetryLater(SalesbridgeError):
    """Contention did not settle: leave the message on the queue for redelivery."""


class EnqueueError(SalesbridgeError):
    """Some records could not be queued; the caller must not acknowledge them."""


class RecordTooLarge(SalesbridgeError):
    """A record larger than a queue message can carry: refused (413 at the door), never retried."""


# --------------------------------------------------------------------------- the webhook door


class RejectedRequest(SalesbridgeError):
    """The door refuses the request; ``reason`` is a short audit code, ``status`` the HTTP answer."""

    status = 400

    def __init__(self, reason: str, detail: str = "", response: VendorReply | None = None) -> None:
        self.reason = reason
        self.detail = detail
        self.response = response
        super().__init__(f"{reason}: {detail}" if detail else reason)


class SignatureError(RejectedRequest):
    """Unsigned, forged, stale or from an unknown sender: 401 and an audit entry."""

    status = 401


class BodyTooLarge(RejectedRequest):
    status = 413


class MalformedRequest(RejectedRequest):
    """The envelope needed to verify (XML, JSON, encrypted field) cannot be read."""

    status = 400


class DeliveryError(SalesbridgeError, ValueError):
    """The delivery's body cannot be turned into records (the route answers 400)."""


class UnsafeOrMalformedXml(SalesbridgeError, ValueError):
    """The body is not XML we will read; ``reason`` is ``unsafe_xml`` or ``malformed_xml``."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class CallbackCryptoError(SalesbridgeError, ValueError):
    """The ciphertext does not decrypt to a well-formed envelope."""


# --------------------------------------------------------------------------- dispatch


class DeliveryFailed(SalesbridgeError):
    """One attempt to deliver an event to a target failed; ``retryable`` says whether to try again.

    ``retry_after``: seconds the receiver asked to wait (its Retry-After), when it said.
    """

    def __init__(self, message: str, retryable: bool = True, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


# --------------------------------------------------------------------------- vendor APIs


class ConnectorError(SalesbridgeError):
    """Base class: a source API call failed in a way the caller must see."""


class VendorApiError(ConnectorError):
    """The API answered with an error that retrying will not fix (e.g. 400, 404)."""

    def __init__(self, message: str, *, status: int, url: str, body: str = "", vendor_code: str | None = None):
        self.status = status
        self.url = url
        self.body = body
        self.vendor_code = vendor_code
        super().__init__(f"{message} (HTTP {status} from {url})")


class RetryableError(ConnectorError):
    """A transient answer (429, 5xx, vendor limit signal); ``retry_after`` is seconds, if the vendor said."""

    def __init__(self, message: str, *, status: int | None, url: str, retry_after: float | None = None, vendor_code: str | None = None):
        self.status = status
        self.url = url
        self.retry_after = retry_after
        self.vendor_code = vendor_code
        super().__init__(message)


class RateLimited(RetryableError):
    """The vendor says we are over its limit (429, Salesforce 403 REQUEST_LIMIT_EXCEEDED)."""


class AuthError(VendorApiError):
    """Credentials were refused even after a fresh token."""


class MalformedPageError(ConnectorError):
    """A page that cannot be trusted (not JSON, missing fields): stop before anything is lost."""

    def __init__(self, message: str, *, url: str = "", snippet: str = ""):
        self.url = url
        self.snippet = snippet
        detail = f" at {url}" if url else ""
        tail = f"; body starts: {snippet!r}" if snippet else ""
        super().__init__(f"{message}{detail}{tail}")


class PaginationLoopError(ConnectorError):
    """The API handed back a page token it already gave: following it would never end."""


class BudgetExhausted(ConnectorError):
    """The shared rate budget has no token before the caller's deadline."""


# --------------------------------------------------------------------------- the console


class ConsoleUnavailable(SalesbridgeError):
    """The console's key could not be read: pages answer 503 rather than sign with anything else."""


class LoginRefused(SalesbridgeError):
    """A console login that is not accepted; ``status`` is the page's HTTP answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class LinkRefused(SalesbridgeError):
    """A customer link that is malformed, tampered with or expired (``reason``; the page says the same to all)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- the operator API


class ApiError(SalesbridgeError):
    """An operator API answer: HTTP ``status`` and the JSON body ``{"error": code, "message": text}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message}
