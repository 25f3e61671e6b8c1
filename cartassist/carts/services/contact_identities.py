"""Emails and phone numbers signed server events gave a cart, kept as keyed hashes only
(cartassist/domain/contacts.py, docs/API.md "Outreach lookup").

The key is derived per site from ``SECRET_KEY``: a hash from one site never matches
another site's, and nobody without the server's secret can test a guessed address
against the table. Changing ``SECRET_KEY`` (docs/SETTINGS.md) makes the stored hashes
unmatched: shoppers are then found by email or phone again once new events carry them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.conf import settings

from cartassist.carts.models import Cart, ContactIdentity, ShopperEmailAddress
from cartassist.domain.contacts import EMAIL, PHONE, contact_digest

CONTACT_KINDS = (EMAIL, PHONE)


def site_contact_key(site_id: int) -> bytes:
    """The site's key for contact hashes: HMAC-SHA256(SECRET_KEY, "…:<site id>")."""
    return hmac.new(
        settings.SECRET_KEY.encode(),
        f"cartassist.contact-identity:{site_id}".encode(),
        hashlib.sha256,
    ).digest()


def site_contact_digest(*, site_id: int, kind: str, normalised: str) -> str:
    """The stored hash of a normalised email or phone for this site."""
    return contact_digest(site_contact_key(site_id), kind, normalised)


def contact_identities_record(
    *, site_id: int, carts: Mapping[str, Cart], events: Iterable[Mapping[str, Any]], now: datetime
) -> int:
    """Record the hash of each ``email`` and ``phone`` the events carry (already
    normalised by validation) against the event's cart, once per cart. Runs in the
    ingest's transaction; returns how many (kind, hash, cart) the events named."""
    key = site_contact_key(site_id)
    rows: dict[tuple[str, str, int], ContactIdentity] = {}
    for event in events:
        cart = carts[event["cart_id"]]
        for kind in CONTACT_KINDS:
            value = event.get(kind)
            if value:
                digest = contact_digest(key, kind, value)
                rows.setdefault(
                    (kind, digest, cart.pk),
                    ContactIdentity(
                        site_id=site_id, kind=kind, digest=digest, cart=cart, first_seen_at=now
                    ),
                )
    if rows:
        ContactIdentity.objects.bulk_create(list(rows.values()), ignore_conflicts=True)
    return len(rows)


def shopper_email_addresses_record(
    *, site_id: int, carts: Mapping[str, Cart], events: Iterable[Mapping[str, Any]], now: datetime
) -> int:
    """Keep the deliverable address each *signed* event's ``email`` gave its cart (the
    newest wins), for the email an agent may send a shopper who left (docs/adr/0025).
    The caller passes server events only: a widget event can never name an address.
    Runs in the ingest's transaction; returns how many carts got an address."""
    rows: dict[int, ShopperEmailAddress] = {}
    for event in events:
        address = event.get(EMAIL)
        if address:
            cart = carts[event["cart_id"]]
            rows[cart.pk] = ShopperEmailAddress(
                site_id=site_id,
                cart=cart,
                visitor_id=cart.visitor_id,
                address=address,
                recorded_at=now,
            )
    if rows:
        ShopperEmailAddress.objects.bulk_create(
            list(rows.values()),
            update_conflicts=True,
            unique_fields=["cart"],
            update_fields=["address", "visitor_id", "recorded_at"],
        )
    return len(rows)


def contact_cart_ids(*, site_id: int, kind: str, normalised: str, limit: int = 500) -> list[int]:
    """The site's carts whose events gave this email or phone, newest first."""
    digest = site_contact_digest(site_id=site_id, kind=kind, normalised=normalised)
    return list(
        ContactIdentity.objects.filter(site_id=site_id, kind=kind, digest=digest)
        .order_by("-cart_id")
        .values_list("cart_id", flat=True)[:limit]
    )
