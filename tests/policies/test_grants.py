"""The shop backend verifies and redeems grants through the signed API (docs/POLICIES.md,
"For shops"): single use, idempotent for the same order, refused clearly otherwise."""

from __future__ import annotations

import itertools
import json
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from cartassist.client import sign
from cartassist.models import Site
from policies.models import AuditAction, AuditEntry, Grant
from policies.services.grants import grant_token
from policies.services.offers import offer_accept, offer_authorize
from tests.fixtures.carts import iso
from tests.fixtures.policies import make_chat, make_policy
from tests.fixtures.sites import make_site

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("chat_settings")]

# Every request gets its own, later timestamp (within the signature window, starting four
# minutes back): the API refuses a signature it has seen before.
_steps = itertools.count(0)


def signed_post(client: Client, site: Site, path: str, data: dict[str, Any], **headers: Any):
    body = json.dumps(data).encode()
    ts = str(int(time.time()) - 240 + next(_steps) % 200)
    return client.post(
        path,
        body,
        content_type="application/json",
        HTTP_X_CARTASSIST_KEY=site.public_key,
        HTTP_X_CARTASSIST_TIMESTAMP=ts,
        HTTP_X_CARTASSIST_SIGNATURE=sign(site.secret, ts, body),
        **headers,
    )


def verify(client, site, token):
    return signed_post(client, site, "/api/v1/server/grants/verify", {"token": token})


def redeem(client, site, token, order_id="ord-1", **headers):
    return signed_post(
        client,
        site,
        "/api/v1/server/grants/redeem",
        {"token": token, "order_id": order_id},
        **headers,
    )


def granted(site: Site, visitor_id: str = "visitor-1") -> tuple[Grant, str]:
    make_policy(site)
    chat = make_chat(site, visitor_id=visitor_id)
    offer = offer_authorize(
        agent=chat.agent,
        conversation_id=chat.conversation.pk,
        kind="waive_delivery",
        amount="9.90",
        now=timezone.now(),
    )
    offer_accept(site_id=site.pk, visitor_id=visitor_id, offer_id=offer.pk, now=timezone.now())
    grant = Grant.objects.select_related("cart").get(offer=offer)
    return grant, grant_token(grant)


def redemption_state(grant: Grant) -> tuple:
    grant.refresh_from_db()
    return (grant.redeemed_at, grant.order_id, grant.idempotency_key)


def test_verify_describes_the_grant_without_redeeming_it(client, site):
    # given
    grant, token = granted(site)

    # when
    response = verify(client, site, token)

    # then
    assert response.status_code == 200
    assert response.json() == {
        "grant_id": grant.token_id,
        "valid": True,
        "kind": "waive_delivery",
        "amount": "9.90",
        "currency": "EUR",
        "cart_id": grant.cart.external_id,
        "expires_at": iso(grant.expires_at),
        "redeemed": False,
        "order_id": "",
    }
    assert redemption_state(grant) == (None, "", "")


def test_redeem_marks_the_grant_used_for_the_order(client, site):
    # given
    grant, token = granted(site)

    # when
    response = redeem(client, site, token, "ord-1", HTTP_IDEMPOTENCY_KEY="key-1")

    # then
    assert response.status_code == 200
    assert response.json() == {
        "grant_id": grant.token_id,
        "valid": False,
        "kind": "waive_delivery",
        "amount": "9.90",
        "currency": "EUR",
        "cart_id": grant.cart.external_id,
        "expires_at": iso(grant.expires_at),
        "redeemed": True,
        "order_id": "ord-1",
        "replayed": False,
    }
    redeemed_at, order_id, key = redemption_state(grant)
    assert (redeemed_at is not None, order_id, key) == (True, "ord-1", "key-1")
    assert AuditEntry.objects.filter(action=AuditAction.GRANT_REDEEMED).count() == 1


def test_redeeming_again_for_the_same_order_replays_the_original_result(client, site):
    # given
    grant, token = granted(site)
    first = redeem(client, site, token, "ord-1").json()
    state = redemption_state(grant)

    # when
    response = redeem(client, site, token, "ord-1")

    # then
    assert response.status_code == 200
    assert response.json() == {**first, "replayed": True}
    assert redemption_state(grant) == state
    assert AuditEntry.objects.filter(action=AuditAction.GRANT_REDEEMED).count() == 1


def test_redeeming_for_another_order_is_a_conflict(client, site):
    # given
    grant, token = granted(site)
    redeem(client, site, token, "ord-1")
    state = redemption_state(grant)

    # when
    response = redeem(client, site, token, "ord-2")

    # then
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This grant was already redeemed for order ord-1.",
        "code": "already_redeemed",
    }
    assert redemption_state(grant) == state
    assert AuditEntry.objects.filter(action=AuditAction.REDEEM_REFUSED).count() == 1


def test_an_expired_grant_is_gone(client, site):
    # given
    grant, token = granted(site)
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    # when
    response = redeem(client, site, token, "ord-1")

    # then
    assert response.status_code == 410
    assert response.json() == {"detail": "This grant has expired.", "code": "expired"}
    assert redemption_state(grant) == (None, "", "")


def test_a_tampered_token_is_refused(client, site):
    # given: the amount raised in the token, the signature kept
    grant, token = granted(site)
    payload, timestamp, signature = token.split(":")
    data = json.loads(signing.b64_decode(payload.encode()))
    data["a"] = "99.00"
    tampered = ":".join(
        [signing.b64_encode(json.dumps(data, separators=(",", ":")).encode()).decode(),
         timestamp, signature]
    )  # fmt: skip

    # when
    verified = verify(client, site, tampered)
    redeemed = redeem(client, site, tampered, "ord-1")

    # then
    expected = {
        "detail": "This token was not issued by CartAssist for this site, or was altered.",
        "code": "invalid_token",
    }
    assert (verified.status_code, verified.json()) == (403, expected)
    assert (redeemed.status_code, redeemed.json()) == (403, expected)
    assert redemption_state(grant) == (None, "", "")


def test_another_sites_token_is_refused(client, site):
    # given
    other = make_site(name="Other Shop")
    foreign_grant, foreign_token = granted(other)

    # when
    verified = verify(client, site, foreign_token)
    redeemed = redeem(client, site, foreign_token, "ord-1")

    # then
    assert verified.status_code == redeemed.status_code == 403
    assert redeemed.json()["code"] == "invalid_token"
    assert redemption_state(foreign_grant) == (None, "", "")


def test_an_unsigned_request_is_refused_before_the_token_is_read(client, site):
    # given
    grant, token = granted(site)

    # when
    response = client.post(
        "/api/v1/server/grants/redeem",
        json.dumps({"token": token, "order_id": "ord-1"}),
        content_type="application/json",
    )

    # then
    assert response.status_code == 401
    assert redemption_state(grant) == (None, "", "")
    assert Grant.objects.get(pk=grant.pk).amount == Decimal("9.900")


def test_a_grant_on_a_cart_that_switched_currency_is_not_redeemed(client, site, post_events):
    # given: a 9.90 EUR grant, then the shopper switched the storefront to GBP
    from tests.fixtures.carts import make_event

    grant, token = granted(site)
    switch = make_event(
        "cart_updated",
        cart_id=grant.cart.external_id,
        data={"currency": "GBP", "subtotal": "52.00", "lines": []},
    )
    assert post_events.server([switch]).status_code == 200

    # when
    verified = verify(client, site, token)
    response = redeem(client, site, token, "ord-1")

    # then: the grant is not valid, and redeeming it is refused and audited
    assert verified.json()["valid"] is False
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This grant is in EUR but the cart is now in GBP: it cannot be redeemed.",
        "code": "currency_changed",
    }
    assert redemption_state(grant) == (None, "", "")
    assert AuditEntry.objects.filter(action=AuditAction.REDEEM_REFUSED).count() == 1
