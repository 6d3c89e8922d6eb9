"""The error envelope of seed 004: {error: {code, message, details}, status, request_id}.

Every failure leaves through here, including Flask's own (404, 405, 413) and unexpected
exceptions, so a client never sees an HTML page or a bare 500.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify
from werkzeug.exceptions import HTTPException

from imagegen import errors
from imagegen.errors import ServiceError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    404: errors.NOT_FOUND,
    405: errors.METHOD_NOT_ALLOWED,
    413: errors.PAYLOAD_TOO_LARGE,
}


def code_for_status(status: int) -> str:
    """The error code of an HTTP failure that no use case raised (Flask's, gunicorn's)."""
    return _HTTP_CODES.get(
        status, errors.INVALID_PARAMETERS if status < 500 else errors.INTERNAL_ERROR
    )


def envelope(error: ServiceError, status: int, request_id: str) -> dict[str, Any]:
    return {"error": error.to_dict(), "status": status, "request_id": request_id}


def error_response(error: ServiceError, status: int | None = None) -> tuple[Response, int]:
    status = status or error.http_status
    response = jsonify(envelope(error, status, g.get("request_id", "")))
    retry_after = error.details.get("retry_after")
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="imagegen"'
    return response, status


def register(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(error: ServiceError) -> tuple[Response, int]:
        return error_response(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> tuple[Response, int]:
        status = error.code or 500
        response, status = error_response(
            ServiceError(code_for_status(status), error.description or error.name), status
        )
        # The exception's own headers still apply: Allow on a 405 (RFC 9110 section 15.5.6).
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[Response, int]:
        log.exception("unhandled error")
        return error_response(ServiceError(errors.INTERNAL_ERROR, "internal error"), 500)
