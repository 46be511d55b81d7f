"""Errors as JSON ``{"error": code, "message": text}`` with the right status."""

from __future__ import annotations

from chalicelib.errors import ApiError


def bad_request(message: str, code: str = "bad_request") -> ApiError:
    return ApiError(400, code, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)
