"""Platform connections in admin: secrets are write-only, a new webhook secret rotates the
old one into its grace window, and the webhook URL to give the platform is shown."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from cartassist.core import ports
from cartassist.integrations.models import DiscountStatus, NativeDiscount, PlatformConnection
from cartassist.models import Site

from .conftest import PlatformAPI, connect, issue_grant

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("chat_settings")]

NOW = "2026-12-04T08:00:00Z"


def form(site: Site, **overrides: Any) -> dict[str, Any]:
    values = {
        "site": site.pk,
        "platform": "shopify",
        "enabled": "on",
        "store_url": "https://jsmith.myshopify.com/",
        "storefront_url": "",
        "api_version": "2026-07",
        "api_key": "",
        "new_webhook_secret": "",
        "new_api_secret": "",
    }
    values.update(overrides)
    return values


@time_machine.travel(NOW, tick=False)
def test_secrets_are_stored_but_never_shown_again(admin_client: Client, shop: Site) -> None:
    # when a connection is added with its secrets
    response = admin_client.post(
        "/admin/integrations/platformconnection/add/",
        form(shop, new_webhook_secret="shpss_first", new_api_secret="shpat_token"),
    )

    # then they are stored (the URL without its trailing /) …
    assert response.status_code == 302, response.content.decode()[:2000]
    connection = PlatformConnection.objects.get()
    assert (connection.webhook_secret, connection.api_secret, connection.store_url) == (
        "shpss_first",
        "shpat_token",
        "https://jsmith.myshopify.com",
    )
    # … and the change page shows neither, only that they are set, and the webhook URL
    page = admin_client.get(f"/admin/integrations/platformconnection/{connection.pk}/change/")
    html = page.content.decode()
    assert "shpss_first" not in html
    assert "shpat_token" not in html
    assert "webhook secret set; API secret set" in html
    assert f"/api/v1/integrations/shopify/{shop.public_key}/webhooks" in html


@time_machine.travel(NOW, tick=False)
def test_empty_secret_fields_keep_and_a_new_one_rotates(admin_client: Client, shop: Site) -> None:
    admin_client.post(
        "/admin/integrations/platformconnection/add/",
        form(shop, new_webhook_secret="shpss_first", new_api_secret="shpat_token"),
    )
    connection = PlatformConnection.objects.get()
    change = f"/admin/integrations/platformconnection/{connection.pk}/change/"

    # saving with empty secret fields keeps both
    admin_client.post(change, form(shop))
    connection.refresh_from_db()
    assert (connection.webhook_secret, connection.api_secret) == ("shpss_first", "shpat_token")

    # a new webhook secret keeps the old one valid for the grace period
    admin_client.post(change, form(shop, new_webhook_secret="shpss_second"))
    connection.refresh_from_db()
    assert (connection.webhook_secret, connection.previous_webhook_secret) == (
        "shpss_second",
        "shpss_first",
    )
    assert connection.previous_webhook_secret_expires_at is not None
    now = connection.previous_webhook_secret_expires_at - timedelta(hours=24)
    assert connection.webhook_secrets(now) == ("shpss_second", "shpss_first")
    assert connection.webhook_secrets(now + timedelta(hours=24)) == ("shpss_second",)


def test_a_connection_needs_a_webhook_secret_and_an_https_store(
    admin_client: Client, shop: Site
) -> None:
    response = admin_client.post(
        "/admin/integrations/platformconnection/add/",
        form(shop, store_url="http://jsmith.myshopify.com"),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"store_url", "new_webhook_secret"}
    assert PlatformConnection.objects.count() == 0


def test_admin_can_try_a_refused_discount_again(
    admin_client: Client,
    shop: Site,
    platform_api: PlatformAPI,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a discount the platform refused (wrong token, say), since fixed
    connect(shop, "shopify", platform_api.url)
    grant = issue_grant(shop)
    discount = NativeDiscount.objects.get(grant=grant)
    NativeDiscount.objects.filter(pk=discount.pk).update(
        status=DiscountStatus.REFUSED, error="HTTP 401: invalid token", attempts=1
    )
    queued: list[int] = []

    # when admin runs the action (the queue is the native_discount_dispatch port)
    with (
        ports.native_discount_dispatch.override(queued.append),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = admin_client.post(
            "/admin/integrations/nativediscount/",
            {"action": "retry", "_selected_action": [discount.pk]},
        )

    # then it is pending again and queued
    assert response.status_code == 302
    discount.refresh_from_db()
    assert (discount.status, discount.attempts) == (DiscountStatus.PENDING, 0)
    assert queued == [discount.pk]


def _staff_client(name: str, *permissions: str) -> Client:
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user(name, password="x", is_staff=True)
    for dotted in permissions:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client


def test_a_merchandiser_manages_connections_and_may_try_a_refused_discount_again(
    shop: Site, platform_api: PlatformAPI, django_capture_on_commit_callbacks: Any
) -> None:
    from django.contrib.auth.models import User

    from cartassist.core.roles import groups_ensure

    # given: a merchandiser (the role group only) and a refused discount
    user = User.objects.create_user("merch", password="x", is_staff=True)
    user.groups.add(groups_ensure()["Merchandisers"])
    client = Client()
    client.force_login(user)
    connect(shop, "shopify", platform_api.url)
    discount = NativeDiscount.objects.get(grant=issue_grant(shop))
    NativeDiscount.objects.filter(pk=discount.pk).update(status=DiscountStatus.REFUSED)

    # then: the connections, deliveries and discounts are theirs to open
    for page in (
        "/admin/integrations/platformconnection/",
        "/admin/integrations/platformconnection/add/",
        "/admin/integrations/platformdelivery/",
        "/admin/integrations/nativediscount/",
    ):
        assert client.get(page).status_code == 200, page
    # and the retry action runs for them
    queued: list[int] = []
    with (
        ports.native_discount_dispatch.override(queued.append),
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post(
            "/admin/integrations/nativediscount/",
            {"action": "retry", "_selected_action": [discount.pk]},
        )
    assert queued == [discount.pk]


def test_someone_who_may_only_read_discounts_cannot_retry_them(
    shop: Site, platform_api: PlatformAPI, django_capture_on_commit_callbacks: Any
) -> None:
    # given: staff with the view permission on discounts only, and a refused discount
    client = _staff_client("reader", "integrations.view_nativediscount")
    connect(shop, "shopify", platform_api.url)
    discount = NativeDiscount.objects.get(grant=issue_grant(shop))
    NativeDiscount.objects.filter(pk=discount.pk).update(status=DiscountStatus.REFUSED)

    # when: they post the action anyway
    queued: list[int] = []
    with (
        ports.native_discount_dispatch.override(queued.append),
        django_capture_on_commit_callbacks(execute=True),
    ):
        listing = client.get("/admin/integrations/nativediscount/")
        client.post(
            "/admin/integrations/nativediscount/",
            {"action": "retry", "_selected_action": [discount.pk]},
        )

    # then: the action is not offered, nothing is queued and the discount stays refused
    assert listing.status_code == 200
    assert b'value="retry"' not in listing.content
    assert queued == []
    discount.refresh_from_db()
    assert discount.status == DiscountStatus.REFUSED
