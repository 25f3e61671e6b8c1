"""Per-site-key rate limits (429 with Retry-After). Rates: REST_FRAMEWORK's
DEFAULT_THROTTLE_RATES, set by CARTASSIST_WIDGET_RATE and CARTASSIST_SERVER_RATE."""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import SimpleRateThrottle


class SiteKeyThrottle(SimpleRateThrottle):
    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__()

    def get_cache_key(self, request: Any, view: Any) -> str:
        return f"throttle:{self.scope}:{request.site.public_key}"
