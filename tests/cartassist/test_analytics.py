"""The analytics: figures on a hand-built set of interventions with known answers, the
filters, the page, the CSV export and the JSON API, and who may see them."""

from __future__ import annotations

import csv
import io
import json
import math
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from agents.models import AgentProfile
from cartassist.demo.seed import groups_ensure
from cartassist.domain.analytics_report import AnalyticsReport
from cartassist.domain.planner import fixed_horizon_carts
from cartassist.domain.sequential import difference_sequence
from cartassist.domain.uplift import compare
from cartassist.models import (
    Decision,
    FollowUpContact,
    Intervention,
    InvitationResult,
    Site,
    StallReason,
    SuppressionReason,
)
from cartassist.outcomes.services.analytics import analytics_compute
from policies.models import Policy
from tests.fixtures.agents import make_agent, make_intervention, make_stalled_cart
from tests.fixtures.policies import make_policy
from tests.fixtures.sites import make_site

pytestmark = pytest.mark.django_db

DAY = date(2025, 3, 10)
NOON = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
LATER = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)


def make_outcome(
    site: Site, *, decision: str, stall_reason: str = StallReason.SHIPPING_SHOCK,
    decided_at: datetime = NOON, **outcome: Any,
) -> Intervention:  # fmt: skip
    """An intervention decided at ``decided_at`` with its outcome fields set directly
    (as the outcomes service would have recorded them)."""
    cart = make_stalled_cart(site, now=decided_at)
    intervention = make_intervention(
        cart, decision=decision, stall_reason=stall_reason, now=decided_at,
        suppression_reason=outcome.pop("suppression_reason", ""),
    )  # fmt: skip
    if "revenue" in outcome:
        outcome.setdefault("net_revenue", outcome["revenue"] - outcome.get("remedy_cost", 0))
    Intervention.objects.filter(pk=intervention.pk).update(**outcome)
    intervention.refresh_from_db()
    return intervention


def follow_up(intervention: Intervention | None, site: Site, key: str, **values: Any) -> None:
    FollowUpContact.objects.create(
        site=site, key=key, source="helpdesk", occurred_at=NOON, received_at=NOON,
        intervention=intervention, **values,
    )  # fmt: skip


@dataclass(frozen=True)
class World:
    alpha: Site
    beta: Site
    ada: AgentProfile
    bob: AgentProfile
    policy: Policy


@pytest.fixture
def world() -> World:
    """Alpha (EUR) and Beta (USD), interventions decided on 10 March 2025 at noon UTC:

    Alpha, shipping shock: 10 invited (agent Ada; 7 accepted, 2 dismissed, 1 ignored;
      first responses 10, 20 … 70 s; #0–5 converted at 100.00; #0–4 granted 5.00 by the
      policy (waive delivery), #0–3 redeemed it), 10 held out (3 converted at 80.00).
    Alpha, payment failed: 4 invited (1 converted at 50.00; results delivered,
      undelivered, pending, pending), 2 held out (none converted).
    Alpha: 3 suppressed (2 quiet hours, 1 opted out).
    Beta, idle: 2 invited (agent Bob; 1 accepted, first response 100 s, converted at
      30.00 with a 3.00 discount redeemed; 1 ignored), 1 held out.
    Follow-ups: invited #7 two contacts, #8 and payment #0 one each; one held out.
    Outside the selection: an invited cart on 20 March, with a follow-up contact.
    """
    alpha = make_site(name="Alpha", currency="EUR", timezone="UTC")
    beta = make_site(name="Beta", currency="USD", timezone="America/New_York")
    ada = make_agent(alpha, name="Ada")
    bob = make_agent(beta, name="Bob")
    policy = make_policy(alpha, name="Free delivery rescue")
    invited, held_out = Decision.INVITED, Decision.HELD_OUT
    results = [InvitationResult.ACCEPTED] * 7 + [InvitationResult.DISMISSED] * 2
    results += [InvitationResult.IGNORED]
    shipping = []
    for i, result in enumerate(results):
        outcome: dict[str, Any] = {"agent": ada, "invitation_result": result}
        if result == InvitationResult.ACCEPTED:
            outcome["first_response_seconds"] = 10.0 * (i + 1)
        if i < 6:
            outcome.update(converted=True, revenue=Decimal("100.00"))
        if i < 5:
            outcome.update(
                policy=policy, remedy_kind="waive_delivery", granted_amount=Decimal("5.00")
            )
        if i < 4:
            outcome["remedy_cost"] = Decimal("5.00")
        shipping.append(make_outcome(alpha, decision=invited, **outcome))
    for i in range(10):
        extra = {"converted": True, "revenue": Decimal("80.00")} if i < 3 else {}
        make_outcome(alpha, decision=held_out, **extra)
    payment_results = ["delivered", "undelivered", "pending", "pending"]
    payment = [
        make_outcome(
            alpha, decision=invited, stall_reason=StallReason.PAYMENT_FAILED,
            invitation_result=result,
            **({"converted": True, "revenue": Decimal("50.00")} if i == 0 else {}),
        )
        for i, result in enumerate(payment_results)
    ]  # fmt: skip
    for _ in range(2):
        make_outcome(alpha, decision=held_out, stall_reason=StallReason.PAYMENT_FAILED)
    for reason in ["quiet_hours", "quiet_hours", "opted_out"]:
        make_outcome(alpha, decision=Decision.SUPPRESSED, suppression_reason=reason)
    make_outcome(
        beta, decision=invited, stall_reason=StallReason.IDLE, agent=bob,
        invitation_result="accepted", first_response_seconds=100.0, converted=True,
        revenue=Decimal("30.00"), remedy_kind="discount", granted_amount=Decimal("3.00"),
        remedy_cost=Decimal("3.00"),
    )  # fmt: skip
    make_outcome(
        beta, decision=invited, stall_reason=StallReason.IDLE, agent=bob,
        invitation_result="ignored",
    )  # fmt: skip
    beta_held_out = make_outcome(beta, decision=held_out, stall_reason=StallReason.IDLE)

    Intervention.objects.filter(pk=shipping[7].pk).update(follow_ups=2)
    Intervention.objects.filter(pk__in=[shipping[8].pk, payment[0].pk]).update(follow_ups=1)
    Intervention.objects.filter(pk=beta_held_out.pk).update(follow_ups=1)
    follow_up(shipping[7], alpha, "c1", channel="email", reason="needed_confirmation")
    follow_up(shipping[7], alpha, "c2", channel="phone", reason="needed_confirmation")
    follow_up(shipping[8], alpha, "c3", channel="email", reason="checking_genuine")
    follow_up(payment[0], alpha, "c4", channel="email", reason="unresolved")
    follow_up(beta_held_out, beta, "c5", channel="chat", reason="other")
    follow_up(None, alpha, "c6", channel="email", reason="other")  # no outreach before it

    outside = make_outcome(
        alpha, decision=invited, decided_at=LATER, converted=True, revenue=Decimal("999.00"),
        follow_ups=1,
    )  # fmt: skip
    follow_up(outside, alpha, "c7", channel="email", reason="unresolved")
    return World(alpha, beta, ada, bob, policy)


def compute(site_ids: list[int] | None = None, **overrides: Any) -> AnalyticsReport:
    values: dict[str, Any] = {"date_from": DAY, "date_to": DAY, "tz": UTC}
    values.update(overrides)
    return analytics_compute(site_ids=site_ids, **values)


# --- the figures -----------------------------------------------------------------------


def test_totals_per_arm(world):
    report = compute()

    assert report.totals.interventions == 32
    assert report.totals.stalled_carts == 32
    assert (report.totals.invited, report.totals.held_out, report.totals.suppressed) == (
        16,
        13,
        3,
    )


def test_conversion_of_invited_vs_held_out_with_the_newcombe_interval(world):
    # when
    conversion = compute().conversion

    # then: invited 6 + 1 + 1 of 16, held out 3 of 13
    expected = compare(8, 16, 3, 13)
    assert expected.interval is not None
    assert (conversion.invited, conversion.invited_successes) == (16, 8)
    assert (conversion.held_out, conversion.held_out_successes) == (13, 3)
    assert conversion.invited_rate == 0.5
    assert conversion.held_out_rate == pytest.approx(3 / 13)
    assert conversion.uplift == pytest.approx(0.5 - 3 / 13)
    assert conversion.uplift_low == expected.interval.low
    assert conversion.uplift_high == expected.interval.high
    assert conversion.relative_uplift == pytest.approx((0.5 - 3 / 13) / (3 / 13))
    # fewer than 30 carts per arm: the page warns
    assert conversion.enough_data is False


def test_money_per_currency_is_never_added_across_currencies(world):
    # when
    eur, usd = compute().money

    # then
    assert eur.currency == "EUR"
    assert eur.invited_revenue == Decimal("650.00")
    assert eur.held_out_revenue == Decimal("240.00")
    assert eur.remedy_cost == Decimal("20.00")
    assert eur.granted_amount == Decimal("25.00")
    assert eur.net_revenue == Decimal("630.00")
    assert eur.recovered_orders == 7
    assert eur.remedy_cost_per_recovered_order == Decimal("2.86")
    # (650 / 14 − 240 / 12) × 14 invited carts
    assert eur.incremental_revenue == Decimal("370.00")
    assert usd.currency == "USD"
    assert (usd.invited_revenue, usd.remedy_cost, usd.net_revenue) == (
        Decimal("30.00"),
        Decimal("3.00"),
        Decimal("27.00"),
    )
    assert usd.remedy_cost_per_recovered_order == Decimal("3.00")
    assert usd.incremental_revenue == Decimal("30.00")


def test_breakdown_by_stall_reason_and_site(world):
    report = compute()

    by_reason = {line.key: line.conversion for line in report.by_stall_reason}
    assert [line.key for line in report.by_stall_reason] == [
        "shipping_shock",
        "payment_failed",
        "idle",
    ]
    assert (by_reason["shipping_shock"].invited_successes, by_reason["shipping_shock"].invited) == (
        6,
        10,
    )
    assert by_reason["shipping_shock"].held_out_rate == 0.3
    assert by_reason["payment_failed"].uplift == pytest.approx(0.25)
    assert by_reason["idle"].relative_uplift is None  # held-out rate 0
    interval = compare(6, 10, 3, 10).interval
    assert interval is not None
    assert by_reason["shipping_shock"].uplift_low == interval.low
    by_site = {line.label: line.conversion for line in report.by_site}
    assert list(by_site) == ["Alpha", "Beta"]
    assert (by_site["Alpha"].invited, by_site["Alpha"].held_out) == (14, 12)
    assert (by_site["Beta"].invited_successes, by_site["Beta"].held_out) == (1, 1)


def test_breakdowns_by_policy_remedy_and_agent_count_invited_carts_only(world):
    report = compute()

    def rows(lines: list) -> dict[tuple[str, str], tuple]:
        return {
            (line.label, line.currency): (
                line.interventions, line.chats_accepted, line.converted,
                line.revenue, line.remedy_cost, line.net_revenue,
            )
            for line in lines
        }  # fmt: skip

    assert rows(report.by_policy) == {
        ("Free delivery rescue", "EUR"): (5, 5, 5, Decimal("500.00"), Decimal("20.00"),
                                          Decimal("480.00")),
        ("No policy", "EUR"): (9, 2, 2, Decimal("150.00"), Decimal("0.00"), Decimal("150.00")),
        ("No policy", "USD"): (2, 1, 1, Decimal("30.00"), Decimal("3.00"), Decimal("27.00")),
    }  # fmt: skip
    assert rows(report.by_remedy) == {
        ("Waive the delivery charge", "EUR"): (5, 5, 5, Decimal("500.00"), Decimal("20.00"),
                                               Decimal("480.00")),
        ("No remedy granted", "EUR"): (9, 2, 2, Decimal("150.00"), Decimal("0.00"),
                                       Decimal("150.00")),
        ("Discount on the cart", "USD"): (1, 1, 1, Decimal("30.00"), Decimal("3.00"),
                                          Decimal("27.00")),
        ("No remedy granted", "USD"): (1, 0, 0, Decimal("0.00"), Decimal("0.00"),
                                       Decimal("0.00")),
    }  # fmt: skip
    agents = rows(report.by_agent)
    assert agents[("Ada", "EUR")] == (10, 7, 6, Decimal("600.00"), Decimal("20.00"),
                                      Decimal("580.00"))  # fmt: skip
    assert agents[("No agent", "EUR")][:3] == (4, 0, 1)
    assert agents[("Bob", "USD")][:3] == (2, 1, 1)
    policy_line = next(line for line in report.by_policy if line.label == "Free delivery rescue")
    assert policy_line.key == str(world.policy.pk)
    assert policy_line.conversion_rate == 1.0


def test_invitation_funnel_and_suppression_reasons(world):
    report = compute()

    funnel = report.funnel
    assert funnel.invited == 16
    assert (funnel.accepted, funnel.dismissed, funnel.ignored) == (8, 2, 2)
    assert (funnel.no_answer_yet, funnel.undelivered, funnel.pending) == (1, 1, 2)
    assert funnel.shown == 13
    assert [(line.key, line.count) for line in report.suppression_reasons] == [
        (SuppressionReason.OPTED_OUT, 1),
        (SuppressionReason.QUIET_HOURS, 2),
    ]


def test_follow_up_rate_after_outreach_vs_held_out_with_reasons_and_channels(world):
    follow_ups = compute().follow_ups

    assert (follow_ups.rate.invited_successes, follow_ups.rate.invited) == (3, 16)
    assert (follow_ups.rate.held_out_successes, follow_ups.rate.held_out) == (1, 13)
    assert follow_ups.rate.invited_rate == pytest.approx(3 / 16)
    assert (follow_ups.invited_contacts, follow_ups.held_out_contacts) == (4, 1)
    # the contact without outreach and the one after the 20 March cart are not counted
    assert [(line.key, line.invited, line.held_out) for line in follow_ups.by_reason] == [
        ("needed_confirmation", 2, 0),
        ("checking_genuine", 1, 0),
        ("unresolved", 1, 0),
        ("other", 0, 1),
    ]
    assert [(line.key, line.invited, line.held_out) for line in follow_ups.by_channel] == [
        ("email", 3, 0),
        ("phone", 1, 0),
        ("chat", 0, 1),
    ]


def test_time_to_first_response_median_and_p90(world):
    times = compute().response_times

    # 10, 20 … 70 and 100 s: percentile_cont interpolates between neighbours
    assert times.chats == 8
    assert times.median_seconds == pytest.approx(45.0)
    assert times.p90_seconds == pytest.approx(79.0)
    assert times.mean_seconds == pytest.approx(47.5)


def test_daily_series_fills_every_day_of_the_range(world):
    report = compute(date_from=date(2025, 3, 9), date_to=date(2025, 3, 11))

    assert [d.day for d in report.daily] == [date(2025, 3, 9), DAY, date(2025, 3, 11)]
    empty, tenth, _ = report.daily
    assert (empty.invited, empty.invited_rate, empty.held_out_rate) == (0, None, None)
    assert (tenth.invited, tenth.invited_converted, tenth.held_out, tenth.held_out_converted) == (
        16,
        8,
        13,
        3,
    )
    assert [(d.day, d.currency, d.revenue, d.remedy_cost) for d in report.daily_money] == [
        (DAY, "EUR", Decimal("650.00"), Decimal("20.00")),
        (DAY, "USD", Decimal("30.00"), Decimal("3.00")),
    ]


def test_date_range_is_inclusive_and_site_filter_applies(world):
    # when: up to 20 March, Beta only
    both_days = compute(date_to=date(2025, 3, 20))
    beta = compute(site_ids=[world.beta.pk])

    # then
    assert both_days.totals.invited == 17
    assert both_days.money[0].invited_revenue == Decimal("1649.00")
    assert (beta.totals.invited, beta.totals.held_out, beta.totals.suppressed) == (2, 1, 0)
    assert [m.currency for m in beta.money] == ["USD"]
    assert [line.label for line in beta.by_site] == ["Beta"]


def test_days_are_calendar_days_in_the_given_time_zone(site):
    # given: 23:30 UTC on 10 March is 00:30 on 11 March in Berlin
    late = datetime(2025, 3, 10, 23, 30, tzinfo=UTC)
    make_outcome(site, decision=Decision.INVITED, decided_at=late, converted=True,
                 revenue=Decimal("10.00"))  # fmt: skip
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")

    # when
    in_berlin = compute(date_from=date(2025, 3, 11), date_to=date(2025, 3, 11), tz=berlin)
    in_utc = compute(date_from=date(2025, 3, 11), date_to=date(2025, 3, 11), tz=UTC)

    # then
    assert in_berlin.totals.invited == 1
    assert in_berlin.daily[0].invited_converted == 1
    assert in_utc.totals.invited == 0


def test_nothing_selected_gives_undefined_figures_not_errors(db):
    report = compute()

    assert report.totals.interventions == 0
    assert report.conversion.invited_rate is None
    assert report.conversion.uplift_low is None
    assert report.money == []
    assert report.response_times.median_seconds is None


def test_the_number_of_queries_does_not_depend_on_the_data(world, django_assert_max_num_queries):
    # Rollups current: the sites, the changes' versions, the computed days; main groups,
    # repeated carts, invited groups, follow-up contacts, daily groups, chats by second,
    # CUPED's moments; site, policy and agent names; one or two picks for each of the two
    # percentiles (two when its two values lie in different seconds); the interventions
    # emailed.
    current = 13 + 4 + 1
    # A changed day is recomputed first: its versions, six deletes, five grouped reads
    # and their inserts, the computed days, a savepoint around them; the folding of the
    # day's change rows.
    recompute = current + 23
    compute()
    with django_assert_max_num_queries(current):
        compute()
    make_outcome(world.alpha, decision=Decision.INVITED, converted=True,
                 revenue=Decimal("1.00"), first_response_seconds=5.0)  # fmt: skip
    with django_assert_max_num_queries(recompute):
        compute()
    for n in range(30):
        make_outcome(world.alpha, decision=Decision.INVITED, converted=True,
                     revenue=Decimal("2.00"), first_response_seconds=n + 0.5)  # fmt: skip
    with django_assert_max_num_queries(recompute):
        compute()
    with django_assert_max_num_queries(current):
        compute()


# --- who may see it ----------------------------------------------------------------------


@pytest.fixture
def merchandiser(settings) -> User:
    groups = groups_ensure()
    user = User.objects.create_user("merch", is_staff=True)
    user.groups.add(groups["Merchandisers"])
    return user


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


QUERY = {"date_from": "2025-03-10", "date_to": "2025-03-10"}


def test_anonymous_visitors_are_sent_to_log_in_and_refused_by_the_api(client, world):
    page = client.get("/analytics/", QUERY)
    export = client.get("/analytics/export.csv", QUERY)
    api = client.get("/api/v1/analytics", QUERY)

    assert page.status_code == 302
    assert page["Location"].startswith("/admin/login/?next=/analytics/")
    assert export.status_code == 302
    assert api.status_code == 403


def test_an_agent_without_the_permission_is_refused(world):
    client = logged_in(world.ada.user)

    assert client.get("/analytics/", QUERY).status_code == 403
    assert client.get("/analytics/export.csv", QUERY).status_code == 403
    assert client.get("/api/v1/analytics", QUERY).status_code == 403


def test_a_merchandiser_sees_the_page_with_headline_and_charts(world, merchandiser):
    # when
    response = logged_in(merchandiser).get("/analytics/", QUERY)

    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        "Invited carts converted 50.0 % (n=16) vs 23.1 % held out (n=13): +26.9 pp, "
        "always-valid 95 % interval " in html
    )
    assert "Too few carts to tell" in html
    # the plain words come first, the statistics after
    verdict = html.index("Not enough data yet to tell whether outreach helped: 16 invited")
    assert verdict < html.index("Invited carts converted 50.0 % (n=16)")
    assert html.count('class="chart"') == 4  # rates per day, uplift, EUR and USD money
    assert 'class="point"' in html
    assert 'class="bar"' in html
    assert "<title" in html
    assert "<desc" in html


def test_the_admin_index_links_to_the_analytics(merchandiser, world):
    merchant = logged_in(merchandiser).get("/admin/")
    staff_without = User.objects.create_user("staff", is_staff=True)

    assert merchant.status_code == 200
    assert 'href="/analytics/"' in merchant.content.decode()
    assert 'href="/analytics/"' not in logged_in(staff_without).get("/admin/").content.decode()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"date_from": "10/03/2025"}, "date_from"),
        ({"date_to": "2025-02-30"}, "date_to"),
        ({"site": "999999"}, "site"),
        ({"site": "alpha"}, "site"),
        ({"date_from": "2025-03-11", "date_to": "2025-03-10"}, "date_from"),
        ({"date_from": "2010-01-01", "date_to": "2025-03-10"}, "date_from"),
    ],
)
def test_bad_filters_are_a_400_with_field_errors(merchandiser, query, field):
    client = logged_in(merchandiser)

    page = client.get("/analytics/", query)
    api = client.get("/api/v1/analytics", query)
    export = client.get("/analytics/export.csv", query)

    assert page.status_code == 400
    assert f'id="{field}-errors"' in page.content.decode()
    assert api.status_code == 400
    assert list(api.json()["errors"]) == [field]
    assert export.status_code == 400
    assert list(export.json()["errors"]) == [field]


def test_the_api_returns_the_report_with_decimal_strings(world, merchandiser):
    response = logged_in(merchandiser).get("/api/v1/analytics", {**QUERY, "site": world.alpha.pk})

    assert response.status_code == 200
    data = response.json()
    assert data["filters"] == {
        "date_from": "2025-03-10",
        "date_to": "2025-03-10",
        "site_ids": [world.alpha.pk],
        "timezone": "UTC",
    }
    assert data["money"][0]["invited_revenue"] == "650.00"
    assert data["conversion"]["invited"] == 14
    assert data["daily"][0]["day"] == "2025-03-10"


def csv_rows(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def figure(rows: list[dict[str, str]], section: str, metric: str, dimension: str = "") -> Any:
    found = [
        (row["value"], row["unit"])
        for row in rows
        if (row["section"], row["metric"], row["dimension"]) == (section, metric, dimension)
    ]
    assert len(found) == 1, (section, metric, dimension, found)
    return found[0]


def test_the_csv_export_is_tidy_rows_of_five_columns(world, merchandiser):
    # when
    response = logged_in(merchandiser).get("/analytics/export.csv", QUERY)

    # then: a narrow table, every row filled in the first two columns, no repeated figure
    rows = csv_rows(response)
    header = response.content.decode().splitlines()[0]
    assert header == "section,metric,dimension,value,unit"
    assert all(len(row) == 5 for row in rows)
    assert all(row["section"] and row["metric"] for row in rows)
    keys = [(row["section"], row["metric"], row["dimension"]) for row in rows]
    assert len(keys) == len(set(keys))
    assert {row["section"] for row in rows} >= {
        "totals", "conversion", "by_stall_reason", "daily", "money", "daily_money",
        "by_policy", "by_remedy", "by_agent", "by_site", "funnel", "suppression_reasons",
        "response_times", "follow_ups.rate", "follow_ups.contacts",
    }  # fmt: skip


def test_the_csv_export_rounds_as_the_page_shows(world, merchandiser):
    client = logged_in(merchandiser)
    data = client.get("/api/v1/analytics", QUERY).json()

    rows = csv_rows(client.get("/analytics/export.csv", QUERY))

    # rates in per cent and uplifts in points, one decimal, as on the page
    assert figure(rows, "conversion", "invited") == ("16", "")
    assert figure(rows, "conversion", "invited_rate") == ("50.0", "%")
    assert figure(rows, "conversion", "held_out_rate") == ("23.1", "%")
    assert figure(rows, "conversion", "uplift") == ("26.9", "pp")
    low = data["conversion"]["uplift_low"]
    assert figure(rows, "conversion", "uplift_low") == (f"{low * 100:.1f}", "pp")
    assert len(str(low)) > 6  # the JSON has the full float; the CSV does not
    # money in the currency's minor units, the currency as the unit
    eur = next(line for line in data["money"] if line["currency"] == "EUR")
    assert figure(rows, "money", "invited_revenue", "EUR") == (
        f"{Decimal(eur['invited_revenue']):.2f}",
        "EUR",
    )
    # a breakdown line by its label
    assert figure(rows, "by_stall_reason", "conversion.invited", "Shipping shock") == ("10", "")
    # nothing rounds to more than one decimal in per cent, points or seconds
    for row in rows:
        if row["unit"] in {"%", "pp", "s"} and row["value"]:
            assert len(row["value"].split(".")[1]) == 1, row


def test_the_csv_export_writes_booleans_as_true_or_false(world, merchandiser):
    rows = csv_rows(logged_in(merchandiser).get("/analytics/export.csv", QUERY))

    booleans = [row for row in rows if row["metric"].endswith("enough_data")]
    assert booleans
    assert {row["value"] for row in booleans} <= {"true", "false"}
    assert figure(rows, "conversion", "enough_data") == ("false", "")
    assert not any(row["value"] in {"True", "False"} for row in rows)


def test_nothing_selected_exports_empty_cells_not_none(db, merchandiser):
    rows = csv_rows(
        logged_in(merchandiser).get(
            "/analytics/export.csv", {"date_from": "2024-01-01", "date_to": "2024-01-01"}
        )
    )

    assert figure(rows, "conversion", "invited_rate") == ("", "%")
    assert not any(row["value"] == "None" for row in rows)


def test_the_schema_documents_the_analytics_endpoint(client):
    schema = json.loads(client.get("/api/schema/", {"format": "json"}).content)

    operation = schema["paths"]["/api/v1/analytics"]["get"]
    assert operation["operationId"] == "analytics_retrieve"
    assert {p["name"] for p in operation["parameters"]} == {
        "date_from", "date_to", "site", "plan_uplift", "plan_holdout",
    }  # fmt: skip
    report = schema["components"]["schemas"]["AnalyticsReport"]
    assert {"conversion", "cuped", "plan"} <= set(report["properties"])
    comparison = schema["components"]["schemas"]["AnalyticsComparison"]
    assert {"sequence_low", "sequence_high", "stalled_carts_to_exclude_zero"} <= set(
        comparison["properties"]
    )


# --- honest uplift: always-valid interval, CUPED, planner (issue 14) --------------------


def test_the_api_gives_the_always_valid_interval_cuped_and_the_plan(world, merchandiser):
    # when: all sites (invited 8 of 16 converted, held out 3 of 13), planning 10 points
    # and comparing with a 25 % holdout
    query = {**QUERY, "plan_uplift": "10", "plan_holdout": "25"}
    data = logged_in(merchandiser).get("/api/v1/analytics", query).json()

    # then: the sequence of the domain module on the same counts
    conversion = data["conversion"]
    expected = difference_sequence(8, 16, 3, 13)
    assert expected.interval is not None
    assert conversion["sequence_low"] == pytest.approx(expected.interval.low)
    assert conversion["sequence_high"] == pytest.approx(expected.interval.high)
    assert conversion["sequence_low"] < conversion["uplift_low"]
    assert conversion["sequence_excludes_zero"] is expected.excludes_zero
    # CUPED with the covariates seen in the data, and its variance reduction
    assert data["cuped"]["covariates"][0] == "value"
    assert data["cuped"]["uplift"] is not None
    assert data["cuped"]["variance_reduction"] is not None
    # the plan: at the share held out so far (several sites), the usual ones and 25 %
    plan = data["plan"]
    assert plan["uplift"] == pytest.approx(0.1)
    assert plan["baseline_rate"] == pytest.approx(3 / 13)
    assert plan["randomised_so_far"] == 29
    shares = [line["holdout_share"] for line in plan["lines"]]
    assert 0.25 in shares
    assert [line["holdout_share"] for line in plan["lines"] if line["current"]] == [
        pytest.approx(13 / 29)
    ]
    line = next(line for line in plan["lines"] if line["holdout_share"] == 0.25)
    needed = fixed_horizon_carts(3 / 13, 0.1, 0.25)
    assert needed is not None
    assert line["randomised_fixed"] == needed
    assert line["more_stalled_fixed"] == math.ceil((needed - 29) / (29 / 32))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"plan_uplift": "0"}, "plan_uplift"),
        ({"plan_uplift": "fifty"}, "plan_uplift"),
        ({"plan_uplift": "60"}, "plan_uplift"),
        ({"plan_uplift": "2.25"}, "plan_uplift"),
        ({"plan_holdout": "0.5"}, "plan_holdout"),
        ({"plan_holdout": "100"}, "plan_holdout"),
    ],
)
def test_bad_planner_inputs_are_a_400_with_field_errors(merchandiser, query, field):
    client = logged_in(merchandiser)
    page = client.get("/analytics/", {**QUERY, **query})
    api = client.get("/api/v1/analytics", {**QUERY, **query})
    assert page.status_code == 400
    assert f'id="{field}-errors"' in page.content.decode()
    assert api.status_code == 400
    assert list(api.json()["errors"]) == [field]


def test_the_page_and_the_csv_show_the_new_figures(world, merchandiser):
    client = logged_in(merchandiser)
    html = client.get("/analytics/", {**QUERY, "plan_holdout": "25"}).content.decode()
    assert 'data-testid="intervals"' in html
    assert "Always-valid 95 % interval" in html
    assert "CUPED removed" in html
    assert "25.0 %" in html
    assert "How many more stalled carts?" in html

    rows = csv_rows(client.get("/analytics/export.csv", {**QUERY, "plan_holdout": "25"}))
    low, unit = figure(rows, "conversion", "sequence_low")
    assert unit == "pp"
    expected = difference_sequence(8, 16, 3, 13).interval
    assert expected is not None
    assert float(low) == pytest.approx(expected.low * 100, abs=0.05)
    assert figure(rows, "cuped", "variance_reduction")[1] == "%"
    assert figure(rows, "cuped", "covariates")[0].startswith("value ")
    assert figure(rows, "plan", "uplift") == ("5.0", "pp")
    assert figure(rows, "plan.lines", "holdout_share", "holdout 25.0 %") == ("25.0", "%")
