"""Signed server events may carry the shopper's email and phone; only keyed hashes are
stored, and widget events may not carry them (docs/API.md, "Outreach lookup")."""

from __future__ import annotations

from typing import Any

import pytest

from cartassist.carts.services.contact_identities import site_contact_key
from cartassist.domain.contacts import contact_digest
from cartassist.models import CartEvent, ContactIdentity, ShopperEmailAddress
from tests.fixtures.carts import EventPoster, make_event
from tests.fixtures.contacts import every_stored_text
from tests.fixtures.sites import make_site

pytestmark = pytest.mark.django_db

EMAIL = "Ada.Lovelace@Example.com"
PHONE = "+49 (30) 1234-567"


def test_server_event_stores_only_keyed_hashes(post_events: EventPoster, site: Any) -> None:
    # when a site that does not email its shoppers receives a signed email and phone
    response = post_events.server([make_event(email=EMAIL, phone=PHONE, cart_id="cart-9")])
    # then
    assert response.status_code == 200, response.json()
    key = site_contact_key(site.pk)
    rows = set(ContactIdentity.objects.values_list("kind", "digest", "cart__external_id"))
    assert rows == {
        ("email", contact_digest(key, "email", "ada.lovelace@example.com"), "cart-9"),
        ("phone", contact_digest(key, "phone", "+49301234567"), "cart-9"),
    }
    assert not ShopperEmailAddress.objects.exists()
    dump = every_stored_text()
    for clear in ("lovelace", "ada.", "49301234567", "1234-567"):
        assert clear not in dump
    # what agents see of the address: its first letter and its domain (ADR 0016)
    assert dump.count("example.com") == dump.count("a•••@example.com") == 1


def test_a_site_that_emails_its_shoppers_keeps_only_the_signed_address_in_clear(
    post_events: EventPoster, site: Any
) -> None:
    # given a site with a sender address (email to shoppers, docs/OPERATIONS.md)
    site.email_sender_address = "help@shop.example"
    site.save()
    # when a signed event gives the shopper's email and phone
    response = post_events.server([make_event(email=EMAIL, phone=PHONE, cart_id="cart-9")])
    assert response.status_code == 200, response.json()
    # then the one clear value is the deliverable address, kept apart with a retention
    # (docs/adr/0025); the phone never
    assert list(ShopperEmailAddress.objects.values_list("address", "cart__external_id")) == [
        ("ada.lovelace@example.com", "cart-9")
    ]
    dump = every_stored_text(exclude=frozenset({ShopperEmailAddress}))
    for clear in ("lovelace", "ada.", "49301234567", "1234-567"):
        assert clear not in dump


def test_same_email_is_recorded_once_per_cart(post_events: EventPoster) -> None:
    post_events.server([make_event(email=EMAIL), make_event(email=" ada.lovelace@example.COM")])
    post_events.server([make_event(email=EMAIL)])
    assert ContactIdentity.objects.count() == 1


def test_hash_differs_between_sites(client: Any) -> None:
    one, two = make_site(), make_site()
    EventPoster(client, one).server([make_event(email=EMAIL)])
    EventPoster(client, two).server([make_event(email=EMAIL)])
    digests = list(ContactIdentity.objects.values_list("digest", flat=True))
    assert len(set(digests)) == 2


@pytest.mark.parametrize("field", ["email", "phone", "customer_name"])
def test_widget_event_may_not_carry_email_or_phone(post_events: EventPoster, field: str) -> None:
    value = {"email": EMAIL, "phone": PHONE, "customer_name": "Ada Lovelace"}[field]
    response = post_events.widget([make_event(**{field: value})])
    assert response.status_code == 400
    (message,) = response.json()["errors"]["events"]["0"][field]
    assert "Only signed server events" in message
    assert CartEvent.objects.count() == 0
    assert ContactIdentity.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value"), [("email", "not-an-address"), ("phone", "030 1234567"), ("email", 42)]
)
def test_bad_email_or_phone_is_a_field_error(
    post_events: EventPoster, field: str, value: Any
) -> None:
    response = post_events.server([make_event(**{field: value})])
    assert response.status_code == 400
    assert field in response.json()["errors"]["events"]["0"]
    assert CartEvent.objects.count() == 0
    assert ContactIdentity.objects.count() == 0
