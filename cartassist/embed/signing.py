"""Signed, expiring embed URLs for the helpdesk sidebar (docs/integrations/helpdesk.md).

The helpdesk's backend builds the URL; the agent's browser loads it in an iframe, with
no CartAssist login:

    /embed/outreach?key=<site public key>&customer_id=C-1&expires=<unix seconds>&sig=<hex>

``sig`` is the hex HMAC-SHA256, with the site secret, of ``"GET "`` + the URL's path and
query string up to (not including) ``&sig=``, exactly as sent. ``sig`` must be the last
parameter. A URL is valid until ``expires`` and for at most ``EMBED_MAX_LIFETIME`` from
now (so a leaked URL does not stay useful); it may be loaded more than once until then
(an iframe reloads).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import urlencode

EMBED_PATH = "/embed/outreach"
EMBED_MAX_LIFETIME = timedelta(minutes=15)


class EmbedRefused(Exception):
    """The URL is not signed, badly signed, or expired (message for the page)."""


def embed_signature(secret: str, signed_part: str) -> str:
    return hmac.new(secret.encode(), signed_part.encode(), hashlib.sha256).hexdigest()


def embed_url(
    *, secret: str, site_key: str, expires: int, path: str = EMBED_PATH, **lookup: str
) -> str:
    """The signed URL (path and query) for one lookup key, e.g. ``customer_id="C-1"``;
    what a helpdesk backend computes (the recipe in docs/integrations/helpdesk.md)."""
    query = urlencode({"key": site_key, **lookup, "expires": str(expires)})
    unsigned = f"{path}?{query}"
    return f"{unsigned}&sig={embed_signature(secret, f'GET {unsigned}')}"


def signed_part(path: str, query_string: str) -> tuple[str, str]:
    """``("GET <path>?<query before &sig=>", sig)``; raises ``EmbedRefused`` when the
    query does not end with one ``sig`` parameter."""
    head, separator, sig = query_string.rpartition("&sig=")
    if not separator or not sig or "&" in sig:
        raise EmbedRefused("This link is not signed.")
    return f"GET {path}?{head}", sig


def check_expiry(expires: str, *, now: datetime) -> None:
    """``expires`` (Unix seconds) is in the future, and at most EMBED_MAX_LIFETIME away."""
    if not expires.isascii() or not expires.isdigit() or len(expires) > 12:
        raise EmbedRefused("This link has no valid expiry.")
    left = int(expires) - now.timestamp()
    if left <= 0:
        raise EmbedRefused("This link has expired: open the sidebar again.")
    if left > EMBED_MAX_LIFETIME.total_seconds():
        raise EmbedRefused("This link is valid for too long: sign links for 15 minutes at most.")
