"""The one place the integration talks to CartAssist: through :mod:`cartassist.client`."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Sequence

from cartassist.client import ApiError, CartAssistClient, ClientError, Event, SendResult

from .conf import Config, get_config

logger = logging.getLogger("cartassist.integrations.oscar")

#: After CartAssist failed to answer, events are dropped for this long instead of making
#: every shop page wait for a timeout again.
PAUSE_AFTER_FAILURE_SECONDS = 30.0
_paused_until = 0.0
_pause_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def _client(
    base_url: str, site_key: str, secret: str, timeout: float, retries: int
) -> CartAssistClient:
    return CartAssistClient(
        base_url=base_url,
        site_key=site_key,
        secret=secret,
        timeout=timeout,
        max_retries=retries,
        backoff=0.2,
    )


def get_client(config: Config | None = None) -> CartAssistClient:
    """The client for the configured site (one per settings, thread-safe)."""
    config = config or get_config()
    return _client(
        config.base_url, config.site_key, config.secret, config.timeout, config.max_retries
    )


def send(events: Sequence[Event]) -> SendResult | None:
    """Send events now; a failure is logged, never raised: the shop keeps working.

    Returns None when nothing was sent (not configured, paused after a failure, or the
    call failed), so that the caller keeps its "last reported" state and reports again.
    """
    global _paused_until
    config = get_config()
    if not events or not config.enabled:
        return None
    if time.monotonic() < _paused_until:
        logger.warning(
            "CartAssist was unreachable moments ago; %d event(s) not sent (%s)",
            len(events),
            ", ".join(event.type for event in events),
        )
        return None
    try:
        return get_client(config).send_events(events)
    except ClientError as error:
        if _unavailable(error):
            with _pause_lock:
                _paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_SECONDS
        logger.warning(
            "CartAssist did not take %d event(s) (%s): %s",
            len(events),
            ", ".join(event.type for event in events),
            error,
        )
        return None


def _unavailable(error: ClientError) -> bool:
    """No answer, or overloaded / failing (a 4xx is about the request, not the service)."""
    return not isinstance(error, ApiError) or error.status == 429 or error.status >= 500


def resume() -> None:
    """Forget an earlier failure (tests; a shop's health check)."""
    global _paused_until
    _paused_until = 0.0
