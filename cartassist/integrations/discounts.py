"""Native discounts: a grant becomes the platform's own single-use code
(docs/integrations/README.md, "Native discounts").

- ``native_discount_request``: the one call made when a grant is issued — records the
  discount to create and enqueues the task on commit;
- ``native_discount_create``: one attempt at creating it on the platform (the task
  retries transient failures with back-off); a refusal is stored and shown in admin;
- ``native_discounts_retry``: admin's "try again".

Imports nothing from policies' services (which call ``native_discount_request``).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from cartassist.core import ports
from cartassist.core.locks import for_update
from cartassist.integrations import http
from cartassist.integrations.base import (
    DiscountRefused,
    DiscountSpec,
    DiscountUnavailable,
    RemedyUnsupported,
)
from cartassist.integrations.models import DiscountStatus, NativeDiscount, PlatformConnection
from cartassist.integrations.registry import adapter_for
from policies.engine.money import quantize
from policies.models import Grant

logger = logging.getLogger(__name__)


def discount_code(grant: Grant) -> str:
    """The code of a grant's native discount: unguessable (the grant's random id), upper
    case (WooCommerce lower-cases it; codes are compared case-insensitively)."""
    return f"CA-{grant.token_id.upper()}"


def native_discount_request(*, grant: Grant, now: datetime) -> NativeDiscount | None:
    """Called once when a grant is issued (policies.services.grants.grant_issue), in its
    transaction: when the site is connected to a platform, record the discount to create
    and enqueue its creation on commit. ``None`` when the site has no connection."""
    connection = (
        PlatformConnection.objects.filter(site_id=grant.site_id, enabled=True)
        .order_by("pk")
        .first()
    )
    if connection is None:
        return None
    code = discount_code(grant)
    discount = NativeDiscount.objects.create(
        grant=grant,
        connection=connection,
        code=code,
        link=adapter_for(connection.platform).discount_link(connection.info(now), code),
        created_at=now,
        updated_at=now,
    )
    discount_id = discount.pk
    transaction.on_commit(lambda: _dispatch(discount_id))
    return discount


def _dispatch(discount_id: int) -> None:
    try:
        ports.native_discount_dispatch.get()(discount_id)
    except Exception:  # a broker outage must not fail the shopper's acceptance
        logger.exception("could not dispatch native discount %s", discount_id)


@dataclass(frozen=True)
class DiscountAttempt:
    status: str
    retry_in: timedelta | None = None


def retry_delay(attempts: int) -> timedelta | None:
    """Back-off after ``attempts`` failed attempts: 10 s, 30 s, 90 s, …; ``None`` once
    ``CARTASSIST_PLATFORM_MAX_ATTEMPTS`` is reached."""
    if attempts >= settings.CARTASSIST_PLATFORM_MAX_ATTEMPTS:
        return None
    return timedelta(seconds=10 * 3 ** (attempts - 1))


def _claim(discount_id: int, now: datetime) -> NativeDiscount | None:
    with transaction.atomic():
        discount = (
            for_update(NativeDiscount.objects.filter(pk=discount_id))
            .select_related("connection", "connection__site", "grant", "grant__cart")
            .first()
        )
        if discount is None or discount.status not in (
            DiscountStatus.PENDING,
            DiscountStatus.FAILED,
        ):
            return None
        discount.status = DiscountStatus.SENDING
        discount.attempts += 1
        discount.updated_at = now
        discount.save(update_fields=["status", "attempts", "updated_at"])
        return discount


def _spec(discount: NativeDiscount) -> DiscountSpec:
    grant = discount.grant
    cart = grant.cart
    return DiscountSpec(
        grant_id=grant.token_id,
        code=discount.code,
        kind=grant.kind,
        amount=None if grant.amount is None else quantize(grant.amount, grant.currency),
        currency=grant.currency,
        starts_at=grant.issued_at,
        ends_at=grant.expires_at,
        timezone=discount.connection.site.timezone,
        customer_id=cart.customer_id if cart.customer_verified else "",
    )


def native_discount_create(*, discount_id: int, now: datetime) -> DiscountAttempt | None:
    """One attempt at creating a pending (or failed) discount on its platform.

    1. Claim it (``pending``/``failed`` → ``sending``, under its row lock): another
       worker's attempt, or a discount already created, is left alone (``None``).
    2. Build the platform's request (adapter), send it with a timeout.
    3. ``created`` with the platform's id; ``refused`` with the platform's reason (a 4xx,
       GraphQL ``userErrors``): final, shown in admin; ``failed`` when the platform could
       not be reached or failed (timeout, 429, 5xx), with the delay before the next
       attempt (``retry_in``), ``None`` once the attempts are used up.
    """
    discount = _claim(discount_id, now)
    if discount is None:
        return None
    connection = discount.connection
    adapter = adapter_for(connection.platform)
    retry_in: timedelta | None = None
    try:
        request = adapter.discount_request(connection.info(now), _spec(discount))
        try:
            status, body = http.send(request, timeout=settings.CARTASSIST_PLATFORM_TIMEOUT)
        except OSError as error:
            raise DiscountUnavailable(
                f"{connection.get_platform_display()} unreachable: {error}"
            ) from error
        discount.platform_id = adapter.discount_response(status, body)[:200]
        discount.status, discount.error = DiscountStatus.CREATED, ""
    except RemedyUnsupported as error:
        discount.status, discount.error = DiscountStatus.UNSUPPORTED, str(error)
    except DiscountRefused as error:
        prefix = f"HTTP {error.status}: " if error.status else ""
        discount.status, discount.error = DiscountStatus.REFUSED, f"{prefix}{error.message}"
        logger.warning("native discount %s refused: %s", discount.pk, discount.error)
    except DiscountUnavailable as error:
        retry_in = retry_delay(discount.attempts)
        discount.status = DiscountStatus.FAILED
        discount.error = f"Attempt {discount.attempts}: {error}" + (
            "" if retry_in else " — no more automatic attempts; retry from admin."
        )
    discount.updated_at = now
    discount.save(update_fields=["status", "error", "platform_id", "updated_at"])
    return DiscountAttempt(status=discount.status, retry_in=retry_in)


def native_discounts_retry(*, discount_ids: list[int], now: datetime) -> int:
    """Admin: try again the discounts that failed or were refused (after fixing the
    credentials, say); how many were queued."""
    with transaction.atomic():
        ids = list(
            NativeDiscount.objects.filter(
                pk__in=discount_ids,
                status__in=[DiscountStatus.FAILED, DiscountStatus.REFUSED, DiscountStatus.SENDING],
            ).values_list("pk", flat=True)
        )
        NativeDiscount.objects.filter(pk__in=ids).update(
            status=DiscountStatus.PENDING, attempts=0, updated_at=now
        )
        for discount_id in ids:
            transaction.on_commit(functools.partial(_dispatch, discount_id))
    return len(ids)
