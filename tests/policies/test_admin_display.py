"""The policy editor shows money in the currency's minor units, names both inputs of the
split date/time fields, and shows versions as a readable diff (docs/POLICIES.md)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from policies.admin.policy import PolicyForm
from policies.models import AuditAction, AuditEntry, Policy
from policies.services.versions import policy_version_create
from tests.fixtures.policies import make_policy
from tests.fixtures.sites import make_site

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("chat_settings")]

LIST_URL = "/admin/policies/policy/"


@pytest.fixture
def superuser_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "root-pass"))
    return client


def input_value(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert match, f"no input {name}"
    value = re.search(r'value="([^"]*)"', match.group(0))
    return value.group(1) if value else ""


def input_tag(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert match, f"no input {name}"
    return match.group(0)


def edit(client: Client, policy: Policy, **changes: str) -> None:
    """Change a policy the way the editor does: its form, posted with changes."""
    form = PolicyForm(instance=policy)
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list):
            data[name] = (
                value if name in ("stages", "stall_reasons", "segments") else ", ".join(value)
            )
        elif value is None:
            data[name] = ""
        elif name in ("valid_from", "valid_until"):
            continue
        else:
            data[name] = field.widget.format_value(value) if hasattr(value, "quantize") else value
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}
    posted = PolicyForm(data=data, instance=policy)
    assert posted.is_valid(), posted.errors
    posted.save()
    policy_version_create(policy=policy, user=None, now=timezone.now())


# --- money ------------------------------------------------------------------------------


def test_money_fields_show_the_currencys_decimals_not_the_storages(superuser_client, site):
    # given: stored as 9.900 and 100.000
    policy = make_policy(site, waive_delivery_cap=Decimal("9.9"), daily_budget=Decimal("100"))

    # when
    html = superuser_client.get(f"{LIST_URL}{policy.pk}/change/").content.decode()

    # then
    assert input_value(html, "waive_delivery_cap") == "9.90"
    assert input_value(html, "daily_budget") == "100.00"
    assert input_value(html, "min_cart_value") == "30.00"
    assert 'step="0.01"' in input_tag(html, "daily_budget")
    assert "10.000" not in html
    assert "9.900" not in html
    assert '<span class="money-currency">EUR</span>' in html


def test_a_currency_without_minor_units_shows_whole_amounts(superuser_client):
    # given
    site = make_site(name="Tokyo shop", currency="JPY", timezone="Asia/Tokyo")
    policy = make_policy(
        site,
        min_cart_value=Decimal("3000"),
        waive_delivery_cap=Decimal("990"),
        approval_above=Decimal("0"),
    )

    # when
    html = superuser_client.get(f"{LIST_URL}{policy.pk}/change/").content.decode()

    # then
    assert input_value(html, "waive_delivery_cap") == "990"
    assert input_value(html, "min_cart_value") == "3000"
    assert input_value(html, "approval_above") == "0"
    assert 'step="1"' in input_tag(html, "waive_delivery_cap")


def test_the_add_page_uses_the_site_given_in_the_link(superuser_client, site):
    other = make_site(name="Tokyo shop", currency="JPY", timezone="Asia/Tokyo")

    html = superuser_client.get(f"{LIST_URL}add/?site={other.pk}").content.decode()

    assert 'step="1"' in input_tag(html, "daily_budget")
    assert '<span class="money-currency">JPY</span>' in html


def test_the_record_shows_amounts_with_their_currency(superuser_client, site):
    # given
    entry = AuditEntry.objects.create(
        site=site, action=AuditAction.OFFER_CREATED, actor="agent", kind="discount",
        amount=Decimal("9.9"), currency="EUR", at=timezone.now(), outcome="offered",
    )  # fmt: skip

    # when
    listing = superuser_client.get("/admin/policies/auditentry/").content.decode()
    detail = superuser_client.get(f"/admin/policies/auditentry/{entry.pk}/change/")

    # then
    assert "9.90 EUR" in listing
    assert "9.900" not in listing
    assert "9.90 EUR" in detail.content.decode()


# --- the split date and time inputs -----------------------------------------------------


def test_both_inputs_of_the_validity_dates_have_a_name(superuser_client, site):
    html = superuser_client.get(f"{LIST_URL}add/").content.decode()

    assert 'aria-label="Valid from: date"' in input_tag(html, "valid_from_0")
    assert 'aria-label="Valid from: time"' in input_tag(html, "valid_from_1")
    assert 'aria-label="Valid until: time"' in input_tag(html, "valid_until_1")


# --- versions -----------------------------------------------------------------------------


def test_versions_show_what_changed_in_words_not_json(superuser_client, site):
    # given: v1, then v2 raises the budget, then v3 allows a discount
    policy = make_policy(site, daily_budget=Decimal("100.00"))
    edit(superuser_client, policy, daily_budget="150.00")
    edit(
        superuser_client,
        policy,
        discount="on",
        discount_max_percent="10",
        discount_max_amount="5.00",
    )

    # when
    response = superuser_client.get(f"{LIST_URL}{policy.pk}/change/")
    html = response.content.decode()

    # then: newest first, each with its changes and its difference from the current one
    rows = [f.instance.number for f in response.context["inline_admin_formsets"][0].formset]
    assert rows == [3, 2, 1]
    assert "Discount on the cart: not allowed → allowed, at most 10 % or 5.00 EUR" in html
    assert "Daily budget: 100.00 EUR → 150.00 EUR" in html
    assert "First version." in html
    assert "Current version." in html
    # v1 against the current version: both differences
    assert html.count("Daily budget: 100.00 EUR → 150.00 EUR") == 2
    assert '"daily_budget": ' not in html  # no raw JSON spec


def test_the_inline_loads_the_versions_once(superuser_client, site, django_assert_max_num_queries):
    policy = make_policy(site, daily_budget=Decimal("100.00"))
    for budget in ("110.00", "120.00", "130.00", "140.00"):
        edit(superuser_client, policy, daily_budget=budget)

    with django_assert_max_num_queries(40):
        response = superuser_client.get(f"{LIST_URL}{policy.pk}/change/")

    assert response.content.decode().count("Daily budget: ") >= 8


def test_a_refused_add_form_shows_amounts_in_the_posted_sites_currency(superuser_client, site):
    # given: two sites, so the currency is the posted one
    tokyo = make_site(name="Tokyo shop", currency="JPY", timezone="Asia/Tokyo")

    # when: posted without a name
    response = superuser_client.post(
        f"{LIST_URL}add/",
        {"site": tokyo.pk, "name": "", "priority": "100", "waive_delivery": "on",
         "waive_delivery_cap": "990", "stacking": "combinable"},
    )  # fmt: skip

    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert 'step="1"' in input_tag(html, "waive_delivery_cap")
    assert '<span class="money-currency">JPY</span>' in html
    assert site.currency == "EUR"
