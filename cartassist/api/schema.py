"""OpenAPI pieces shared by the signed server endpoints (events, follow-ups, grants,
intervention outcomes)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

# The request-signing headers (cartassist/api/auth.py, docs/API.md "Signing requests").
SIGNATURE_HEADERS = [
    OpenApiParameter(
        "X-CartAssist-Key",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=True,
        description="The site's public key.",
    ),
    OpenApiParameter(
        "X-CartAssist-Timestamp",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=True,
        description="Unix seconds when signed.",
    ),
    OpenApiParameter(
        "X-CartAssist-Signature",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=True,
        description="v1=<hex HMAC-SHA256(secret, timestamp + '.' + body)>",
    ),
]

# A signed GET signs its request target instead of a body (cartassist/api/auth.py).
GET_SIGNATURE_HEADERS = [
    *SIGNATURE_HEADERS[:2],
    OpenApiParameter(
        "X-CartAssist-Signature",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=True,
        description="v1=<hex HMAC-SHA256(secret, timestamp + '.GET ' + path with query string)>",
    ),
]
