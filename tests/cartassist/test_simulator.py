"""The simulator (docs/ANALYTICS.md, "Simulator"): a known truth in, the analytics must find it.

One population of 1,200 shoppers with a true uplift of +15 points is simulated once for
the module (inside a transaction rolled back at the end); the tests read it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from agents.models import AgentProfile, Conversation, Invitation, InvitationStatus
from cartassist.demo.seed import demo_seed
from cartassist.domain.attribution import SAME_CART, SAME_SHOPPER
from cartassist.models import (
    Cart,
    Decision,
    FollowUpContact,
    Intervention,
    InvitationResult,
    Site,
    SuppressionReason,
)
from cartassist.simulation import (
    DEMO_HISTORY_SITE_NAME,
    SimulationConfig,
    SimulationSummary,
    demo_history_ensure,
    simulate,
    simulation_site_ensure,
    standard_error,
    summary_lines,
)
from policies.models import Grant

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TRUTH = SimulationConfig(
    shoppers=1200,
    days=14,
    invited_conversion=0.35,
    holdout_conversion=0.20,
    follow_up_rate=0.25,
    holdout_follow_up_rate=0.05,
    holdout_share=Decimal("0.5"),
    seed=7,
)


# The product's default availability check (agent presence, asked at the sweep's moment),
# not the site switch tests/cartassist/conftest.py pins: simulated agents work shifts.
PRESENCE = "agents.services.presence.agent_with_free_capacity"


@pytest.fixture(autouse=True)
def _availability_by_site_switch(settings: Any) -> None:
    settings.CARTASSIST_AGENT_AVAILABILITY = PRESENCE


@pytest.fixture(scope="module")
def simulated(django_db_setup: Any, django_db_blocker: Any) -> Iterator[SimulationSummary]:
    """One simulation for the whole module, rolled back afterwards."""
    with (
        django_db_blocker.unblock(),
        override_settings(CARTASSIST_AGENT_AVAILABILITY=PRESENCE),
        transaction.atomic(),
    ):
        site = simulation_site_ensure(name="Simulator test shop", now=NOW)
        yield simulate(site=site, config=TRUTH, now=NOW)
        transaction.set_rollback(True)


def within_three_standard_errors(measured: float | None, true: float, n: int) -> bool:
    assert measured is not None
    return abs(measured - true) <= 3 * standard_error(true, n)


# --- the analytics find the truth ----------------------------------------------------------


@pytest.mark.django_db
def test_the_figures_are_read_back_from_the_analytics(simulated):
    # then: the summary's figures are what the analytics page and API report
    assert simulated.measured.source == "analytics_compute"
    assert simulated.measured.other_interventions == 0


@pytest.mark.django_db
def test_the_reported_95_percent_interval_contains_the_true_uplift(simulated):
    # given
    m = simulated.measured
    true_uplift = TRUTH.invited_conversion - TRUTH.holdout_conversion
    # then
    assert m.uplift_low is not None
    assert m.uplift_high is not None
    assert m.uplift_low <= true_uplift <= m.uplift_high
    # and the interval is tight enough to say something (excludes "no effect")
    assert m.uplift_low > 0
    assert m.uplift_high - m.uplift_low < 0.13


@pytest.mark.django_db
def test_each_arm_is_within_three_standard_errors_of_its_true_rate(simulated):
    m = simulated.measured
    # then: large enough arms (the holdout share was 0.5)
    assert m.invited > 400
    assert m.held_out > 400
    assert within_three_standard_errors(m.invited_rate, TRUTH.invited_conversion, m.invited)
    assert within_three_standard_errors(m.held_out_rate, TRUTH.holdout_conversion, m.held_out)


@pytest.mark.django_db
def test_the_follow_up_rate_after_outreach_matches_the_simulated_one(simulated):
    m = simulated.measured
    assert within_three_standard_errors(m.follow_up_rate, TRUTH.follow_up_rate, m.invited)
    assert within_three_standard_errors(
        m.held_out_follow_up_rate, TRUTH.holdout_follow_up_rate, m.held_out
    )


@pytest.mark.django_db
def test_the_measured_counts_agree_with_the_intervention_table(simulated):
    # given
    ours = Intervention.objects.filter(site_id=simulated.site_id)
    invited = ours.filter(decision=Decision.INVITED)
    held_out = ours.filter(decision=Decision.HELD_OUT)
    m = simulated.measured
    # then
    assert m.invited == invited.count()
    assert m.held_out == held_out.count()
    assert m.invited_converted == invited.filter(converted=True).count()
    assert m.held_out_converted == held_out.filter(converted=True).count()
    assert m.invited_followed_up == invited.filter(follow_ups__gt=0).count()


# --- it really went through the pipeline --------------------------------------------------


@pytest.mark.django_db
def test_every_stalled_cart_got_a_decision_with_some_suppressed_for_real_reasons(simulated):
    # given
    ours = Intervention.objects.filter(site_id=simulated.site_id)
    # then: one intervention per shopper, each decided by the sweep
    assert ours.count() == simulated.stalled == TRUTH.shoppers
    assert set(ours.values_list("decision", flat=True)) == {
        Decision.INVITED,
        Decision.HELD_OUT,
        Decision.SUPPRESSED,
    }
    assert set(simulated.suppression_reasons) == {
        SuppressionReason.NO_AGENT_AVAILABLE,
        SuppressionReason.FREQUENCY_CAP,
        SuppressionReason.OPTED_OUT,
    }
    # and every outcome is final: every attribution window had closed
    assert not ours.filter(outcome_final=False).exists()


@pytest.mark.django_db
def test_invitations_were_delivered_accepted_dismissed_and_ignored(simulated):
    # given
    invited = Intervention.objects.filter(site_id=simulated.site_id, decision=Decision.INVITED)
    results = set(invited.values_list("invitation_result", flat=True))
    # then
    assert results == {
        InvitationResult.ACCEPTED,
        InvitationResult.DISMISSED,
        InvitationResult.IGNORED,
        InvitationResult.UNDELIVERED,
    }
    assert Invitation.objects.filter(
        site_id=simulated.site_id, status=InvitationStatus.ACCEPTED
    ).count() == simulated.invitations.get(InvitationStatus.ACCEPTED)


@pytest.mark.django_db
def test_accepted_invitations_became_chats_with_an_agent_and_messages_each_way(simulated):
    # given
    chats = Intervention.objects.filter(
        site_id=simulated.site_id, invitation_result=InvitationResult.ACCEPTED
    )
    answered = chats.filter(agent__isnull=False)
    # then: all but the few accepted just as a shift ended (queued, the shopper left)
    assert chats.count() > 100
    assert chats.count() - answered.count() <= 0.02 * chats.count()
    assert not answered.filter(visitor_messages=0).exists()
    assert not answered.filter(agent_messages=0).exists()
    assert not answered.filter(first_response_seconds__isnull=True).exists()
    assert not chats.filter(chat_duration_seconds__isnull=True).exists()
    # and the chats were spread over the agents' shifts
    assert len(set(answered.values_list("agent_id", flat=True))) == 3
    assert simulated.messages == sum(
        c.last_seq for c in Conversation.objects.filter(site_id=simulated.site_id)
    )


@pytest.mark.django_db
def test_shipping_shocks_got_offers_within_policy_and_grants_redeemed_on_orders(simulated):
    # given
    granted = Intervention.objects.filter(site_id=simulated.site_id, offer_accepted=True)
    redeemed = Grant.objects.filter(site_id=simulated.site_id, redeemed_at__isnull=False)
    # then
    assert set(granted.values_list("stall_reason", flat=True)) == {"shipping_shock"}
    assert not granted.filter(policy__isnull=True).exists()
    assert redeemed.count() == simulated.grants_redeemed > 10
    assert not redeemed.exclude(order_id__startswith="sim-").exists()
    # and the remedy cost is what was redeemed, net revenue is revenue less that cost
    costly = Intervention.objects.filter(site_id=simulated.site_id, remedy_cost__gt=0)
    assert costly.count() == redeemed.count()
    assert not costly.filter(converted=False).exists()
    # (compared in Python: SQLite would subtract the decimals as floats)
    assert all(i.net_revenue == i.revenue - i.remedy_cost for i in costly)


@pytest.mark.django_db
def test_orders_were_attributed_on_the_same_cart_and_by_the_same_shopper(simulated):
    # given
    converted = Intervention.objects.filter(site_id=simulated.site_id, converted=True)
    same_shopper = converted.filter(attribution=SAME_SHOPPER)
    # then
    assert converted.filter(attribution=SAME_CART).count() > 200
    assert same_shopper.count() > 20
    # an order on a new cart of the same visitor
    for intervention in same_shopper[:5]:
        order_cart = Cart.objects.get(site_id=simulated.site_id, order_id=intervention.order_id)
        assert order_cart.pk != intervention.cart_id
        assert order_cart.visitor_id == intervention.visitor_id
    # and no order was counted twice
    order_ids = list(converted.values_list("order_id", flat=True))
    assert len(order_ids) == len(set(order_ids)) == simulated.orders


@pytest.mark.django_db
def test_follow_up_contacts_were_credited_to_the_outreach_before_them(simulated):
    # given
    contacts = FollowUpContact.objects.filter(site_id=simulated.site_id).select_related(
        "intervention"
    )
    # then: every contact was credited, to the shopper's intervention in the experiment
    assert contacts.count() == simulated.follow_up_contacts > 100
    assert not contacts.filter(intervention__isnull=True).exists()
    for contact in contacts[:50]:
        assert contact.intervention.visitor_id == contact.visitor_id
        assert contact.intervention.decision in (Decision.INVITED, Decision.HELD_OUT)
        assert contact.intervention.decided_at <= contact.occurred_at
    # and about 45 % of them for undesirable reasons
    undesirable = sum(n for reason, n in simulated.follow_up_reasons.items() if reason != "other")
    share = undesirable / simulated.follow_up_contacts
    assert abs(share - 0.45) <= 3 * standard_error(0.45, simulated.follow_up_contacts)


@pytest.mark.django_db
def test_the_site_is_left_as_it_was(simulated):
    # given
    site = Site.objects.get(pk=simulated.site_id)
    # then: the run's holdout share and outreach switch were restored
    assert site.holdout_share == Decimal("0.100")
    assert site.agents_available is True
    # and the simulated agents are not online now
    agents = AgentProfile.objects.filter(site=site)
    assert agents.count() == 3
    assert all(a.last_heartbeat_at < NOW for a in agents)


@pytest.mark.django_db
def test_the_summary_prints_the_truth_next_to_the_measurement(simulated):
    text = "\n".join(summary_lines(simulated))
    assert "conversion if invited     35.0 %" in text
    assert "uplift                    +15.0 pp" in text
    assert "contains the true uplift" in text
    assert "read back from analytics_compute" in text


# --- reproducible -------------------------------------------------------------------------


def _fresh_run(config: SimulationConfig) -> SimulationSummary:
    """A run on a fresh database: everything it wrote is rolled back afterwards."""
    with transaction.atomic():
        site = simulation_site_ensure(name="Reproducible shop", now=NOW)
        summary = simulate(site=site, config=config, now=NOW)
        transaction.set_rollback(True)
    return summary


@pytest.mark.django_db
def test_the_same_seed_on_a_fresh_database_gives_the_same_summary():
    # given
    config = SimulationConfig(shoppers=40, days=2, seed=11)
    # when
    first = _fresh_run(config)
    second = _fresh_run(config)
    other_seed = _fresh_run(SimulationConfig(shoppers=40, days=2, seed=12))
    # then: the same figures (the site's row id is the database's, not the run's)
    assert dataclasses.replace(first, site_id=0) == dataclasses.replace(second, site_id=0)
    assert first.measured.invited > 0
    assert other_seed != first


@pytest.mark.django_db
def test_a_second_run_on_the_same_site_does_not_reuse_the_first_runs_shoppers():
    # given
    site = simulation_site_ensure(name="Twice shop", now=NOW)
    first = simulate(site=site, config=SimulationConfig(shoppers=15, days=2), now=NOW)
    # when
    second = simulate(site=site, config=SimulationConfig(shoppers=15, days=2), now=NOW)
    # then
    assert (first.run, second.run) == ("r1", "r2")
    assert Intervention.objects.filter(site=site).count() == 30
    assert second.measured.other_interventions == 15
    assert "not from this run" in "\n".join(summary_lines(second))


# --- the demo -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_demo_history_is_simulated_once_beside_an_untouched_live_demo():
    # given: the live demo, its agent online now
    seed = demo_seed(origins=[])
    agent = AgentProfile.objects.get(user=seed.agent)
    AgentProfile.objects.filter(pk=agent.pk).update(status="online", last_heartbeat_at=NOW)
    live_before = list(
        AgentProfile.objects.filter(site=seed.site).values_list("status", "last_heartbeat_at")
    )
    # when
    first = demo_history_ensure(shoppers=20, now=NOW)
    again = demo_history_ensure(shoppers=20, now=NOW)
    # then: once, on a site of its own
    assert first is not None
    assert first.site_name == DEMO_HISTORY_SITE_NAME
    assert first.stalled == 20
    assert again is None
    assert Intervention.objects.filter(site__name=DEMO_HISTORY_SITE_NAME).count() == 20
    # and the live demo is as it was
    assert not Intervention.objects.filter(site=seed.site).exists()
    assert not Cart.objects.filter(site=seed.site).exists()
    site = Site.objects.get(pk=seed.site.pk)
    assert (site.holdout_share, site.agents_available) == (Decimal("0.100"), True)
    assert (
        list(AgentProfile.objects.filter(site=site).values_list("status", "last_heartbeat_at"))
        == live_before
    )


@pytest.mark.django_db
def test_no_demo_history_when_asked_for_none():
    assert demo_history_ensure(shoppers=0, now=NOW) is None
    assert not Site.objects.filter(name=DEMO_HISTORY_SITE_NAME).exists()


# --- the command --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_command_prints_the_true_and_measured_rates(capsys):
    # when
    call_command("simulate", "--shoppers", "20", "--days", "2", "--seed", "3", "--site", "Cmd")
    # then
    out = capsys.readouterr().out
    assert "Simulated 20 shoppers on “Cmd” (run r1, seed 3)" in out
    assert "conversion if invited     30.0 %" in out
    assert "Measured (read back from analytics_compute)" in out
    assert Site.objects.get(name="Cmd").public_key == "pk_sim_cmd"


@pytest.mark.django_db
def test_the_command_refuses_rates_outside_0_to_1():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="invited-conversion must be between 0 and 1"):
        call_command("simulate", "--invited-conversion", "1.5", "--shoppers", "1")
    assert not Site.objects.filter(public_key="pk_sim_simulated-shop").exists()


def test_standard_error_is_the_binomial_one():
    assert math.isclose(standard_error(0.25, 100), 0.0433, abs_tol=1e-4)


# --- honest uplift through the real pipeline (issue 14) ---------------------------------


@pytest.mark.django_db
def test_the_always_valid_and_cuped_intervals_contain_the_true_uplift(simulated):
    m = simulated.measured
    true_uplift = TRUTH.invited_conversion - TRUTH.holdout_conversion
    assert m.sequence_low is not None
    assert m.sequence_high is not None
    assert m.sequence_low <= true_uplift <= m.sequence_high
    # wider than the fixed-horizon interval: it holds at every look
    assert m.uplift_low is not None
    assert m.uplift_high is not None
    assert m.sequence_low < m.uplift_low
    assert m.uplift_high < m.sequence_high
    assert m.cuped_low is not None
    assert m.cuped_high is not None
    assert m.cuped_low <= true_uplift <= m.cuped_high
    assert m.variance_reduction is not None


@pytest.mark.django_db
def test_every_simulated_shopper_stays_in_one_arm(simulated):
    # returning shoppers come back with the visitor id of an earlier invitation
    arms: dict[str, set[str]] = {}
    for visitor_id, arm in Intervention.objects.filter(site_id=simulated.site_id).values_list(
        "visitor_id", "arm"
    ):
        arms.setdefault(visitor_id, set()).add(arm)
    assert all(len(found) == 1 for found in arms.values())
    assert Intervention.objects.filter(site_id=simulated.site_id, returning_shopper=True).exists()
    assert not Intervention.objects.filter(site_id=simulated.site_id, arm="").exists()
