"""Rate limits of the HTTP API (429 with Retry-After), global across processes.

Rates: REST_FRAMEWORK's DEFAULT_THROTTLE_RATES, set by CARTASSIST_WIDGET_RATE,
CARTASSIST_SERVER_RATE, CARTASSIST_WIDGET_SESSION_RATE and CARTASSIST_VERIFICATION_RATE.
DRF's own cache throttle reads a history, checks it and writes it back in three steps, so
concurrent workers each admit up to the limit; these count in one atomic step in Redis
(``cartassist.core.ratelimits``, docs/adr/0012).
"""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from cartassist.core.ratelimits import PendingHit, rate_limit_send
from cartassist.domain.ratelimit import Decision


class AtomicRateThrottle(SimpleRateThrottle):
    """SimpleRateThrottle's rates (``N/min`` …) and client identity, counted atomically."""

    decision: Decision | None = None
    pending: PendingHit | None = None
    # Set by SimpleRateThrottle.__init__ from the rate (the stubs do not declare them).
    num_requests: int
    duration: int

    def __init__(self, scope: str | None = None) -> None:
        if scope is not None:
            self.scope = scope
        super().__init__()

    def allow_request(self, request: Any, view: Any) -> bool:
        self.send(request, view)
        return self.allowed()

    def send(self, request: Any, view: Any, first_use: tuple[str, int] | None = None) -> None:
        """Count this request's hit; ``allowed()`` reads the answer (the caller may work
        in between: the hit's round trip to Redis overlaps that work). ``first_use``:
        count it only on that key's first use (``rate_limit_send``; ``first_use()``)."""
        key = self.get_cache_key(request, view) if self.rate is not None else None
        self.pending = None
        if key is not None:
            self.pending = rate_limit_send(
                key=key,
                limit=self.num_requests,
                period=self.duration,
                now=self.timer(),
                first_use=first_use,
            )

    def first_use(self) -> bool | None:
        """The first use asked for by ``send``: ``PendingHit.first_use``."""
        return self.pending.first_use() if self.pending is not None else None

    def allowed(self) -> bool:
        if self.pending is None:
            return True
        self.decision = self.pending.decision()
        return self.decision.allowed

    def wait(self) -> float | None:
        return self.decision.retry_after if self.decision else None


class SiteKeyThrottle(AtomicRateThrottle):
    """Per site key (event endpoints), once the site is known: ``request.site``."""

    def get_cache_key(self, request: Any, view: Any) -> str:
        return f"throttle:{self.scope}:{request.site.public_key}"


class ClientAddressThrottle(AtomicRateThrottle):
    """Per client address (``REMOTE_ADDR``, or ``X-Forwarded-For`` behind NUM_PROXIES)."""

    def get_cache_key(self, request: Any, view: Any) -> str:
        return f"throttle:{self.scope}:{self.get_ident(request)}"


class WidgetSessionThrottle(ClientAddressThrottle):
    scope = "widget_session"


class VerificationThrottle(ClientAddressThrottle):
    scope = "verification"


def client_address(request: HttpRequest) -> str | None:
    """The caller's address by DRF's rule: ``REMOTE_ADDR``, or the address the outermost
    of NUM_PROXIES trusted proxies saw (``X-Forwarded-For``); None for a request from no
    address (``force_login`` in tests). Also the login lockout's."""
    # get_ident reads only META, which a Django request has too.
    address = BaseThrottle().get_ident(cast(Request, request))
    return str(address) if address else None
