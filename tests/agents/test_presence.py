"""Agent presence from heartbeats, and "is an agent able to take the chat?" for the sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from agents.models import AgentProfile, AgentStatus, Invitation
from agents.services.presence import (
    agent_heartbeat,
    agent_status_set,
    agent_with_free_capacity,
    effective_status,
    is_online,
)
from cartassist.flows.sweep import stall_sweep
from cartassist.models import Decision, Intervention, SuppressionReason
from tests.fixtures.agents import make_agent, make_conversation, make_stalled_cart
from tests.fixtures.sites import make_site

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def timeout_45s(settings):
    settings.CARTASSIST_AGENT_HEARTBEAT_TIMEOUT = timedelta(seconds=45)


def agent(status: str = AgentStatus.ONLINE, seen: timedelta | None = None) -> AgentProfile:
    """An unsaved profile whose last heartbeat was ``seen`` before NOW (None: never)."""
    return AgentProfile(
        display_name="Ada", status=status, last_heartbeat_at=None if seen is None else NOW - seen
    )


# --- online / offline, on unsaved profiles ---------------------------------------------


@pytest.mark.usefixtures("timeout_45s")
@pytest.mark.parametrize(
    ("status", "seen", "expected_status", "expected_online"),
    [
        (AgentStatus.ONLINE, timedelta(0), "online", True),
        (AgentStatus.ONLINE, timedelta(seconds=45), "online", True),
        (AgentStatus.ONLINE, timedelta(seconds=46), "offline", False),
        (AgentStatus.ONLINE, None, "offline", False),
        (AgentStatus.AWAY, timedelta(seconds=5), "away", False),
        (AgentStatus.AWAY, timedelta(minutes=5), "offline", False),
        (AgentStatus.OFFLINE, timedelta(seconds=5), "offline", False),
    ],
)
def test_status_follows_the_heartbeat(status, seen, expected_status, expected_online):
    profile = agent(status, seen)
    assert (effective_status(profile, NOW), is_online(profile, NOW)) == (
        expected_status,
        expected_online,
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("timeout_45s")
def test_heartbeat_brings_a_silent_agent_back_online(site):
    # given: online by choice, but silent for a minute
    ada = make_agent(site, now=NOW - timedelta(minutes=1))
    assert effective_status(ada, NOW) == "offline"

    # when
    agent_heartbeat(agent_id=ada.pk, now=NOW)

    # then
    ada.refresh_from_db()
    assert (ada.last_heartbeat_at, effective_status(ada, NOW)) == (NOW, "online")


@pytest.mark.django_db
def test_setting_a_status_counts_as_a_heartbeat(site):
    # given
    ada = make_agent(site, online=False)

    # when
    agent_status_set(agent_id=ada.pk, status=AgentStatus.AWAY, now=NOW)

    # then
    ada.refresh_from_db()
    assert (ada.status, ada.last_heartbeat_at) == (AgentStatus.AWAY, NOW)


# --- agent_with_free_capacity as CARTASSIST_AGENT_AVAILABILITY ---------------------------


@pytest.fixture
def presence_availability(settings):
    settings.CARTASSIST_AGENT_AVAILABILITY = "agents.services.presence.agent_with_free_capacity"


def sweep_decision(cart) -> tuple[str, str, int]:
    stall_sweep(now=timezone.now())
    intervention = Intervention.objects.get(cart=cart)
    return (
        intervention.decision,
        intervention.suppression_reason,
        Invitation.objects.filter(cart=cart).count(),
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("presence_availability")
def test_without_an_online_agent_the_sweep_suppresses_with_no_agent_available(site):
    # given: an agent exists but is offline; the site's manual switch says "available"
    make_agent(site, online=False)
    cart = make_stalled_cart(site)

    # then
    assert site.agents_available is True
    assert sweep_decision(cart) == (
        Decision.SUPPRESSED,
        SuppressionReason.NO_AGENT_AVAILABLE,
        0,
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("presence_availability")
def test_with_an_online_agent_with_a_free_seat_the_sweep_invites(site):
    # given
    make_agent(site, name="Ada")
    cart = make_stalled_cart(site)

    # then
    assert sweep_decision(cart) == (Decision.INVITED, "", 1)
    assert Invitation.objects.get(cart=cart).agent.display_name == "Ada"


@pytest.mark.django_db
@pytest.mark.usefixtures("presence_availability")
def test_agent_whose_heartbeat_stopped_is_not_available(site):
    make_agent(site, now=timezone.now() - timedelta(minutes=5))
    cart = make_stalled_cart(site)

    assert sweep_decision(cart)[:2] == (Decision.SUPPRESSED, SuppressionReason.NO_AGENT_AVAILABLE)


@pytest.mark.django_db
@pytest.mark.usefixtures("presence_availability")
def test_full_agents_are_not_available(site):
    # given
    ada = make_agent(site, capacity=1)
    make_conversation(site, visitor_id="other", agent=ada)
    cart = make_stalled_cart(site)

    # then
    assert sweep_decision(cart)[:2] == (Decision.SUPPRESSED, SuppressionReason.NO_AGENT_AVAILABLE)


@pytest.mark.django_db
@pytest.mark.usefixtures("presence_availability")
def test_away_agents_are_not_available(site):
    # given
    ada = make_agent(site)
    ada.status = AgentStatus.AWAY
    ada.save()
    cart = make_stalled_cart(site)

    # then
    assert sweep_decision(cart)[:2] == (Decision.SUPPRESSED, SuppressionReason.NO_AGENT_AVAILABLE)


@pytest.mark.django_db
def test_an_online_agent_of_another_site_does_not_count(site):
    # given
    make_agent(make_site(name="Other"))

    # then
    assert agent_with_free_capacity(site) is False
    make_agent(site)
    assert agent_with_free_capacity(site) is True


@pytest.mark.django_db
@pytest.mark.usefixtures("presence_availability")
def test_the_sweep_asks_about_presence_at_its_own_moment(site):
    # given: an agent whose last heartbeat was at NOW (long before the wall clock)
    site.holdout_share = 0
    site.save()
    make_agent(site, name="Ada", now=NOW)
    cart = make_stalled_cart(site, now=NOW)
    # when: the sweep runs at NOW, as the simulator runs it at past moments
    stall_sweep(now=NOW + timedelta(seconds=5))
    # then: the agent counted as online at that moment, so the cart was invited
    assert Intervention.objects.get(cart=cart).decision == Decision.INVITED


def site_only(site):
    """A custom check written the old way, without ``now``."""
    return site.agents_available


@pytest.mark.django_db
def test_a_check_without_now_still_works(site, settings):
    settings.CARTASSIST_AGENT_AVAILABILITY = f"{__name__}.site_only"
    site.holdout_share = 0
    site.save()
    cart = make_stalled_cart(site, now=NOW)
    stall_sweep(now=NOW + timedelta(seconds=5))
    assert Intervention.objects.get(cart=cart).decision == Decision.INVITED
