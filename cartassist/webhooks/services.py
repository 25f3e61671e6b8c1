"""Webhooks to the shop backend: queue a delivery per subscribed endpoint, send it signed,
retry with back-off, give up after CARTASSIST_WEBHOOK_MAX_ATTEMPTS. docs/WEBHOOKS.md.

How the parts fit:
- ``webhooks_emit`` (and ``webhooks_emit_interventions`` for a sweep batch) inserts the
  rows in the caller's transaction; the unique (endpoint, event, dedupe_key) makes emitting
  twice queue once. After commit each new delivery goes to ``webhook_deliver_task``.
- ``webhook_deliver`` claims the row with one conditional UPDATE (healthchecks' compare-
  and-swap), so two workers never send the same delivery at the same time, then POSTs.
- ``webhooks_redeliver_due`` (Celery beat, or the embedded scheduler thread) sends what is
  due again and takes back deliveries a stopped worker left in ``sending``.
"""

from __future__ import annotations

import logging
import random
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F

from cartassist.carts.models import Intervention, InterventionTrigger
from cartassist.core import ports
from cartassist.core.signing import sign
from cartassist.domain.webhooks import json_safe, retry_delay, webhook_body
from cartassist.webhooks.models import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from policies.engine.money import quantize

logger = logging.getLogger(__name__)

USER_AGENT = "CartAssist-Webhooks/1"
MAX_ERROR_LENGTH = 500  # WebhookDelivery.last_error
DUE_STATUSES = [DeliveryStatus.PENDING, DeliveryStatus.RETRYING]
RETRYABLE_STATUSES = [DeliveryStatus.RETRYING, DeliveryStatus.FAILED]


@dataclass(frozen=True)
class QueueItem:
    site_id: int
    dedupe_key: str
    data: dict[str, Any]


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt came to. ``retry_in`` is set when another attempt is scheduled."""

    delivery_id: str
    status: str
    attempts: int
    response_status: int | None
    retry_in: timedelta | None


# --- queueing ------------------------------------------------------------------------


def _subscribed(site_ids: Iterable[int], event: str) -> dict[int, list[WebhookEndpoint]]:
    """The active endpoints of these sites that take ``event``, by site: one query.

    ``events`` is a JSON list; it is filtered here rather than in SQL because SQLite has no
    JSON containment lookup, and a site has a handful of endpoints.
    """
    found: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.select_related("site").filter(
        site_id__in=set(site_ids), active=True
    ):
        if isinstance(endpoint.events, list) and event in endpoint.events:
            found.setdefault(endpoint.site_id, []).append(endpoint)
    return found


def _queue(
    *,
    endpoints: dict[int, list[WebhookEndpoint]],
    event: str,
    items: list[QueueItem],
    now: datetime,
) -> int:
    """Insert one delivery per (item, endpoint of its site), skip those queued before, and
    dispatch the new ones after commit. One insert and one select whatever the count."""
    deliveries = []
    for item in items:
        for endpoint in endpoints.get(item.site_id, []):
            delivery = WebhookDelivery(
                endpoint=endpoint,
                site_id=item.site_id,
                event=event,
                dedupe_key=item.dedupe_key[:80],
                status=DeliveryStatus.PENDING,
                next_attempt_at=now,
                created_at=now,
            )
            delivery.payload = {
                "id": str(delivery.delivery_id),
                "type": event,
                "created_at": json_safe(now),
                "site": endpoint.site.public_key,
                "data": json_safe(item.data),
            }
            deliveries.append(delivery)
    if not deliveries:
        return 0
    WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    # bulk_create with ignore_conflicts does not say which rows it inserted: ask.
    created = [
        str(delivery_id)
        for delivery_id in WebhookDelivery.objects.filter(
            delivery_id__in=[d.delivery_id for d in deliveries]
        ).values_list("delivery_id", flat=True)
    ]
    _dispatch_on_commit(created)
    return len(created)


def webhooks_emit(
    *,
    site_id: int,
    event: str,
    dedupe_key: str,
    data: dict[str, Any] | Callable[[], dict[str, Any]],
    now: datetime,
) -> int:
    """Queue ``event`` for every active endpoint of the site subscribed to it, in the
    caller's transaction; returns how many deliveries were queued (0 if none subscribes,
    or if this (event, dedupe_key) was queued before). Sent once the transaction commits.

    ``data`` is the event's own object (Decimals and datetimes are made JSON-safe), or a
    function returning it, called only when an endpoint subscribes (saves its queries).
    """
    return webhooks_emit_many(site_id=site_id, event=event, items=[(dedupe_key, data)], now=now)


def webhooks_emit_many(
    *,
    site_id: int,
    event: str,
    items: list[tuple[str, dict[str, Any] | Callable[[], dict[str, Any]]]],
    now: datetime,
) -> int:
    """``webhooks_emit`` for several ``(dedupe_key, data)`` of one site and event: one
    query for the endpoints, one insert for the deliveries."""
    if not items:
        return 0
    endpoints = _subscribed([site_id], event)
    if not endpoints:
        return 0
    return _queue(
        endpoints=endpoints,
        event=event,
        items=[
            QueueItem(site_id=site_id, dedupe_key=key, data=data() if callable(data) else data)
            for key, data in items
        ],
        now=now,
    )


def intervention_webhook_data(intervention: Intervention, cart_external_id: str) -> dict[str, Any]:
    """The ``data`` of ``intervention.created`` (docs/WEBHOOKS.md)."""
    return {
        "intervention_id": intervention.pk,
        "cart": cart_external_id,
        "visitor_id": intervention.visitor_id,
        "trigger": intervention.trigger,
        "decision": intervention.decision,
        "suppression_reason": intervention.suppression_reason or None,
        "stall_reason": intervention.stall_reason,
        "urgency": intervention.urgency,
        "cart_value": str(quantize(intervention.cart_value, intervention.currency)),
        "currency": intervention.currency,
        "decided_at": json_safe(intervention.decided_at),
    }


def webhooks_emit_interventions(
    *, site_ids: Iterable[int], cart_external_ids: dict[int, str], now: datetime
) -> int:
    """``intervention.created`` for the interventions a sweep batch just recorded.

    The batch inserted them with ``ignore_conflicts`` (no primary keys), so they are read
    back by (cart, decided_at = now) in the same transaction. Cost: one query when no site
    of the batch has a subscribed endpoint, else three (endpoints, interventions, insert)
    plus the read-back — never one per intervention.
    """
    event = WebhookEvent.INTERVENTION_CREATED
    endpoints = _subscribed(site_ids, event)
    if not endpoints:
        return 0
    interventions = Intervention.objects.filter(
        site_id__in=list(endpoints),
        cart_id__in=list(cart_external_ids),
        decided_at=now,
        trigger=InterventionTrigger.SWEEP,
    ).order_by("pk")
    items = [
        QueueItem(
            site_id=i.site_id,
            dedupe_key=f"intervention:{i.pk}",
            data=intervention_webhook_data(i, cart_external_ids[i.cart_id]),
        )
        for i in interventions
    ]
    return _queue(endpoints=endpoints, event=event, items=items, now=now)


def _dispatch_on_commit(delivery_ids: list[str]) -> None:
    if delivery_ids:
        transaction.on_commit(lambda: _dispatch(delivery_ids))


def _dispatch(delivery_ids: list[str]) -> None:
    """Hand each delivery to the task. A broker that is down (or, when tasks run eagerly,
    an error in the attempt) must not break the caller: the redelivery pass sends what is
    left pending."""
    dispatch = ports.webhook_delivery_dispatch.get()
    for delivery_id in delivery_ids:
        try:
            dispatch(delivery_id)
        except Exception:
            logger.exception("could not dispatch webhook delivery %s", delivery_id)


# --- sending -------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer that is not 2xx: it is not followed (a POST would become a
    GET without the body), and the delivery is retried."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects())


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST and return the HTTP status; raises OSError on a network failure."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked by the caller
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(1024)
            return int(response.status)
    except urllib.error.HTTPError as error:
        with error:
            return int(error.code)


def webhook_lease() -> timedelta:
    """How long a delivery may stay ``sending`` before the redelivery pass takes it back
    (a worker that died mid-attempt). Well beyond the attempt timeout."""
    return max(timedelta(minutes=5), settings.CARTASSIST_WEBHOOK_TIMEOUT * 3)


def webhook_deliver(
    *, delivery_id: str | UUID, now: datetime, jitter: float | None = None
) -> AttemptResult | None:
    """Make one attempt at a delivery that is due; ``None`` if it is not due (already sent,
    not yet time, or another worker holds it).

    1. Claim: one conditional UPDATE (pending/retrying and due → sending, attempts + 1), so
       concurrent callers cannot both send.
    2. POST the JSON body, signed with the site's secret (the recipe of cartassist/api/
       auth.py ``sign``), with the same ``CartAssist-Delivery`` id on every attempt.
    3. 2xx → delivered. Anything else, a timeout or a network error → retrying after
       ``retry_delay``, or failed once CARTASSIST_WEBHOOK_MAX_ATTEMPTS attempts were made.
    """
    delivery_id = str(delivery_id)
    claimed = WebhookDelivery.objects.filter(
        delivery_id=delivery_id, status__in=DUE_STATUSES, next_attempt_at__lte=now
    ).update(status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, last_attempt_at=now)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint", "site").get(
        delivery_id=delivery_id
    )
    endpoint = delivery.endpoint
    response_status: int | None = None
    permanent = False
    if not endpoint.active:
        error, permanent = "The endpoint was switched off.", True
    elif urlsplit(endpoint.url).scheme not in {"http", "https"}:
        error, permanent = "Refused: webhooks are sent to http(s) URLs only.", True
    else:
        body = webhook_body(delivery.payload)
        timestamp = str(int(now.timestamp()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "CartAssist-Delivery": delivery_id,
            "CartAssist-Event": delivery.event,
            "CartAssist-Timestamp": timestamp,
            "CartAssist-Signature": sign(delivery.site.secret, timestamp, body),
        }
        try:
            response_status = _post(
                endpoint.url, body, headers, settings.CARTASSIST_WEBHOOK_TIMEOUT.total_seconds()
            )
            error = "" if 200 <= response_status < 300 else f"HTTP {response_status}"
        except (OSError, ValueError) as exc:  # refused, reset, DNS, TLS, timeout, bad URL
            error = f"{type(exc).__name__}: {exc}"
    return _record_attempt(
        delivery, now=now, response_status=response_status, error=error,
        permanent=permanent, jitter=jitter,
    )  # fmt: skip


def _record_attempt(
    delivery: WebhookDelivery,
    *,
    now: datetime,
    response_status: int | None,
    error: str,
    permanent: bool,
    jitter: float | None,
) -> AttemptResult:
    retry_in = None
    fields: dict[str, Any] = {"response_status": response_status, "last_error": error[:500]}
    if not error:
        fields.update(status=DeliveryStatus.DELIVERED, delivered_at=now)
    elif permanent or delivery.attempts >= settings.CARTASSIST_WEBHOOK_MAX_ATTEMPTS:
        fields.update(status=DeliveryStatus.FAILED)
    else:
        retry_in = retry_delay(
            delivery.attempts, jitter=random.random() if jitter is None else jitter
        )
        fields.update(status=DeliveryStatus.RETRYING, next_attempt_at=now + retry_in)
    # Only while this attempt still holds the lease (the redelivery pass may have taken
    # back a delivery whose attempt outlived it).
    WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.SENDING, attempts=delivery.attempts
    ).update(**fields)
    if error:
        logger.info(
            "webhook %s %s attempt %d failed: %s", delivery.event, delivery.delivery_id,
            delivery.attempts, error,
        )  # fmt: skip
    return AttemptResult(
        delivery_id=str(delivery.delivery_id),
        status=fields["status"],
        attempts=delivery.attempts,
        response_status=response_status,
        retry_in=retry_in,
    )


# --- redelivery and the admin's "retry now" --------------------------------------------


def webhooks_redeliver_due(*, now: datetime, limit: int = 200) -> int:
    """The periodic pass: returns how many deliveries it handed to the task.

    1. Deliveries left ``sending`` for longer than ``webhook_lease()`` (the worker died
       mid-attempt) become ``retrying`` now — or ``failed`` if out of attempts.
    2. Up to ``limit`` due deliveries (pending or retrying, ``next_attempt_at <= now``,
       oldest first, through the partial index ``webhook_due``) go to the task: a Celery
       worker in production, this very thread when tasks run eagerly (embedded mode).
       A delivery that is also queued elsewhere is sent once: the claim decides.
    """
    stale = WebhookDelivery.objects.filter(
        status=DeliveryStatus.SENDING, last_attempt_at__lte=now - webhook_lease()
    )
    lost = "No answer recorded: the attempt was interrupted (worker stopped)."
    stale.filter(attempts__gte=settings.CARTASSIST_WEBHOOK_MAX_ATTEMPTS).update(
        status=DeliveryStatus.FAILED, last_error=lost
    )
    stale.update(status=DeliveryStatus.RETRYING, next_attempt_at=now, last_error=lost)
    due = [
        str(delivery_id)
        for delivery_id in WebhookDelivery.objects.filter(
            status__in=DUE_STATUSES, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at")
        .values_list("delivery_id", flat=True)[:limit]
    ]
    _dispatch(due)
    return len(due)


def webhooks_retry_now(*, delivery_pks: Iterable[int], now: datetime) -> int:
    """Send failed or retrying deliveries again now (admin action "Retry now"): one more
    attempt each, whatever their attempts so far; same delivery id. Returns how many."""
    with transaction.atomic():
        qs = WebhookDelivery.objects.filter(
            pk__in=list(delivery_pks), status__in=RETRYABLE_STATUSES
        )
        ids = [str(d) for d in qs.values_list("delivery_id", flat=True)]
        WebhookDelivery.objects.filter(delivery_id__in=ids, status__in=RETRYABLE_STATUSES).update(
            status=DeliveryStatus.RETRYING, next_attempt_at=now
        )
        _dispatch_on_commit(ids)
    return len(ids)
