"""OpenAPI pieces shared by the signed server endpoints (events, follow-ups, grants)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

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

# Every signed endpoint, while Redis (replay protection) is unreachable (docs/adr/0012).
SIGNED_UNAVAILABLE = {
    503: OpenApiResponse(
        description="Replay protection (Redis) is unavailable: nothing was stored. Retry, "
        "signed anew, after the seconds in Retry-After. Body: `{detail}`."
    )
}
