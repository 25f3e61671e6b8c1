"""One error shape for the whole API (docs/API.md, "Errors").

    {"detail": "Invalid input.", "errors": {"events": {"0": {"data": {"fee": ["…"]}}}}}

``detail`` is a sentence for people; ``errors`` (on 400s) maps each offending field, by
path, to its messages.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


class LengthRequired(exceptions.APIException):
    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_detail = "A Content-Length header is required."
    default_code = "length_required"


class UnsupportedMediaType(exceptions.UnsupportedMediaType):
    pass


logger = logging.getLogger(__name__)

# Seconds a client is asked to wait after a 503: about how long Redis takes to restart.
SERVICE_UNAVAILABLE_RETRY_AFTER = 5


class ServiceUnavailable(exceptions.APIException):
    """A service the request needs (Redis: replay protection) is down: retry later.
    Nothing was stored (docs/API.md, "Errors"; docs/adr/0012)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Temporarily unavailable; retry after the time in Retry-After."
    default_code = "service_unavailable"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail)
        self.wait = SERVICE_UNAVAILABLE_RETRY_AFTER  # DRF's handler turns it into Retry-After


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RedisError):
        # Redis (cache, broker) unreachable or failing mid-request: a clear 503, never a 500.
        logger.warning("Redis unavailable, answering 503: %r", exc)
        exc = ServiceUnavailable()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": "Invalid input.", "errors": response.data}
    elif isinstance(exc, exceptions.ParseError):
        # A 400 like any other: the offending "field" is the body itself.
        detail = str(exc.detail)
        response.data = {"detail": detail, "errors": {"body": [detail]}}
    elif isinstance(response.data, dict) and "detail" not in response.data:
        # Field-keyed refusals (unknown site key, wrong origin): keep the fields.
        response.data = {"detail": _first_message(response.data), "errors": response.data}
    return response


def _first_message(data: Any) -> str:
    while isinstance(data, dict | list) and data:
        data = next(iter(data.values())) if isinstance(data, dict) else data[0]
    return str(data)
