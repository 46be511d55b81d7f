"""Errors as JSON ``{"error": code, "message": text}`` with the right status."""

from __future__ import annotations

from chalicelib.errors import ApiError


def bad_request(message: str, code: str = "bad_request") -> ApiError:
    return ApiError(400, code, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)


# Chalice answers some errors itself, before or around a view ({"Code": ..., "Message": ...}):
# an unsupported method or content type, an unhandled exception. They get the one shape too.
CHALICE_CODES = {
    "MethodNotAllowedError": "method_not_allowed",
    "UnsupportedMediaType": "unsupported_media_type",
    "BadRequest": "bad_request",
    "BadRequestError": "bad_request",
    "UnauthorizedError": "unauthorized",
    "ForbiddenError": "forbidden",
    "NotFoundError": "not_found",
    "ConflictError": "conflict",
    "UnprocessableEntityError": "unprocessable_entity",
    "TooManyRequestsError": "too_many_requests",
    "InternalServerError": "internal_error",
    "ChaliceViewError": "internal_error",
}


def from_chalice(body: object) -> dict[str, str] | None:
    """``{"error", "message"}`` for a Chalice error body; None when the body is not one."""
    if not isinstance(body, dict) or set(body) != {"Code", "Message"}:
        return None
    code = str(body["Code"])
    message = str(body["Message"])
    if code == "UnsupportedMediaType":
        message += "; send the body with a content type this route accepts (operator routes: application/json)"
    return {"error": CHALICE_CODES.get(code, "internal_error"), "message": message}
