"""Reading JSON request bodies safely: bounded size, exact decimals, no NaN.

DRF's ``request.data`` trusts Content-Length (and sees an empty body without one), and
under ASGI Django reads the whole body whatever Content-Length says. So the API reads
the raw body itself, never more than ``CARTASSIST_MAX_BODY_BYTES`` + 1 bytes. The ASGI
entry point adds the same bound before Django buffers anything (cartassist/asgi.py).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from rest_framework.exceptions import ParseError

from .errors import LengthRequired, PayloadTooLarge, UnsupportedMediaType

ACCEPTED_CONTENT_TYPES = {"application/json", "text/plain", ""}


def read_body(request: HttpRequest) -> bytes:
    limit = settings.CARTASSIST_MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH") or ""
    try:
        declared_length = int(declared) if declared else None
    except ValueError as exc:
        raise ParseError("Content-Length is not a number.") from exc
    if declared_length is not None and declared_length > limit:
        raise PayloadTooLarge(f"Request body too large: the limit is {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = request.read(min(65536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body too large: the limit is {limit} bytes.")
    body = b"".join(chunks)
    if not body and declared_length is None and request.META.get("HTTP_TRANSFER_ENCODING"):
        # WSGI servers hide chunked bodies from Django without a Content-Length.
        raise LengthRequired()
    return body


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(request: HttpRequest, body: bytes) -> dict[str, Any]:
    """Parse ``body`` as a JSON object; numbers with a fraction become exact Decimals."""
    content_type = request.content_type or ""
    if content_type not in ACCEPTED_CONTENT_TYPES:
        raise UnsupportedMediaType(content_type)
    if not body:
        raise ParseError("The request body is empty: send a JSON object.")
    try:
        text = body.decode("utf-8")
        payload = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise ParseError("The request body is not UTF-8.") from exc
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"The request body is not valid JSON: {str(exc)[:120]}") from exc
    if not isinstance(payload, dict):
        raise ParseError("The request body must be a JSON object.")
    return payload
