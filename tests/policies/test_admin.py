"""The policies admin (policies/admin/): the editor's validation at each field, a version
per real change, budget usage, deletion rules, the simulator, the read-only record, and
who may reach it (docs/POLICIES.md)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.forms import MultiWidget
from django.test import Client
from django.utils import timezone

from cartassist.demo.seed import AGENT_LOGIN, MERCHANDISER_LOGIN, SUPERVISOR_LOGIN, demo_seed
from policies.admin.policy import PolicyForm
from policies.admin.simulator import Row
from policies.models import (
    AuditAction,
    AuditEntry,
    BudgetCounter,
    BudgetPeriod,
    Policy,
    PolicyVersion,
)
from policies.services.context import period_starts
from policies.services.offers import offer_authorize
from tests.fixtures.agents import make_agent, make_intervention, make_stalled_cart
from tests.fixtures.policies import make_chat, make_policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("chat_settings")]

ADD_URL = "/admin/policies/policy/add/"
LIST_URL = "/admin/policies/policy/"
SIMULATOR_URL = "/admin/policies/policy/simulator/"
NO_POLICY = "No active policy offers this remedy."


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser_client() -> Client:
    return logged_in(User.objects.create_superuser("root", "root@example.com", "root-pass"))


@pytest.fixture
def merchandiser_client() -> Client:
    demo_seed(origins=[])
    return logged_in(User.objects.get(username=MERCHANDISER_LOGIN[0]))


def form_data(site: Any, **overrides: Any) -> dict[str, Any]:
    """A valid policy as the editor posts it (the default: waive up to 10.00)."""
    data: dict[str, Any] = {
        "site": site.pk,
        "name": "Free delivery rescue",
        "active": "on",
        "priority": "100",
        "stall_reasons": ["shipping_shock"],
        "min_cart_value": "30.00",
        "waive_delivery": "on",
        "waive_delivery_cap": "10.00",
        "stacking": "combinable",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def errors_of(site: Any, **overrides: Any) -> dict[str, list[str]]:
    form = PolicyForm(data=form_data(site, **overrides))
    assert not form.is_valid()
    return {field: list(messages) for field, messages in form.errors.items()}


def change_page_data(response: Any) -> dict[str, Any]:
    """What the browser would post back from an admin change page, unchanged."""
    data: dict[str, Any] = {}
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field.widget, MultiWidget):  # the split date and time
            parts = field.widget.decompress(value) if value else [None, None]
            for index, part in enumerate(parts):
                data[f"{name}_{index}"] = "" if part is None else str(part)
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is None:
            data[name] = ""
        else:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[formset.management_form.add_prefix(name)] = formset.management_form[name].value()
        for subform in formset.forms:
            for name in subform.fields:
                value = subform[name].value()
                data[subform.add_prefix(name)] = (
                    "" if value is None else getattr(value, "pk", value)
                )
    return data


def versions(policy: Policy) -> list[tuple[int, str]]:
    return [
        (v.number, v.spec["limits"]["daily_budget"])
        for v in PolicyVersion.objects.filter(policy=policy).order_by("number")
    ]


# --- validation at the field ------------------------------------------------------------


def test_minimum_above_maximum_shows_at_the_maximum(site):
    assert errors_of(site, min_cart_value="50.00", max_cart_value="40.00") == {
        "max_cart_value": ["The maximum cart value is below the minimum."]
    }


def test_amount_with_more_decimals_than_the_sites_currency(site):
    assert errors_of(site, waive_delivery_cap="10.005", daily_budget="1.5") == {
        "waive_delivery_cap": ["EUR amounts have at most 2 decimal places"]
    }


def test_amount_in_a_currency_without_decimals(site):
    # given
    site.currency = "JPY"
    site.save()

    # then
    assert errors_of(site, min_cart_value="30.50", waive_delivery_cap="1000") == {
        "min_cart_value": ["JPY amounts have at most 0 decimal places"]
    }


def test_percentages_above_0_and_at_most_100(site):
    assert errors_of(
        site,
        discount="on",
        discount_max_percent="150",
        reduce_delivery="on",
        reduce_delivery_max_percent="0",
    ) == {  # fmt: skip
        "discount_max_percent": ["Enter a percentage above 0 and at most 100."],
        "reduce_delivery_max_percent": ["Enter a percentage above 0 and at most 100."],
    }


def test_reduce_and_discount_need_a_bound(site):
    assert errors_of(site, reduce_delivery="on", discount="on") == {
        "reduce_delivery_max_percent": [
            "Bound it by a maximum percentage, a maximum amount, or both."
        ],
        "discount_max_percent": ["Bound it by a maximum percentage, a maximum amount, or both."],
    }


def test_a_policy_allows_at_least_one_remedy(site):
    assert errors_of(site, waive_delivery=None, waive_delivery_cap=None) == {
        "__all__": ["Allow at least one remedy."]
    }


def test_lists_typed_with_commas_are_checked(site):
    assert errors_of(
        site, countries="de, Germany", include_skus="A-1, B-2", exclude_skus="B-2"
    ) == {
        "countries": ["Use two-letter ISO 3166 country codes: GERMANY."],
        "exclude_skus": ["Both included and excluded: B-2."],
    }


def test_daily_budget_above_the_monthly_one(site):
    assert errors_of(site, daily_budget="200.00", monthly_budget="100.00") == {
        "daily_budget": ["The daily budget is above the monthly budget."]
    }


def test_valid_form_maps_lists_and_checkboxes_to_the_policy(site):
    # given
    form = PolicyForm(
        data=form_data(
            site, countries="de, at,DE", segments=["returning", "vip"], include_categories="x"
        )
    )

    # when
    policy = form.save()

    # then
    assert (policy.countries, policy.segments, policy.include_categories) == (
        ["DE", "AT"],
        ["returning", "vip"],
        ["x"],
    )
    assert policy.stall_reasons == ["shipping_shock"]


# --- versions ---------------------------------------------------------------------------


def test_saving_creates_version_1_then_2_on_change_and_none_without_change(
    merchandiser_client, site
):
    # when: added
    added = merchandiser_client.post(ADD_URL, form_data(site, **{
        "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0",
    }))  # fmt: skip
    policy = Policy.objects.get(site=site)
    change_url = f"{LIST_URL}{policy.pk}/change/"
    unchanged = merchandiser_client.post(
        change_url, change_page_data(merchandiser_client.get(change_url))
    )
    edited_data = change_page_data(merchandiser_client.get(change_url))
    edited_data["daily_budget"] = "50.00"
    edited = merchandiser_client.post(change_url, edited_data)

    # then
    assert [added.status_code, unchanged.status_code, edited.status_code] == [302, 302, 302]
    assert versions(policy) == [(1, None), (2, "50")]
    policy.refresh_from_db()
    assert policy.current_version.number == 2
    assert policy.current_version.created_by.username == MERCHANDISER_LOGIN[0]


def test_an_invalid_policy_is_not_saved_and_gets_no_version(merchandiser_client, site):
    # when
    response = merchandiser_client.post(ADD_URL, form_data(site, min_cart_value="1.234", **{
        "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0",
    }))  # fmt: skip

    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "min_cart_value": ["EUR amounts have at most 2 decimal places"]
    }
    assert Policy.objects.filter(site=site).count() == 0
    assert PolicyVersion.objects.filter(policy__site=site).count() == 0


def test_change_page_lists_versions_and_budget_usage(superuser_client, site):
    # given
    policy = make_policy(site, daily_budget=Decimal("100.00"), monthly_budget=Decimal("500.00"))
    today, month = period_starts(timezone.now(), site.timezone)
    BudgetCounter.objects.create(
        policy=policy, period=BudgetPeriod.DAY, period_start=today, spent=Decimal("9.9")
    )
    BudgetCounter.objects.create(
        policy=policy, period=BudgetPeriod.DAY, period_start=today - timedelta(days=1),
        spent=Decimal("50"),
    )  # fmt: skip
    BudgetCounter.objects.create(
        policy=policy, period=BudgetPeriod.MONTH, period_start=month, spent=Decimal("59.9")
    )

    # when
    change = superuser_client.get(f"{LIST_URL}{policy.pk}/change/")
    changelist = superuser_client.get(LIST_URL)

    # then
    assert change.status_code == changelist.status_code == 200
    for response in (change, changelist):
        assert "9.90 EUR of 100.00 EUR" in response.content.decode()
        assert "59.90 EUR of 500.00 EUR" in response.content.decode()
    assert [f.instance.number for f in change.context["inline_admin_formsets"][0].formset] == [1]
    assert f'href="{SIMULATOR_URL}"' in changelist.content.decode()


# --- deletion ---------------------------------------------------------------------------


def test_a_policy_offers_were_made_under_cannot_be_deleted(superuser_client, site):
    # given
    policy = make_policy(site)
    chat = make_chat(site)
    offer_authorize(
        agent=chat.agent, conversation_id=chat.conversation.pk, kind="waive_delivery",
        amount="5.00", now=timezone.now(),
    )  # fmt: skip

    # when
    page = superuser_client.get(f"{LIST_URL}{policy.pk}/delete/")
    posted = superuser_client.post(f"{LIST_URL}{policy.pk}/delete/", {"post": "yes"})

    # then
    assert (page.status_code, posted.status_code) == (403, 403)
    assert Policy.objects.filter(pk=policy.pk).exists()
    assert PolicyVersion.objects.filter(policy=policy).count() == 1


def test_an_unused_policy_is_deleted_with_its_versions(superuser_client, site):
    # given
    policy = make_policy(site)

    # when
    response = superuser_client.post(f"{LIST_URL}{policy.pk}/delete/", {"post": "yes"})

    # then
    assert response.status_code == 302
    assert Policy.objects.count() == PolicyVersion.objects.count() == 0


def test_unused_policies_selected_on_the_list_are_deleted_with_their_versions(
    superuser_client, site
):
    # given
    first, second = make_policy(site), make_policy(site, name="Second")

    # when
    response = superuser_client.post(
        LIST_URL,
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )

    # then
    assert response.status_code == 302
    assert Policy.objects.count() == PolicyVersion.objects.count() == 0


# --- the simulator ----------------------------------------------------------------------


def test_simulator_on_a_recent_cart_shows_allowed_and_not_allowed_with_reasons(
    merchandiser_client, site
):
    # given
    policy = make_policy(site, approval_above=Decimal("5.00"))
    cart = make_stalled_cart(site, subtotal="60.00", shipping_fee="9.90")
    make_intervention(cart)  # stalled for shipping shock
    agent = make_agent(site, name="Ada")

    # when
    response = merchandiser_client.get(
        SIMULATOR_URL, {"site": site.pk, "cart": cart.pk, "agent": agent.pk}
    )

    # then
    assert response.status_code == 200
    assert response.context["rows"] == [
        Row(
            "Waive the delivery charge", True, "up to 9.90 EUR", "“Free delivery rescue” v1",
            "needs approval above 5.00 EUR", "",
        ),
        Row("Reduce the delivery charge", False, "", "", "", NO_POLICY),
        Row("Discount", False, "", "", "", NO_POLICY),
        Row("Free gift", False, "", "", "", NO_POLICY),
        Row("Hold stock", False, "", "", "", NO_POLICY),
    ]  # fmt: skip
    assert "up to 9.90 EUR" in response.content.decode()
    assert policy.versions.count() == 1
    assert BudgetCounter.objects.count() == 0  # simulating spends nothing


def test_simulator_on_an_entered_cart_gives_the_nearest_miss(merchandiser_client, site):
    # given
    make_policy(site)

    # when
    response = merchandiser_client.get(
        SIMULATOR_URL,
        {
            "site": site.pk, "cart": "", "agent": "supervisor", "value": "20.00",
            "stage": "shipping", "delivery_charge": "9.90", "stall_reason": "shipping_shock",
            "segment": "new", "country": "DE", "categories": "", "skus": "",
        },
    )  # fmt: skip

    # then
    rows = response.context["rows"]
    assert rows[0] == Row(
        "Waive the delivery charge", False, "", "", "",
        "Cart 20.00 EUR is below the 30.00 EUR policy “Free delivery rescue” requires.",
    )  # fmt: skip
    assert "Cart 20.00 EUR is below the 30.00 EUR policy" in response.content.decode()


def test_simulator_refuses_an_amount_the_currency_cannot_hold(merchandiser_client, site):
    # given
    make_policy(site)

    # when
    response = merchandiser_client.get(
        SIMULATOR_URL, {"site": site.pk, "agent": "", "value": "20.005", "stage": "cart"}
    )

    # then
    assert response.context["rows"] is None
    assert response.context["form"].errors == {
        "value": ["EUR amounts have at most 2 decimal places"]
    }


# --- the record and who may reach it ----------------------------------------------------


def test_audit_log_is_read_only_even_for_superusers(superuser_client, site):
    # given
    entry = AuditEntry.objects.create(
        site=site, at=timezone.now(), action=AuditAction.OFFER_REFUSED, actor="agent Ada",
        outcome="over the limit",
    )  # fmt: skip
    url = f"/admin/policies/auditentry/{entry.pk}/change/"

    # when
    listed = superuser_client.get("/admin/policies/auditentry/", {"action": "offer_refused"})
    add = superuser_client.get("/admin/policies/auditentry/add/")
    change = superuser_client.post(url, {"actor": "someone else"})
    delete = superuser_client.post(f"/admin/policies/auditentry/{entry.pk}/delete/", {"post": "1"})

    # then
    assert listed.status_code == 200
    assert "over the limit" in listed.content.decode()
    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    entry.refresh_from_db()
    assert entry.actor == "agent Ada"


@pytest.mark.parametrize("path", ["/admin/policies/offer/add/", "/admin/policies/grant/add/"])
def test_offers_and_grants_cannot_be_added_in_admin(superuser_client, path):
    assert superuser_client.get(path).status_code == 403


def test_merchandiser_may_edit_policies_and_read_the_record(merchandiser_client):
    # when
    pages = [
        merchandiser_client.get(path).status_code
        for path in (
            LIST_URL, ADD_URL, SIMULATOR_URL, "/admin/policies/auditentry/",
            "/admin/policies/offer/", "/admin/policies/grant/",
        )
    ]  # fmt: skip

    # then
    assert pages == [200] * 6


def test_agents_and_supervisors_cannot_reach_the_policies_admin(site):
    # given
    demo_seed(origins=[])
    agent = logged_in(User.objects.get(username=AGENT_LOGIN[0]))
    supervisor = logged_in(User.objects.get(username=SUPERVISOR_LOGIN[0]))

    # when
    agent_pages = [agent.get(path).status_code for path in (LIST_URL, SIMULATOR_URL)]
    supervisor_pages = [supervisor.get(path).status_code for path in (LIST_URL, SIMULATOR_URL)]
    supervisor_posts = supervisor.post(ADD_URL, form_data(site)).status_code

    # then: the agent is not staff (sent to the login page); the supervisor is refused
    assert agent_pages == [302, 302]
    assert supervisor_pages == [403, 403]
    assert supervisor_posts == 403
    assert Policy.objects.filter(site=site).count() == 0


def test_demo_seed_creates_its_policies_once_with_one_version_each():
    # when
    seeded = demo_seed(origins=[])
    demo_seed(origins=[])

    # then
    policies = Policy.objects.filter(site=seeded.site).order_by("priority")
    assert [(p.name, p.current_version.number) for p in policies] == [
        ("Free delivery rescue", 1),
        ("Loyal customer discount", 1),
    ]
    assert PolicyVersion.objects.count() == 2
    rescue = policies[0].current_version.spec
    assert rescue["remedies"] == [
        {"kind": "waive_delivery", "max_amount": "10"},
        {"kind": "reduce_delivery", "max_percent": "50", "max_amount": None},
    ]
    assert rescue["limits"]["approval_above"] == "15"
