"""Site admin for merchandisers: pages render, the secret rotates with a grace period."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from cartassist.client import sign
from cartassist.demo.seed import groups_ensure
from cartassist.models import (
    Cart,
    CartEvent,
    CartStatus,
    Decision,
    EventSource,
    FollowUpContact,
    Intervention,
    Site,
    StallReason,
    SuppressionReason,
)
from tests.fixtures.carts import iso, make_event

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen(time_machine: Any) -> Any:
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def records(site: Site) -> Intervention:
    """A stalled cart with one event and its suppressed intervention."""
    cart = Cart.objects.create(
        site=site,
        external_id="cart-1",
        visitor_id="visitor-1",
        currency="EUR",
        subtotal=Decimal("60.00"),
        stage="shipping",
        status=CartStatus.STALLED,
        state_at=NOW,
        last_activity_at=NOW,
    )
    CartEvent.objects.create(
        site=site,
        cart=cart,
        event_id="evt-1",
        type="cart_updated",
        source=EventSource.WIDGET,
        visitor_id="visitor-1",
        occurred_at=NOW,
        received_at=NOW,
        data={"currency": "EUR", "subtotal": "60.00", "lines": []},
    )
    return Intervention.objects.create(
        site=site,
        cart=cart,
        visitor_id="visitor-1",
        stall_deadline=NOW,
        stage="shipping",
        stall_reason=StallReason.SHIPPING_SHOCK,
        urgency=68,
        inactivity=timedelta(minutes=6),
        cart_value=Decimal("60.00"),
        currency="EUR",
        decision=Decision.SUPPRESSED,
        suppression_reason=SuppressionReason.QUIET_HOURS,
        decided_at=NOW,
    )


@pytest.fixture
def merchandiser_client(db: Any) -> Client:
    user = User.objects.create_user("merch", password="x", is_staff=True)
    user.groups.add(groups_ensure()["Merchandisers"])
    client = Client()
    client.force_login(user)
    return client


def pages(site: Site, intervention: Intervention) -> list[str]:
    rule = site.stall_rules.first()
    assert rule is not None
    return [
        "/admin/",
        "/admin/cartassist/site/",
        f"/admin/cartassist/site/{site.pk}/change/",
        "/admin/cartassist/stallrule/",
        f"/admin/cartassist/stallrule/{rule.pk}/change/",
        "/admin/cartassist/cart/",
        f"/admin/cartassist/cart/{intervention.cart_id}/change/",
        "/admin/cartassist/cartevent/",
        "/admin/cartassist/intervention/",
        "/admin/cartassist/intervention/?decision__exact=suppressed",
        "/admin/cartassist/intervention/?suppression_reason__exact=quiet_hours",
        f"/admin/cartassist/intervention/{intervention.pk}/change/",
        "/admin/cartassist/intervention/?converted__exact=1",
        "/admin/cartassist/intervention/?invitation_result__exact=ignored",
        "/admin/cartassist/followupcontact/",
        f"/admin/cartassist/followupcontact/{follow_up(intervention).pk}/change/",
    ]


def follow_up(intervention: Intervention) -> FollowUpContact:
    contact, _ = FollowUpContact.objects.get_or_create(
        site_id=intervention.site_id,
        key="hd-1",
        defaults={
            "source": "helpdesk",
            "channel": "email",
            "reason": "checking_genuine",
            "visitor_id": intervention.visitor_id,
            "occurred_at": NOW,
            "received_at": NOW,
            "intervention": intervention,
        },
    )
    return contact


def test_every_cartassist_page_renders_for_a_superuser(admin_client, site, records):
    # when
    statuses = {url: admin_client.get(url).status_code for url in pages(site, records)}
    # then
    assert set(statuses.values()) == {200}, statuses
    assert admin_client.get("/admin/cartassist/site/add/").status_code == 200


def test_every_cartassist_page_renders_for_a_merchandiser(merchandiser_client, site, records):
    # when
    statuses = {url: merchandiser_client.get(url).status_code for url in pages(site, records)}
    # then
    assert set(statuses.values()) == {200}, statuses


def test_the_intervention_list_shows_the_decision_and_its_reason(admin_client, site, records):
    # when
    html = admin_client.get("/admin/cartassist/intervention/").content.decode()
    # then
    assert "Suppressed" in html
    assert "Quiet hours" in html
    assert "Shipping shock" in html


def test_a_merchandiser_cannot_add_sites_or_edit_the_record(merchandiser_client, site, records):
    # when
    add_site = merchandiser_client.get("/admin/cartassist/site/add/")
    change_intervention = merchandiser_client.post(
        f"/admin/cartassist/intervention/{records.pk}/change/", {"decision": "invited"}
    )
    # then
    assert (add_site.status_code, change_intervention.status_code) == (403, 403)
    assert Intervention.objects.get().decision == Decision.SUPPRESSED


def test_the_record_is_read_only_even_for_a_superuser(admin_client, site, records):
    # when
    response = admin_client.post(
        f"/admin/cartassist/intervention/{records.pk}/delete/", {"post": "yes"}
    )
    # then
    assert response.status_code == 403
    assert Intervention.objects.count() == 1


# --- rotating the secret ---------------------------------------------------------------


def rotate(client: Client, site: Site) -> Any:
    return client.post(
        "/admin/cartassist/site/", {"action": "rotate_secret", "_selected_action": [site.pk]}
    )


def signed_post(client: Client, site: Site, secret: str, at: datetime) -> Any:
    body = json.dumps({"events": [make_event(occurred_at=iso(at))]}).encode()
    timestamp = str(int(at.timestamp()))
    return client.post(
        "/api/v1/server/events",
        body,
        content_type="application/json",
        HTTP_X_CARTASSIST_KEY=site.public_key,
        HTTP_X_CARTASSIST_TIMESTAMP=timestamp,
        HTTP_X_CARTASSIST_SIGNATURE=sign(secret, timestamp, body),
    )


@pytest.mark.parametrize("who", ["admin_client", "merchandiser_client"])
def test_the_rotate_action_replaces_the_secret_and_keeps_the_old_one_for_a_while(
    request, site, who
):
    # given
    client = request.getfixturevalue(who)
    old_secret = site.secret
    # when
    response = rotate(client, site)
    # then
    assert response.status_code == 302
    site.refresh_from_db()
    assert site.secret != old_secret
    assert site.secret.startswith("sk_")
    assert (site.previous_secret, site.previous_secret_expires_at) == (
        old_secret,
        NOW + timedelta(hours=24),
    )
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == [
        "Rotated 1 secret(s); the previous secrets stay valid for the grace period."
    ]


def test_the_previous_secret_is_accepted_within_grace_and_refused_after(admin_client, site, frozen):
    # given
    old_secret = site.secret
    rotate(admin_client, site)
    site.refresh_from_db()
    api = Client()
    # when
    frozen.move_to(NOW + timedelta(hours=23, minutes=59), tick=False)
    within = signed_post(api, site, old_secret, NOW + timedelta(hours=23, minutes=59))
    new_secret = signed_post(
        api, site, site.secret, NOW + timedelta(hours=23, minutes=59, seconds=1)
    )
    frozen.move_to(NOW + timedelta(hours=24), tick=False)
    after = signed_post(api, site, old_secret, NOW + timedelta(hours=24))
    # then
    assert (within.status_code, new_secret.status_code, after.status_code) == (200, 200, 401)
    assert after.json() == {
        "detail": "Invalid signature.",
        "errors": {"X-CartAssist-Signature": ["Invalid signature."]},
    }
    assert CartEvent.objects.count() == 2


def test_the_secrets_stay_out_of_the_editable_form(admin_client, site):
    # given
    old_secret = site.secret
    rotate(admin_client, site)
    site.refresh_from_db()
    # when
    html = admin_client.get(f"/admin/cartassist/site/{site.pk}/change/").content.decode()
    # then: the secret is shown read-only; the previous one not at all
    assert site.secret in html
    assert 'name="secret"' not in html
    assert old_secret not in html


def test_staff_who_may_only_view_sites_cannot_rotate_secrets(site):
    # given
    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(content_type__app_label="cartassist", codename="view_site")
    )
    client = Client()
    client.force_login(viewer)
    old_secret = site.secret
    # when
    changelist = client.get("/admin/cartassist/site/")
    rotate(client, site)
    # then
    assert changelist.status_code == 200
    assert "rotate_secret" not in changelist.content.decode()
    site.refresh_from_db()
    assert (site.secret, site.previous_secret) == (old_secret, "")


def test_the_intervention_page_shows_its_outcome_and_follow_ups(merchandiser_client, site, records):
    # given: a converted intervention with a follow-up contact
    Intervention.objects.filter(pk=records.pk).update(
        converted=True, order_id="ord-77", revenue=Decimal("60.00"), net_revenue=Decimal("60.00")
    )
    follow_up(records)
    # when
    html = merchandiser_client.get(
        f"/admin/cartassist/intervention/{records.pk}/change/"
    ).content.decode()
    # then
    for text in ["Invitation and chat", "Offers", "Conversion", "ord-77", "Checking the outreach"]:
        assert text in html


def test_the_recompute_action_restores_the_derived_outcome(merchandiser_client, site, records):
    # given: an outcome someone tampered with (no order exists for this shopper)
    Intervention.objects.filter(pk=records.pk).update(converted=True, revenue=Decimal("999"))
    # when: a merchandiser recomputes it from the list
    response = merchandiser_client.post(
        "/admin/cartassist/intervention/",
        {"action": "recompute_outcomes", "_selected_action": [records.pk]},
        follow=True,
    )
    # then
    assert response.status_code == 200
    records.refresh_from_db()
    assert (records.converted, records.revenue) == (False, Decimal(0))
    assert "1 outcome(s) changed" in response.content.decode()


def test_cart_amounts_show_the_currencys_minor_units(admin_client, site, records):
    # given: stored as 60.000
    cart = records.cart

    # when
    listing = admin_client.get("/admin/cartassist/cart/").content.decode()
    detail = admin_client.get(f"/admin/cartassist/cart/{cart.pk}/change/").content.decode()

    # then
    assert "60.00 EUR" in listing
    assert "60.000" not in listing
    assert "60.00 EUR" in detail
