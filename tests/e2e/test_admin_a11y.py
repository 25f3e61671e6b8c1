"""The admin as a merchandiser uses it, in headless Chromium against a live server: the
policy form passes axe-core (no critical or serious violation), shows money in the
currency's minor units and versions as words; the site editor previews the brand colour
live; every page carries the CartAssist brand."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from cartassist.demo.seed import MERCHANDISER_LOGIN, demo_seed
from cartassist.models import HelpdeskCapacity, Site
from policies.models import Policy
from policies.services.versions import policy_version_create
from tests.e2e.a11y import assert_no_blocking_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


@pytest.fixture
def merchandiser_page(page: Any, shop_server: Any) -> Any:
    """The demo's merchandiser (the Merchandisers group), logged in to the admin."""
    demo_seed(origins=[shop_server.url])
    page.goto(shop_server.url + "/admin/")
    page.get_by_label("Username").fill(MERCHANDISER_LOGIN[0])
    page.get_by_label("Password").fill(MERCHANDISER_LOGIN[1])
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#site-name")).to_have_text("CartAssist administration")
    return page


def test_the_login_page_and_the_index_carry_the_brand(page, shop_server):
    demo_seed(origins=[shop_server.url])

    page.goto(shop_server.url + "/admin/login/")

    expect(page.locator("#site-name")).to_have_text("CartAssist administration")
    expect(page).to_have_title("Log in | CartAssist administration")


def test_the_admin_index_links_to_the_analytics_accessibly(merchandiser_page, shop_server):
    page = merchandiser_page

    expect(page).to_have_title("Shops, policies and the record | CartAssist administration")
    expect(page.locator("#analytics-module").get_by_role("link").first).to_be_visible()
    assert_no_blocking_violations(page)


def test_the_policy_add_form_has_no_blocking_violations(merchandiser_page, shop_server):
    page = merchandiser_page

    # when
    page.goto(shop_server.url + "/admin/policies/policy/add/")

    # then: the split date and time inputs have names of their own
    expect(page.get_by_role("textbox", name="Valid from: date")).to_be_visible()
    expect(page.get_by_role("textbox", name="Valid from: time")).to_be_visible()
    expect(page.get_by_role("textbox", name="Valid until: time")).to_be_visible()
    assert_no_blocking_violations(page)


def test_the_policy_change_form_shows_minor_units_and_versions_in_words(
    merchandiser_page, shop_server
):
    page = merchandiser_page
    # given: a demo policy edited once (a raised daily budget), stored with 3 decimals
    policy = Policy.objects.order_by("pk").first()
    assert policy is not None
    Policy.objects.filter(pk=policy.pk).update(
        daily_budget=Decimal("150.5"), waive_delivery_cap=Decimal("9.9")
    )
    policy.refresh_from_db()
    policy_version_create(policy=policy, user=None, now=timezone.now())

    # when
    page.goto(f"{shop_server.url}/admin/policies/policy/{policy.pk}/change/")

    # then
    expect(page.locator("input[name=daily_budget]")).to_have_value("150.50")
    expect(page.locator("input[name=waive_delivery_cap]")).to_have_value("9.90")
    expect(page.locator("ul.version-changes").first).to_contain_text("Daily budget:")
    expect(page.locator("ul.version-changes").first).to_contain_text("→ 150.50 EUR")
    assert_no_blocking_violations(page)


def test_the_site_editor_previews_the_brand_colour_live(merchandiser_page, shop_server):
    page = merchandiser_page
    site = Site.objects.order_by("pk").first()
    assert site is not None

    # when
    page.goto(f"{shop_server.url}/admin/cartassist/site/{site.pk}/change/")
    ratio = page.locator("[data-part=ratio]")
    expect(ratio).to_contain_text(f"on {site.brand_colour}: contrast")
    assert_no_blocking_violations(page)
    colour = page.locator("input[name=brand_colour]")
    colour.fill("#ffcc00")

    # then: the launcher takes the colour with black text, and the ratio is said
    launcher = page.locator("[data-part=launcher]")
    expect(launcher).to_have_css("background-color", "rgb(255, 204, 0)")
    expect(launcher).to_have_css("color", "rgb(17, 24, 39)")
    expect(ratio).to_have_text("Black text on #ffcc00: contrast 11.73:1 (WCAG AA needs 4.5:1).")

    # and a grey that neither text colour reads on is flagged before saving ...
    colour.fill("#777777")
    expect(ratio).to_contain_text("Too low")
    # ... and refused at the field on save
    page.get_by_role("button", name="Save", exact=True).click()
    errors = page.locator(".field-brand_colour .errorlist")
    expect(errors).to_contain_text("4.48:1")
    # (the preview now shows the refused colour's poor contrast on purpose)
    assert_no_blocking_violations(page, {"exclude": [[".brand-preview"]]})


def test_the_helpdesk_capacity_grid_is_edited_by_its_labels(merchandiser_page, shop_server):
    page = merchandiser_page
    site = Site.objects.order_by("pk").first()
    assert site is not None
    page.goto(f"{shop_server.url}/admin/cartassist/site/{site.pk}/change/")
    # the grid's inputs are found by their accessible names, and pass axe-core
    assert_no_blocking_violations(page)
    cell = page.get_by_role("spinbutton", name="Tuesday 14:00–15:00", exact=True)
    expect(cell).to_have_value("10")
    # when
    cell.fill("7")
    page.get_by_role("spinbutton", name="Saturday 10:00–11:00", exact=True).fill("3")
    page.get_by_role("checkbox", name="Pacing enabled").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    # then
    capacity = HelpdeskCapacity.objects.get(site=site)
    assert capacity.pacing_enabled is True
    assert (capacity.hourly[1][14], capacity.hourly[5][10], capacity.hourly[0][9]) == (7, 3, 10)
