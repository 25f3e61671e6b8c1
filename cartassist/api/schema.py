"""OpenAPI pieces shared by the endpoints: the signing headers (POST and GET), the error
body and the refusals each kind of endpoint can answer with.

Every endpoint documents every status it can return (tests/cartassist/test_schema_fuzz.py
checks the responses against the schema): compose its ``responses`` from these, e.g.
``{200: …, **BODY_REFUSALS, **SIGNED_REFUSALS}``. A request body is declared by media
type (``request={"application/json": Serializer}``): the API views read the body
themselves (``api/body.py``), so drf-spectacular cannot infer it from parsers.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

# The request-signing headers (cartassist/api/auth.py, docs/API.md "Signing requests").
# tests/cartassist/test_schema_fuzz.py signs every operation that declares them.
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
        description="v1=<hex HMAC-SHA256(secret, timestamp + '.' + body)>. Each signature "
        "is accepted once: sign every request, retries included, anew.",
    ),
]


class ErrorSerializer(serializers.Serializer):
    """Every refusal's body (api/errors.py; docs/API.md, "Errors")."""

    detail = serializers.CharField(help_text="What went wrong, for people.")
    # Schema only: the wire name "errors" shadows Serializer.errors, never used here.
    errors = serializers.DictField(  # type: ignore[assignment]
        required=False,
        help_text="Validation errors and field-keyed refusals: each offending field, by "
        "path, mapped to its messages.",
    )
    code = serializers.CharField(
        required=False, help_text="Grant endpoints: the reason, for programs (docs/POLICIES.md)."
    )


def refusal(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


# A JSON body read by api/body.py and validated by a serializer.
BODY_REFUSALS: dict[int, Any] = {
    400: refusal("Invalid input: not a JSON object, or `errors` maps each field to its messages."),
    411: refusal("Chunked body without Content-Length (WSGI servers)."),
    413: refusal("Body over CARTASSIST_MAX_BODY_BYTES."),
    415: refusal("Content-Type other than application/json or text/plain."),
}
# Every signed endpoint, while Redis (replay protection) is unreachable (docs/adr/0012).
SIGNED_UNAVAILABLE: dict[int, Any] = {
    503: refusal(
        "Replay protection (Redis) is unavailable: nothing was stored. Retry, signed anew, "
        "after the seconds in Retry-After."
    )
}
# HMAC-signed server endpoints (api/auth.py server_site).
SIGNED_REFUSALS: dict[int, Any] = {
    401: refusal(
        "Unknown key, missing or stale timestamp, bad or already used (replayed) signature."
    ),
    **SIGNED_UNAVAILABLE,
}
# Browser endpoints (api/auth.py widget_site).
WIDGET_REFUSALS: dict[int, Any] = {
    403: refusal("Unknown or missing site key, or Origin missing, `null` or not allowed."),
}


def throttled(limit: str) -> dict[int, Any]:
    """The 429 of a rate-limited endpoint; ``limit`` names the setting."""
    return {429: refusal(f"Rate limit ({limit}); retry after the Retry-After seconds.")}


def fresh_examples(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every ``occurred_at`` in an example is the
    moment the schema is generated, so that an example sent as it is ("Try it out") is
    accepted: events older than CARTASSIST_MAX_EVENT_AGE are refused."""
    now = timezone.now().replace(microsecond=0).isoformat().replace("+00:00", "Z")

    def refresh(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: now if key == "occurred_at" and isinstance(item, str) else refresh(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [refresh(item) for item in value]
        return value

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                if key == "examples" and isinstance(item, dict):
                    for example in item.values():
                        if isinstance(example, dict) and "value" in example:
                            example["value"] = refresh(example["value"])
                else:
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(result)
    return result


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
