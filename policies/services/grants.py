"""Grants: signed, single-use, expiring, bound to one site, cart and amount.

Token: ``django.core.signing`` with the site's secret as key, so a token from one site
never verifies for another, and any change to it breaks the signature. The database row
is the authority on single use and expiry.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction

from agents import realtime
from cartassist.carts.models import Site
from cartassist.core import ports
from cartassist.core.locks import for_update
from cartassist.domain.webhooks import json_safe
from cartassist.webhooks.models import WebhookEvent
from cartassist.webhooks.services import webhooks_emit
from policies.engine.money import quantize
from policies.models import AuditAction, Grant, Offer
from policies.services.audit import audit_record

SALT = "cartassist.grant.v1"


def grant_issue(*, offer: Offer, now: datetime) -> tuple[Grant, str]:
    """Issue the grant for an accepted offer (in the caller's transaction)."""
    grant = Grant.objects.create(
        offer=offer,
        site_id=offer.site_id,
        cart_id=offer.cart_id,
        policy_version_id=offer.policy_version_id,
        token_id=secrets.token_hex(12),
        kind=offer.kind,
        amount=offer.amount,
        currency=offer.currency,
        issued_at=now,
        expires_at=now + settings.CARTASSIST_GRANT_TTL,
    )
    token = grant_token(grant)
    audit_record(
        action=AuditAction.GRANT_ISSUED,
        site_id=offer.site_id,
        actor="system",
        now=now,
        cart=offer.cart,
        offer=offer,
        grant=grant,
        outcome=f"grant {grant.token_id}, expires {grant.expires_at:%Y-%m-%d %H:%M} UTC",
    )
    webhooks_emit(
        site_id=grant.site_id,
        event=WebhookEvent.GRANT_ISSUED,
        dedupe_key=f"grant:{grant.token_id}",
        data=lambda: grant_webhook_data(grant),
        now=now,
    )
    # The shop's platform (Shopify, WooCommerce) gets its own single-use code for it.
    ports.grant_issued.get()(grant=grant, now=now)
    conversation = offer.conversation
    realtime.publish_on_commit(
        realtime.visitor_group(conversation.site_id, conversation.visitor_id),
        realtime.GRANT_ISSUED,
        {"grant": grant_payload(grant, token)},
    )
    grant_console_publish(grant)
    return grant, token


def grant_console_payload(grant: Grant) -> dict[str, Any]:
    """A grant as the agents' consoles see it: never the token (docs/REALTIME.md)."""
    offer = grant.offer
    return {
        "id": grant.pk,
        "offer_id": grant.offer_id,
        "conversation_id": offer.conversation_id,
        "cart_id": grant.cart_id,
        "kind": grant.kind,
        "amount": None if grant.amount is None else str(quantize(grant.amount, grant.currency)),
        "currency": grant.currency,
        "issued_at": json_safe(grant.issued_at),
        "expires_at": json_safe(grant.expires_at),
        "redeemed_at": json_safe(grant.redeemed_at) if grant.redeemed_at else None,
        "order_id": grant.order_id,
    }


def grant_console_publish(grant: Grant) -> None:
    """Tell the site's consoles that a grant was issued or redeemed, on commit (the
    consoles following its chat forward it as a ``grant`` frame)."""
    realtime.publish_on_commit(
        realtime.console_site_group(grant.site_id),
        realtime.GRANT_UPDATED,
        {"grant": grant_console_payload(grant)},
    )


def grant_token(grant: Grant) -> str:
    site = Site.objects.only("secret").get(pk=grant.site_id)
    return signing.dumps(
        {
            "g": grant.token_id,
            "s": grant.site_id,
            "c": grant.cart.external_id,
            "k": grant.kind,
            "a": None if grant.amount is None else str(quantize(grant.amount, grant.currency)),
            "cur": grant.currency,
        },
        key=site.secret,
        salt=SALT,
    )


def grant_payload(grant: Grant, token: str) -> dict[str, Any]:
    return {
        "token": token,
        "kind": grant.kind,
        "amount": None if grant.amount is None else str(quantize(grant.amount, grant.currency)),
        "currency": grant.currency,
        "cart_id": grant.cart.external_id,
        "offer_id": grant.offer_id,
        "expires_at": grant.expires_at.isoformat().replace("+00:00", "Z"),
    }


def grant_webhook_data(grant: Grant) -> dict[str, Any]:
    """The ``data`` of ``grant.issued`` (``grant.redeemed`` adds the order): docs/WEBHOOKS.md."""
    version = grant.policy_version
    return {
        "grant_id": grant.token_id,
        "cart": grant.cart.external_id,
        "kind": grant.kind,
        "amount": None if grant.amount is None else str(quantize(grant.amount, grant.currency)),
        "currency": grant.currency,
        "policy_id": version.policy_id,
        "policy_version": version.number,
        "issued_at": json_safe(grant.issued_at),
        "expires_at": json_safe(grant.expires_at),
    }


class GrantError(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _grant_from_token(*, site: Site, token: str, now: datetime, lock: bool) -> Grant:
    if not isinstance(token, str) or not token or len(token) > 1024:
        raise GrantError("invalid_token", "The grant token is missing or malformed.", 400)
    data = None
    for secret in site.valid_secrets(now):
        try:
            data = signing.loads(token, key=secret, salt=SALT)
            break
        except signing.BadSignature:
            continue
    if not isinstance(data, dict) or data.get("s") != site.pk:
        raise GrantError(
            "invalid_token",
            "This token was not issued by CartAssist for this site, or was altered.",
            403,
        )
    qs = Grant.objects.select_related("cart", "offer")
    if lock:
        qs = for_update(qs)
    grant = qs.filter(token_id=data.get("g"), site=site).first()
    if grant is None:
        raise GrantError("invalid_token", "Unknown grant.", 403)
    return grant


@dataclass(frozen=True)
class Redemption:
    grant: Grant
    replayed: bool


def grant_verify(*, site: Site, token: str, now: datetime) -> Grant:
    return _grant_from_token(site=site, token=token, now=now, lock=False)


def grant_redeem(
    *, site: Site, token: str, order_id: str, idempotency_key: str, now: datetime
) -> Redemption:
    """Redeem a grant for an order, once.

    - the same order again (or the same idempotency key) returns the original result;
    - another order, an expired grant, a tampered or foreign token, a cart whose
      currency is no longer the grant's: refused, audited.
    """
    try:
        with transaction.atomic():
            grant = _grant_from_token(site=site, token=token, now=now, lock=True)
            if grant.redeemed_at is not None:
                if grant.order_id == order_id or (
                    idempotency_key and grant.idempotency_key == idempotency_key
                ):
                    return Redemption(grant, replayed=True)
                raise GrantError(
                    "already_redeemed",
                    f"This grant was already redeemed for order {grant.order_id}.",
                    409,
                )
            if grant.expires_at <= now:
                raise GrantError("expired", "This grant has expired.", 410)
            if grant.currency != grant.cart.currency:
                # The shopper switched the cart's currency after the offer: an amount in
                # the old currency must not be taken off an order in the new one.
                raise GrantError(
                    "currency_changed",
                    f"This grant is in {grant.currency} but the cart is now in "
                    f"{grant.cart.currency}: it cannot be redeemed.",
                    409,
                )
            grant.redeemed_at = now
            grant.order_id = order_id
            grant.idempotency_key = idempotency_key
            grant.save(update_fields=["redeemed_at", "order_id", "idempotency_key"])
            ports.outcomes_refresh_request.get()([grant.cart_id])
            grant_console_publish(grant)
            webhooks_emit(
                site_id=site.pk,
                event=WebhookEvent.GRANT_REDEEMED,
                dedupe_key=f"grant:{grant.token_id}",
                data=lambda: {
                    **grant_webhook_data(grant),
                    "order_id": order_id,
                    "redeemed_at": json_safe(now),
                },
                now=now,
            )
            audit_record(
                action=AuditAction.GRANT_REDEEMED,
                site_id=site.pk,
                actor="shop",
                now=now,
                cart=grant.cart,
                offer=grant.offer,
                grant=grant,
                outcome=f"order {order_id}",
            )
            return Redemption(grant, replayed=False)
    except GrantError as error:
        audit_record(
            action=AuditAction.REDEEM_REFUSED,
            site_id=site.pk,
            actor="shop",
            now=now,
            outcome=f"{error.code}: {error.message} (order {order_id})",
        )
        raise
