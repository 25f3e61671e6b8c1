"""Outbound HTTP to a platform: stdlib, a timeout, no redirects (a redirected POST would
lose its body). Retries with back-off are the caller's (services.native_discount_create
and its task)."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

from cartassist.integrations.base import OutboundRequest

MAX_ANSWER_BYTES = 256 * 1024


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects())


def send(request: OutboundRequest, *, timeout: float) -> tuple[int, bytes]:
    """Send ``request``; its HTTP status and (bounded) body. Raises ``OSError`` when the
    platform cannot be reached or does not answer in time."""
    outgoing = urllib.request.Request(  # noqa: S310 - the store URL is validated as http(s)
        request.url, data=request.body, headers=request.headers, method=request.method
    )
    try:
        with _opener.open(outgoing, timeout=timeout) as response:
            return int(response.status), response.read(MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as error:
        with error:
            return int(error.code), error.read(MAX_ANSWER_BYTES)
