"""Ingestion's process-local caches (docs/adr/0018): a site, its origins and its stall
rules changed by save (code or admin) are seen by the next ingest; another process's
change is seen once the shared stamp is compared; a chat opened about a cart after the
cache was loaded still gets the cart's live frame; shoppers are linked only when needed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from cartassist.carts.services.site_config import site_for_public_key, site_rule_snapshots
from cartassist.core.stamps import StampedCache, stamp_changed
from cartassist.models import Cart, CartEvent, ShopperIdentity, Site, Stage, StallRule
from tests.fixtures.agents import make_conversation
from tests.fixtures.carts import EventPoster, iso, make_event
from tests.fixtures.sites import SHOP_ORIGIN

OTHER_ORIGIN = "https://other.example"


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    return response.json()


def admin_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    return client


def cart_event(event_id: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"occurred_at": iso(timezone.now()), **overrides}
    return make_event("cart_updated", id=event_id, **values)


def totals(subtotal: str) -> dict[str, Any]:
    return {"currency": "EUR", "subtotal": subtotal, "lines": []}


def test_a_new_site_key_is_seen_by_the_next_request_and_the_old_one_refused(post_events, site):
    # given: the site is cached under its key
    ok(post_events.widget([cart_event("e1")]))
    old_key = site.public_key
    # when
    site.public_key = "pk_rotated_key"
    site.save()
    # then
    with_old_key = EventPoster(post_events.client, Site(public_key=old_key))
    refused = with_old_key.widget([cart_event("e2")])
    assert (refused.status_code, refused.json()["errors"]) == (
        403,
        {"site_key": ["Unknown site key."]},
    )
    assert site_for_public_key(old_key) is None
    ok(post_events.widget([cart_event("e3")]))  # the new key
    assert sorted(CartEvent.objects.values_list("event_id", flat=True)) == ["e1", "e3"]


def test_origins_changed_by_save_apply_to_the_next_request(post_events, site):
    # given: the cached site does not allow the other origin
    assert post_events.widget([cart_event("e1")], origin=OTHER_ORIGIN).status_code == 403
    # when
    site.allowed_origins = [OTHER_ORIGIN]
    site.save()
    # then: the new origin is allowed, the removed one refused
    ok(post_events.widget([cart_event("e2")], origin=OTHER_ORIGIN))
    assert post_events.widget([cart_event("e3")], origin=SHOP_ORIGIN).status_code == 403


def test_a_stall_rule_edited_in_the_admin_applies_to_the_next_event(post_events, site):
    # given: a cart at stage "cart" with the 30-minute rule cached
    ok(post_events.widget([cart_event("e1")]))
    first = Cart.objects.get()
    assert first.stall_deadline == first.last_activity_at + timedelta(minutes=30)
    rule = StallRule.objects.get(site=site, stage=Stage.CART)
    # when: a merchandiser changes the threshold to 2 hours in the admin
    response = admin_client().post(
        f"/admin/cartassist/stallrule/{rule.pk}/change/",
        {
            "site": site.pk,
            "stage": Stage.CART,
            "inactivity_threshold": "02:00:00",
            "minimum_cart_value": "0",
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.content
    ok(post_events.widget([cart_event("e2")]))
    # then
    cart = Cart.objects.get()
    assert cart.stall_deadline == cart.last_activity_at + timedelta(hours=2)


def test_a_stall_rule_deleted_in_bulk_in_the_admin_applies_to_the_next_event(post_events, site):
    # given
    ok(post_events.widget([cart_event("e1")]))
    rule = StallRule.objects.get(site=site, stage=Stage.CART)
    # when: deleted with the changelist's bulk action (no StallRule.delete() per row)
    response = admin_client().post(
        "/admin/cartassist/stallrule/",
        {"action": "delete_selected", "_selected_action": [rule.pk], "post": "yes"},
    )
    assert response.status_code == 302, response.content
    ok(post_events.widget([cart_event("e2")]))
    # then: no rule for the stage, no deadline
    assert Cart.objects.get().stall_deadline is None


def test_a_site_deleted_in_bulk_in_the_admin_is_forgotten(post_events, site):
    # given: the site is cached (a refused request looked it up; it has no carts, which
    # the admin could not delete)
    assert post_events.widget([cart_event("e1")], origin=OTHER_ORIGIN).status_code == 403
    # when
    response = admin_client().post(
        "/admin/cartassist/site/",
        {"action": "delete_selected", "_selected_action": [site.pk], "post": "yes"},
    )
    assert response.status_code == 302, response.content
    # then
    refused = post_events.widget([cart_event("e2")])
    assert refused.json()["errors"] == {"site_key": ["Unknown site key."]}


def test_another_process_change_is_seen_once_the_stamps_are_compared(db):
    # given: a cache loaded under the current shared stamp
    loads: list[int] = []
    local: StampedCache[str, int] = StampedCache("test-stamp")

    def load() -> int:
        loads.append(1)
        return len(loads)

    with override_settings(CARTASSIST_LOCAL_CACHE_SECONDS=3600):
        assert local.get("k", load) == 1
        # when: another process changes the rows and writes a new token on its commit
        cache.set("cartassist:stamp:test-stamp", "another-process-token", timeout=None)
        # then: within the comparison interval this process keeps its copy …
        assert local.get("k", load) == 1
    # … and at the next comparison it loads afresh
    with override_settings(CARTASSIST_LOCAL_CACHE_SECONDS=0):
        assert local.get("k", load) == 2
        assert local.get("k", load) == 2  # the same stamp: kept


@pytest.mark.django_db(transaction=True)
def test_the_shared_stamp_changes_on_commit_not_before(site):
    # given
    assert site_rule_snapshots(site.pk)  # loads the rules (and the stamp)
    token = cache.get("cartassist:stamp:sites")
    assert token is not None
    # when / then: other processes must not reload before the change is committed
    with transaction.atomic():
        StallRule.objects.filter(site=site, stage=Stage.CART).update(enabled=False)
        stamp_changed("sites")
        assert cache.get("cartassist:stamp:sites") == token
        assert site_rule_snapshots(site.pk)[Stage.CART].enabled is False  # this process: at once
    assert cache.get("cartassist:stamp:sites") not in (None, token)


def test_a_chat_opened_after_the_cache_was_loaded_gets_the_cart_frame(
    post_events, site, capture_published
):
    # given: an ingest loaded "no chat follows any cart" for the site
    with capture_published() as published:
        ok(post_events.widget([cart_event("e1")]))
    assert published.of_type("cart.updated") == []
    # when: a chat opens about the cart, then the shopper changes it
    cart = Cart.objects.get()
    conversation = make_conversation(site, cart=cart)
    with capture_published() as published:
        ok(post_events.widget([cart_event("e2", data=totals("9.00"))]))
    # then
    (frame,) = published.of_type("cart.updated")
    assert frame.payload["conversation_ids"] == [conversation.pk]
    assert frame.payload["cart"]["subtotal"] == "9.000"


def test_a_cart_already_linked_makes_no_shopper_query_until_a_new_id_comes(post_events, site):
    # given: the cart's first event linked its visitor
    ok(post_events.widget([cart_event("e1")]))
    assert Cart.objects.get().identities_linked
    # when: a second event brings nothing new
    with CaptureQueriesContext(connection) as queries:
        ok(post_events.widget([cart_event("e2")]))
    # then: no statement of its own (on PostgreSQL the cart's one statement names the
    # table, to link a cart it creates: ADR 0027; this cart exists, so it inserts nothing)
    assert not [
        q
        for q in queries.captured_queries
        if "shopperidentity" in q["sql"] and "WITH c AS (" not in q["sql"]
    ]
    assert ShopperIdentity.objects.count() == 1
    # when: an event brings a customer id
    ok(post_events.server([cart_event("e3", customer_id="cust-9")]))
    # then: linked
    assert set(ShopperIdentity.objects.values_list("kind", "value")) == {
        ("visitor", "visitor-1"),
        ("customer", "cust-9"),
    }


def test_a_cart_created_without_ingestion_is_linked_by_its_next_event(post_events, site):
    # given: a cart row written by other code (never linked)
    Cart.objects.create(
        site=site,
        external_id="cart-1",
        visitor_id="visitor-1",
        currency="EUR",
        state_at=timezone.now() - timedelta(minutes=1),
        last_activity_at=timezone.now() - timedelta(minutes=1),
    )
    # when
    ok(post_events.widget([cart_event("e1")]))
    # then
    assert list(ShopperIdentity.objects.values_list("kind", "value")) == [("visitor", "visitor-1")]
    assert Cart.objects.get().identities_linked


def test_a_batch_with_an_id_twice_and_one_stored_before_stores_each_once(post_events, site):
    # given
    ok(post_events.widget([cart_event("e1", data=totals("10.00"))]))
    later = iso(timezone.now() + timedelta(seconds=1))
    # when: e1 again (stored), e2 twice in the batch
    result = ok(
        post_events.widget(
            [
                cart_event("e1", data=totals("99.00")),
                cart_event("e2", occurred_at=later),
                cart_event("e2", occurred_at=later),
            ]
        )
    )
    # then: the duplicate changed nothing; e2 stored once
    assert result == {"stored": ["e2"], "duplicates": ["e2", "e1"]}
    assert sorted(CartEvent.objects.values_list("event_id", flat=True)) == ["e1", "e2"]
    assert str(Cart.objects.get().subtotal) == "60.000"  # e2's (make_event's), not e1's retry


def test_an_event_older_than_the_cart_state_is_stored_as_not_applied(post_events, site):
    # given
    ok(post_events.widget([cart_event("new")]))
    # when
    older = iso(timezone.now() - timedelta(minutes=5))
    ok(post_events.widget([cart_event("old", occurred_at=older)]))
    # then
    assert dict(CartEvent.objects.values_list("event_id", "applied")) == {
        "new": True,
        "old": False,
    }


def test_an_unknown_key_is_not_cached(post_events, site):
    assert site_for_public_key("pk_not_yet") is None
    created = Site.objects.create(name="Later", public_key="pk_not_yet")
    assert site_for_public_key("pk_not_yet") == created


def test_a_cache_with_interval_zero_compares_the_stamp_on_every_read(db):
    # given: a cache that names its own interval, whatever the setting says
    loads: list[int] = []
    local: StampedCache[str, int] = StampedCache("test-every-read", interval=0)

    def load() -> int:
        loads.append(1)
        return len(loads)

    with override_settings(CARTASSIST_LOCAL_CACHE_SECONDS=3600):
        assert local.get("k", load) == 1
        assert local.get("k", load) == 1
        # when: another process writes a new token
        cache.set("cartassist:stamp:test-every-read", "another-process-token", timeout=None)
        # then: the very next read loads afresh
        assert local.get("k", load) == 2


def test_a_cache_with_a_max_age_loads_again_after_it(db, monkeypatch):
    # given: a value loaded under a stamp that never changes (a token write was lost)
    clock = [1000.0]
    monkeypatch.setattr("cartassist.core.stamps.time.monotonic", lambda: clock[0])
    loads: list[int] = []
    local: StampedCache[str, int] = StampedCache("test-max-age", interval=0, max_age=60)

    def load() -> int:
        loads.append(1)
        return len(loads)

    assert local.get("k", load) == 1
    clock[0] += 59
    assert local.get("k", load) == 1
    # when / then
    clock[0] += 1
    assert local.get("k", load) == 2


class Boom(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_what_a_thread_reads_in_its_changing_transaction_is_not_kept_after_a_rollback(site):
    # given: the rules are cached; a transaction changes one and reads it, then fails
    assert site_rule_snapshots(site.pk)[Stage.CART].enabled is True
    seen = []

    def change_then_fail() -> None:
        with transaction.atomic():
            StallRule.objects.filter(site=site, stage=Stage.CART).update(enabled=False)
            stamp_changed("sites")
            seen.append(site_rule_snapshots(site.pk)[Stage.CART].enabled)
            raise Boom

    with pytest.raises(Boom):
        change_then_fail()
    # then: the transaction saw its change, and nothing of it outlived the rollback
    assert seen == [False]
    assert site_rule_snapshots(site.pk)[Stage.CART].enabled is True
