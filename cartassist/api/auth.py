"""Who is calling: a browser with a site's public key, or a shop backend with a signature.

Server signature (docs/API.md, "Signing requests"):

    X-CartAssist-Key:        <site public key>
    X-CartAssist-Timestamp:  <unix seconds>
    X-CartAssist-Signature:  v1=<hex HMAC-SHA256(site secret, "<timestamp>." + raw body)>

A GET has no body: it signs its request target instead, ``"<timestamp>.GET <path>"``
(the path with its query string, as requested; ``request_target``).

A signature is accepted once, within CARTASSIST_SIGNATURE_WINDOW of its timestamp. The
used signatures are kept in the cache (Redis in production); while Redis is unreachable,
signed requests are refused with 503 + Retry-After rather than accepted unchecked
(docs/adr/0012).
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from redis.exceptions import RedisError
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied

from cartassist.api.errors import ServiceUnavailable
from cartassist.carts.models import Site
from cartassist.carts.services.site_config import site_for_public_key
from cartassist.core.signing import sign

logger = logging.getLogger(__name__)

__all__ = [
    "SignatureUse",
    "request_target",
    "server_site",
    "sign",
    "signature_first_use_answer",
    "signature_first_use_record",
    "signed_site",
    "site_for_key",
    "widget_site",
]


def request_target(request: HttpRequest) -> bytes:
    """What a request without a body signs in its place: ``"GET /api/v1/…?…"``."""
    return f"{request.method} {request.get_full_path()}".encode()


def site_for_key(public_key: object, *, field: str) -> Site:
    if not isinstance(public_key, str) or not public_key:
        raise AuthenticationFailed({field: ["The site key is missing."]})
    site = site_for_public_key(public_key)  # cached in the process (docs/adr/0018)
    if site is None:
        raise AuthenticationFailed({field: ["Unknown site key."]})
    return site


def widget_site(request: HttpRequest, public_key: object) -> Site:
    """The site for a browser request: known key, and the Origin header on its allow-list."""
    site = site_for_key(public_key, field="site_key")
    origin = request.META.get("HTTP_ORIGIN")
    if not origin or origin == "null":
        raise PermissionDenied(
            {"origin": ["An Origin header is required: call this endpoint from a browser."]}
        )
    if not site.origin_is_allowed(origin):
        raise PermissionDenied({"origin": [f"Origin {origin[:200]} is not allowed for this site."]})
    return site


def server_site(request: HttpRequest, body: bytes, *, now: datetime) -> Site:
    """The site for a signed server request; refuses bad, stale and replayed signatures."""
    site, use = signed_site(request, body, now=now)
    signature_first_use_record(use)
    return site


def signature_first_use_record(use: SignatureUse) -> None:
    """Record the signature's use; refuse it if it was used already, or if that cannot be
    checked (``signature_first_use_answer``)."""
    failure: RedisError | None = None
    try:
        first_use: bool | None = cache.add(use.key, 1, timeout=use.seconds)
    except RedisError as error:
        first_use, failure = None, error
    signature_first_use_answer(first_use, error=failure)


@dataclass(frozen=True)
class SignatureUse:
    """The record of a signature's use: its cache key, kept ``seconds`` (twice the
    signature window, and one more)."""

    key: str
    seconds: int


def signed_site(request: HttpRequest, body: bytes, *, now: datetime) -> tuple[Site, SignatureUse]:
    """The site of a request whose signature is valid and recent; its first use is the
    caller's to check (``server_site``, or the event endpoints in one step with their
    rate limit: ``core/ratelimits.py``, ``first_use``)."""
    site = site_for_key(request.META.get("HTTP_X_CARTASSIST_KEY"), field="X-CartAssist-Key")
    timestamp = request.META.get("HTTP_X_CARTASSIST_TIMESTAMP", "")
    signature = request.META.get("HTTP_X_CARTASSIST_SIGNATURE", "")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise AuthenticationFailed(
            {"X-CartAssist-Timestamp": ["Send the signing time as Unix seconds."]}
        )
    window = settings.CARTASSIST_SIGNATURE_WINDOW.total_seconds()
    if abs(now.timestamp() - int(timestamp)) > window:
        raise AuthenticationFailed(
            {"X-CartAssist-Timestamp": [f"Outside the {int(window)} s signature window."]}
        )
    if not signature.isascii():  # compare_digest raises TypeError (a 500) on other text
        signature = ""
    if not signature.startswith("v1=") or not any(
        hmac.compare_digest(sign(secret, timestamp, body), signature)
        for secret in site.valid_secrets(now)
    ):
        raise AuthenticationFailed({"X-CartAssist-Signature": ["Invalid signature."]})
    # Replay protection: each signature once within the window (Redis in production).
    use = SignatureUse(
        key=f"cartassist:sig:{site.pk}:{signature[3:67]}", seconds=int(window) * 2 + 1
    )
    return site, use


def signature_first_use_answer(first_use: bool | None, *, error: Exception | None = None) -> None:
    """Refuse a replayed signature (False), or any signed request when its first use could
    not be checked (None: Redis unreachable; fail closed, a replay would pass)."""
    if first_use is None:
        logger.warning("Redis unavailable for replay protection, answering 503: %r", error)
        raise ServiceUnavailable(
            "Signed requests cannot be checked for replays right now; nothing was stored. "
            "Retry (signed anew) after the time in Retry-After."
        ) from error
    if not first_use:
        raise AuthenticationFailed(
            {"X-CartAssist-Signature": ["This signature was already used (replay)."]}
        )
