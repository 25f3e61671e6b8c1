"""The analytics from daily rollups equal the analytics from the raw rows (ADR 0019):
on random data across sites, time zones and currencies, for several filters, after
every kind of write the change triggers must notice, and through the services that
write interventions, outcomes and follow-up contacts."""

from __future__ import annotations

import random
import zoneinfo
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from cartassist.domain.analytics_report import AnalyticsReport
from cartassist.flows.sweep import stall_sweep
from cartassist.models import (
    AnalyticsChange,
    AnalyticsDay,
    AnalyticsGroup,
    AnalyticsMoment,
    Arm,
    Cart,
    Decision,
    FollowUpContact,
    Intervention,
    InvitationResult,
    Site,
    Stage,
    StallReason,
    SuppressionReason,
)
from cartassist.outcomes.services.analytics import analytics_compute
from cartassist.outcomes.services.analytics_rollups import (
    analytics_rollups_build,
    analytics_rollups_refresh,
)
from cartassist.outcomes.services.followups import follow_up_report
from cartassist.outcomes.services.outcomes import outcomes_finalise
from policies.services.versions import policies_delete
from tests.fixtures.agents import make_agent, make_stalled_cart
from tests.fixtures.carts import EventPoster, iso, make_event
from tests.fixtures.policies import make_policy
from tests.fixtures.sites import make_site, make_stall_rules

# March 2025: the US clocks change on the 9th, the European ones on the 30th.
T0 = datetime(2025, 3, 1, tzinfo=UTC)
SPAN_DAYS = 40
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]
CURRENCIES = ["EUR", "USD", "JPY"]


def both(site_ids: list[int] | None, date_from: date, date_to: date, tz: tzinfo) -> None:
    """The report from the rollups equals the report from the rows."""
    values: dict[str, Any] = {
        "site_ids": site_ids,
        "date_from": date_from,
        "date_to": date_to,
        "tz": tz,
    }
    from_rollups = analytics_compute(**values)
    from_rows = analytics_compute(**values, rollups=False)
    assert_same(from_rollups, from_rows, values)


def assert_same(from_rollups: AnalyticsReport, from_rows: AnalyticsReport, where: Any) -> None:
    """Every figure equal; the percentiles are picked differently (whole-second buckets,
    then the one or two values around the rank) and say so; the mean of the response
    times is a sum of per-day float sums, equal to AVG's but for the last bits."""
    rows_times, rollups_times = from_rows.response_times, from_rollups.response_times
    assert rollups_times.method == "second_buckets"
    if rows_times.mean_seconds is None:
        assert rollups_times.mean_seconds is None
    else:
        assert rollups_times.mean_seconds == pytest.approx(rows_times.mean_seconds, rel=1e-12)
    # CUPED's sums of logarithms are floats added in another order: equal to 1e-9.
    rows_cuped, rollups_cuped = from_rows.cuped, from_rollups.cuped
    assert rows_cuped is not None
    assert rollups_cuped is not None
    assert rollups_cuped.covariates == rows_cuped.covariates
    for field in ("uplift", "uplift_low", "uplift_high", "sequence_low", "sequence_high",
                  "variance_reduction"):  # fmt: skip
        expected_value = getattr(rows_cuped, field)
        if expected_value is None:
            assert getattr(rollups_cuped, field) is None
        else:
            assert getattr(rollups_cuped, field) == pytest.approx(
                expected_value, rel=1e-9, abs=1e-12
            )
    expected = replace(
        from_rows,
        response_times=replace(
            rows_times, method="second_buckets", mean_seconds=rollups_times.mean_seconds
        ),
        cuped=rollups_cuped,
    )
    assert from_rollups == expected, where


def random_world(rng: random.Random) -> list[Site]:
    sites = []
    for i, zone in enumerate(ZONES):
        site = make_site(name=f"Shop {i}", currency=CURRENCIES[i % 3], timezone=zone)
        agents = [make_agent(site, name=f"Agent {i}-{n}", online=False) for n in range(2)]
        policies = [make_policy(site, name=f"Policy {i}-{n}") for n in range(2)]
        carts = [
            make_stalled_cart(site, visitor_id=f"v{i}-{n}", external_id=f"c{i}-{n}", now=T0)
            for n in range(25)
        ]
        rows = []
        for cart in carts:
            for k in range(rng.choice([1, 1, 2, 3])):
                decided_at = T0 + timedelta(seconds=rng.randrange(SPAN_DAYS * 86400))
                rows.append(random_intervention(rng, cart, decided_at, k, agents, policies))
            if rng.random() < 0.2:  # two decisions of one cart at the same instant
                rows.append(
                    random_intervention(rng, cart, rows[-1].decided_at, 9, agents, policies)
                )
        Intervention.objects.bulk_create(rows)
        sites.append(site)
    interventions = list(Intervention.objects.all())
    contacts = []
    for n in range(200):
        target = rng.choice(interventions)
        contacts.append(
            FollowUpContact(
                site_id=target.site_id,
                key=f"k{n}",
                source="helpdesk",
                channel=rng.choice(["email", "phone", "chat", "social", "other"]),
                reason=rng.choice(
                    ["needed_confirmation", "checking_genuine", "unresolved", "other"]
                ),
                resolution=rng.choice(["", "", "self_served", "agent"]),
                occurred_at=target.decided_at + timedelta(hours=2),
                received_at=target.decided_at + timedelta(hours=2),
                intervention=target if rng.random() < 0.9 else None,
            )
        )
    FollowUpContact.objects.bulk_create(contacts)
    return sites


def random_intervention(
    rng: random.Random, cart: Cart, decided_at: datetime, k: int, agents: list, policies: list
) -> Intervention:
    decision = rng.choice([Decision.INVITED] * 3 + [Decision.HELD_OUT, Decision.SUPPRESSED])
    invited = decision == Decision.INVITED
    accepted = invited and rng.random() < 0.4
    converted = decision != Decision.SUPPRESSED and rng.random() < 0.3
    revenue = Decimal(rng.randrange(100, 20000)) / 100 if converted else Decimal(0)
    granted = Decimal(rng.choice([0, 0, 500, 990])) / 100 if accepted else Decimal(0)
    cost = granted if converted else Decimal(0)
    return Intervention(
        site_id=cart.site_id,
        cart=cart,
        visitor_id=cart.visitor_id,
        stall_deadline=decided_at - timedelta(minutes=1 + k),
        stage=rng.choice(Stage.values),
        stall_reason=rng.choice(StallReason.values),
        urgency=50,
        inactivity=timedelta(minutes=10),
        cart_value=Decimal(rng.randrange(0, 40000)) / 100,
        arm={Decision.INVITED: Arm.OUTREACH, Decision.HELD_OUT: Arm.HOLDOUT}.get(
            decision, rng.choice([Arm.OUTREACH, Arm.HOLDOUT])
        ),
        returning_shopper=rng.random() < 0.3,
        currency=rng.choice([cart.currency] * 4 + CURRENCIES),
        decision=decision,
        suppression_reason=(
            rng.choice([*SuppressionReason.values, ""]) if decision == Decision.SUPPRESSED else ""
        ),
        decided_at=decided_at,
        invitation_result=(
            rng.choice(InvitationResult.values)
            if invited and not accepted
            else InvitationResult.ACCEPTED
            if accepted
            else ""
        ),  # fmt: skip
        agent=rng.choice(agents) if accepted and agents else None,
        first_response_seconds=rng.expovariate(1 / 30) if accepted else None,
        remedy_kind=rng.choice(["waive_delivery", "discount"]) if granted else "",
        policy=rng.choice(policies) if granted and policies else None,
        granted_amount=granted,
        remedy_cost=cost,
        converted=converted,
        revenue=revenue,
        net_revenue=revenue - cost,
        follow_ups=rng.choice([0, 0, 0, 1, 2]) if decision != Decision.SUPPRESSED else 0,
    )


def filters(rng: random.Random, sites: list[Site]) -> list[tuple[Any, date, date, tzinfo]]:
    first = T0.date() - timedelta(days=1)
    last = first + timedelta(days=SPAN_DAYS + 1)
    cases: list[tuple[Any, date, date, tzinfo]] = [
        (None, first, last, UTC),
        (None, date(2025, 3, 8), date(2025, 3, 10), UTC),
        ([sites[0].pk, sites[2].pk], date(2025, 3, 5), date(2025, 3, 31), UTC),
        ([sites[3].pk], first, last, zoneinfo.ZoneInfo("Asia/Tokyo")),
    ]
    for site in sites:
        tz = zoneinfo.ZoneInfo(site.timezone)
        start = first + timedelta(days=rng.randrange(SPAN_DAYS))
        cases.append(([site.pk], first, last, tz))
        cases.append(([site.pk], start, start + timedelta(days=rng.randrange(12)), tz))
        cases.append(([site.pk], start, start, tz))
    return cases


def compare_all(cases: list[tuple[Any, date, date, tzinfo]]) -> None:
    for site_ids, date_from, date_to, tz in cases:
        both(site_ids, date_from, date_to, tz)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_rollups_give_the_figures_of_the_raw_rows_through_every_kind_of_change(db, seed):
    rng = random.Random(seed)
    sites = random_world(rng)
    cases = filters(rng, sites)
    compare_all(cases)
    assert AnalyticsGroup.objects.exists()
    # Nothing changed: every day is read from its rollups.
    for site_ids, date_from, date_to, tz in cases:
        ids = site_ids or [s.pk for s in sites]
        result = analytics_rollups_refresh(
            site_ids=ids, tz=tz, date_from=date_from, date_to=date_to
        )
        assert result.recomputed_days == 0

    interventions = list(Intervention.objects.order_by("pk"))
    # An update by queryset (outcomes written by the services, the finaliser).
    picked = rng.sample(interventions, 30)
    Intervention.objects.filter(pk__in=[i.pk for i in picked[:15]]).update(
        converted=True, revenue=Decimal("12.34"), net_revenue=Decimal("12.34")
    )
    # bulk_update, as the outcomes service writes what changed.
    for i in picked[15:]:
        i.invitation_result = rng.choice(InvitationResult.values)
        i.follow_ups = rng.choice([0, 3])
        i.remedy_cost = Decimal("1.11")
    Intervention.objects.bulk_update(
        picked[15:], ["invitation_result", "follow_ups", "remedy_cost"]
    )
    compare_all(cases)
    assert AnalyticsMoment.objects.exists()

    # CUPED's covariates (written once at the decision today; a later writer must still
    # be noticed by the triggers).
    Intervention.objects.filter(pk__in=[i.pk for i in picked[:10]]).update(
        stage=Stage.PAYMENT, cart_value=Decimal("999.99"), returning_shopper=True
    )
    compare_all(cases)

    # New interventions, some before a cart's existing ones (distinct carts change on
    # later days), and deleted ones.
    carts = list(Cart.objects.all())
    agents, policies = [], []
    new = [
        random_intervention(
            rng, cart, T0 + timedelta(seconds=rng.randrange(SPAN_DAYS * 86400)), 20 + n,
            agents, policies,
        )
        for n, cart in enumerate(rng.sample(carts, 20))
    ]  # fmt: skip
    Intervention.objects.bulk_create(new)
    Intervention.objects.filter(pk__in=[i.pk for i in rng.sample(interventions, 10)]).delete()
    compare_all(cases)

    # Follow-up contacts: re-credited, reclassified, resolved, deleted.
    contacts = list(FollowUpContact.objects.order_by("pk"))
    remaining = list(Intervention.objects.all())
    for contact in contacts[:20]:
        contact.intervention = rng.choice(remaining)
    for contact in contacts[20:40]:
        contact.reason = "unresolved"
        contact.resolution = "self_served"
    FollowUpContact.objects.bulk_update(contacts[:40], ["intervention", "reason", "resolution"])
    FollowUpContact.objects.filter(pk__in=[c.pk for c in contacts[40:50]]).delete()
    compare_all(cases)

    # A policy deleted: its interventions lose it (SET NULL).
    policy_id = Intervention.objects.exclude(policy=None).values_list("policy", flat=True)[0]
    assert policies_delete(policy_ids=[policy_id]) == [policy_id]
    compare_all(cases)


def test_the_build_computes_every_day_of_both_zones_once(db):
    rng = random.Random(3)
    sites = random_world(rng)
    result = analytics_rollups_build()

    assert result.zones == 2 * len(sites) - 1  # the UTC site has one zone
    assert result.recomputed_days > SPAN_DAYS
    again = analytics_rollups_build()
    assert again.recomputed_days == 0
    berlin = sites[1]
    days = AnalyticsDay.objects.filter(site=berlin, zone="Europe/Berlin")
    decided = {
        i.decided_at.astimezone(zoneinfo.ZoneInfo("Europe/Berlin")).date()
        for i in Intervention.objects.filter(site=berlin)
    }
    # Every local day with an intervention is stored (and days only near one, in UTC,
    # are stored empty).
    assert decided <= set(days.values_list("day", flat=True))
    compare_all(filters(rng, sites))


def test_changes_are_folded_without_changing_the_version(db):
    site = make_site(timezone="UTC")
    cart = make_stalled_cart(site, now=T0)
    intervention = random_intervention(random.Random(4), cart, T0, 0, [], [])
    intervention.save()
    for n in range(20):
        Intervention.objects.filter(pk=intervention.pk).update(revenue=Decimal(n + 1))
    rows = AnalyticsChange.objects.filter(site_id=site.pk, day=T0.date())
    version = sum(rows.values_list("weight", flat=True))
    assert rows.count() == 21

    both([site.pk], T0.date(), T0.date(), UTC)

    assert rows.count() == 1
    assert rows.get().weight == version


def test_an_update_that_changes_nothing_the_analytics_read_marks_nothing(db):
    site = make_site(timezone="UTC")
    cart = make_stalled_cart(site, now=T0)
    intervention = random_intervention(random.Random(5), cart, T0, 0, [], [])
    intervention.save()
    before = AnalyticsChange.objects.count()

    Intervention.objects.filter(pk=intervention.pk).update(
        outcome_final=True, outcome_updated_at=T0
    )
    assert AnalyticsChange.objects.count() == before
    Intervention.objects.filter(pk=intervention.pk).update(converted=not intervention.converted)
    assert AnalyticsChange.objects.count() == before + 1


# --- the services that write ---------------------------------------------------------------


@pytest.fixture
def shop(db) -> Site:
    site = make_site(timezone="America/New_York", holdout_share=Decimal("0"))
    make_stall_rules(site)
    make_agent(site, name="Ada")
    return site


def report(site: Site, now: datetime) -> Any:
    """Both computations for the site's day of ``now``, in its zone; the rollups' one."""
    tz = zoneinfo.ZoneInfo(site.timezone)
    day = now.astimezone(tz).date()
    both([site.pk], day, day, tz)
    both(None, now.date(), now.date(), UTC)
    return analytics_compute(site_ids=[site.pk], date_from=day, date_to=day, tz=tz)


def test_the_rollups_follow_the_sweep_the_order_the_follow_up_and_the_finaliser(
    shop, client, django_capture_on_commit_callbacks
):
    now = timezone.now().replace(microsecond=0) - timedelta(hours=3)
    assert report(shop, now).totals.interventions == 0

    # The sweep decides a stalled cart: a new intervention.
    make_stalled_cart(shop, visitor_id="v-1", external_id="cart-1", now=now)
    with django_capture_on_commit_callbacks(execute=True):
        stall_sweep(now=now)
    after_sweep = report(shop, now)
    assert after_sweep.totals.invited == 1
    assert after_sweep.conversion.invited_successes == 0

    # The shopper orders: the outcomes service credits it.
    event = make_event(
        "order_completed", cart_id="cart-1", visitor_id="v-1",
        occurred_at=iso(now + timedelta(minutes=30)),
        data={"order_id": "ord-1", "currency": "EUR", "total": "74.90"},
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = EventPoster(client, shop).widget([event])
    assert response.status_code == 200, response.content
    after_order = report(shop, now)
    assert after_order.conversion.invited_successes == 1
    assert after_order.money[0].invited_revenue == Decimal("74.90")

    # The helpdesk reports a contact: the follow-up service credits it.
    with django_capture_on_commit_callbacks(execute=True):
        follow_up_report(
            site=shop, key="t-1", channel="email", reason="needed_confirmation",
            visitor_id="v-1", customer_id="", occurred_at=now + timedelta(hours=1),
            note="", now=now + timedelta(hours=1),
        )  # fmt: skip
    after_contact = report(shop, now)
    assert after_contact.follow_ups.invited_contacts == 1
    assert after_contact.follow_ups.by_reason[0].key == "needed_confirmation"

    # The window closes: the finaliser recomputes and marks it final.
    with django_capture_on_commit_callbacks(execute=True):
        outcomes_finalise(now=now + timedelta(days=30))
    assert Intervention.objects.get().outcome_final
    assert report(shop, now) == after_contact
