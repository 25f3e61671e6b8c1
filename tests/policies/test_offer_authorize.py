"""offer_authorize and the offer's life: every refusal leaves no offer and the budget
counters as they were; reservations are released exactly once (docs/POLICIES.md)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from agents.errors import ChatError
from policies.models import (
    AuditAction,
    AuditEntry,
    BudgetCounter,
    BudgetPeriod,
    Grant,
    Offer,
    OfferStatus,
)
from policies.services.context import period_starts
from policies.services.offers import (
    OfferRefused,
    offer_authorize,
    offer_decline,
    offer_review,
    offers_expire,
    reservation_release,
)
from tests.fixtures.agents import make_agent, receive
from tests.fixtures.policies import counters, make_chat, make_policy, offer_rows
from tests.fixtures.sites import make_site

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("chat_settings")]

DAY, MONTH, AGENT_DAY = BudgetPeriod.DAY, BudgetPeriod.MONTH, BudgetPeriod.AGENT_DAY


def authorize(chat, amount="9.90", kind="waive_delivery", agent=None, now=None):
    return offer_authorize(
        agent=agent or chat.agent,
        conversation_id=chat.conversation.pk,
        kind=kind,
        amount=amount,
        now=now or timezone.now(),
    )


def spend(policy, amount: str, *, period=DAY, agent_key=0, now=None) -> None:
    today, month = period_starts(now or timezone.now(), policy.site.timezone)
    BudgetCounter.objects.create(
        policy=policy,
        period=period,
        period_start=month if period == MONTH else today,
        agent_key=agent_key,
        spent=Decimal(amount),
    )


def assert_refused(exc_info, message: str) -> None:
    assert exc_info.value.code == "offer_refused"
    assert exc_info.value.message == message


def test_offer_within_bound_reserves_its_amount_on_every_counter(site):
    # given
    policy = make_policy(site, daily_budget=Decimal("100.00"))
    chat = make_chat(site)

    # when
    offer = authorize(chat, amount="9.90")

    # then
    assert offer_rows() == [("waive_delivery", OfferStatus.OFFERED, Decimal("9.900"))]
    assert (offer.total_before, offer.total_after) == (Decimal("69.900"), Decimal("60.000"))
    assert offer.policy_version_id == policy.current_version_id
    assert counters(policy) == {
        (AGENT_DAY, chat.agent.pk): Decimal("9.900"),
        (DAY, 0): Decimal("9.900"),
        (MONTH, 0): Decimal("9.900"),
    }
    assert list(AuditEntry.objects.values_list("action", "outcome")) == [
        (AuditAction.OFFER_CREATED, "allowed by “Free delivery rescue” v1")
    ]


def test_over_limit_amount_is_refused_and_nothing_changes(site):
    # given
    policy = make_policy(site)  # waive up to 10.00; the fee is 9.90
    chat = make_chat(site)

    # when
    with pytest.raises(OfferRefused) as exc_info:
        authorize(chat, amount="9.91")

    # then
    assert_refused(
        exc_info, "9.91 EUR is above the 9.90 EUR that policy “Free delivery rescue” allows here."
    )
    assert offer_rows() == []
    assert counters(policy) == {}
    assert list(AuditEntry.objects.values_list("action", "amount")) == [
        (AuditAction.OFFER_REFUSED, None)
    ]


def test_amount_with_more_decimals_than_the_currency_is_refused(site):
    # given
    policy = make_policy(site)
    chat = make_chat(site)

    # when
    with pytest.raises(OfferRefused) as exc_info:
        authorize(chat, amount="1.005")

    # then
    assert_refused(exc_info, "Amount: EUR amounts have at most 2 decimal places.")
    assert offer_rows() == []
    assert counters(policy) == {}


def test_expired_policy_is_refused_with_its_end(site):
    # given
    ended = timezone.now() - timedelta(hours=1)
    policy = make_policy(site, valid_until=ended)
    chat = make_chat(site)

    # when
    with pytest.raises(OfferRefused) as exc_info:
        authorize(chat)

    # then
    assert_refused(exc_info, f"Policy “Free delivery rescue” ended on {ended.isoformat()}.")
    assert offer_rows() == []
    assert counters(policy) == {}


def test_conversation_of_another_site_is_not_found(site):
    # given
    policy = make_policy(site)
    chat = make_chat(site)
    other_site = make_site(name="Other Shop")
    make_policy(other_site)
    stranger = make_agent(other_site, name="Eve")

    # when
    with pytest.raises(ChatError) as exc_info:
        authorize(chat, agent=stranger)

    # then
    assert (exc_info.value.code, exc_info.value.message) == ("not_found", "No such conversation.")
    assert offer_rows() == []
    assert counters(policy) == {}
    assert AuditEntry.objects.count() == 0  # nothing to audit against another site's cart


def test_exhausted_daily_budget_is_refused_and_counters_stay(site):
    # given
    policy = make_policy(site, daily_budget=Decimal("20.00"))
    spend(policy, "20.00")
    chat = make_chat(site)

    # when
    with pytest.raises(OfferRefused) as exc_info:
        authorize(chat)

    # then
    assert_refused(
        exc_info,
        "Policy “Free delivery rescue”’s daily budget is used up (20.00 EUR of 20.00 EUR).",
    )
    assert offer_rows() == []
    assert counters(policy) == {(DAY, 0): Decimal("20.000")}


def test_what_is_left_of_the_budget_bounds_the_offer(site):
    # given
    policy = make_policy(site, daily_budget=Decimal("20.00"))
    spend(policy, "15.00")
    chat = make_chat(site)

    # when
    with pytest.raises(OfferRefused) as exc_info:
        authorize(chat, amount="5.01")
    offer = authorize(chat, amount="5.00")

    # then
    assert_refused(
        exc_info, "5.01 EUR is above the 5.00 EUR that policy “Free delivery rescue” allows here."
    )
    assert offer.amount == Decimal("5.00")
    assert counters(policy)[(DAY, 0)] == Decimal("20.000")


def test_per_agent_daily_cap_reached_refuses_that_agent_only(site):
    # given
    policy = make_policy(site, per_agent_daily_cap=Decimal("9.90"))
    first = make_chat(site)
    authorize(first)
    second = make_chat(site, agent=first.agent, visitor_id="visitor-2")
    colleague_chat = make_chat(site, visitor_id="visitor-3")

    # when
    with pytest.raises(OfferRefused) as exc_info:
        authorize(second, amount="1.00")
    colleague_offer = authorize(colleague_chat, amount="9.90")

    # then
    assert_refused(
        exc_info, "You have used your daily 9.90 EUR under policy “Free delivery rescue”."
    )
    assert Offer.objects.filter(conversation=second.conversation).count() == 0
    assert colleague_offer.status == OfferStatus.OFFERED
    assert counters(policy) == {
        (AGENT_DAY, first.agent.pk): Decimal("9.900"),
        (AGENT_DAY, colleague_chat.agent.pk): Decimal("9.900"),
        (DAY, 0): Decimal("19.800"),
        (MONTH, 0): Decimal("19.800"),
    }


def test_above_approval_threshold_waits_for_a_supervisor_who_approves(site):
    # given
    policy = make_policy(site, approval_above=Decimal("5.00"))
    chat = make_chat(site)
    supervisor = make_agent(site, name="Sam", supervisor=True)

    # when
    pending = authorize(chat, amount="9.90")
    approved = offer_review(
        supervisor=supervisor, offer_id=pending.pk, approve=True, now=timezone.now()
    )

    # then
    assert pending.status == OfferStatus.PENDING_APPROVAL
    assert (approved.status, approved.approved_by_id) == (OfferStatus.OFFERED, supervisor.pk)
    assert counters(policy)[(DAY, 0)] == Decimal("9.900")
    assert list(AuditEntry.objects.order_by("pk").values_list("action", flat=True)) == [
        AuditAction.APPROVAL_REQUESTED,
        AuditAction.OFFER_APPROVED,
    ]


def test_at_the_approval_threshold_no_approval_is_needed(site):
    # given
    make_policy(site, approval_above=Decimal("9.90"))
    chat = make_chat(site)

    # when
    offer = authorize(chat, amount="9.90")

    # then
    assert offer.status == OfferStatus.OFFERED


def test_supervisor_denial_releases_the_budget(site):
    # given
    policy = make_policy(site, approval_above=Decimal("5.00"))
    chat = make_chat(site)
    supervisor = make_agent(site, name="Sam", supervisor=True)
    pending = authorize(chat, amount="9.90")

    # when
    denied = offer_review(
        supervisor=supervisor, offer_id=pending.pk, approve=False, now=timezone.now()
    )

    # then
    assert denied.status == OfferStatus.DENIED
    assert counters(policy) == {
        (AGENT_DAY, chat.agent.pk): Decimal("0.000"),
        (DAY, 0): Decimal("0.000"),
        (MONTH, 0): Decimal("0.000"),
    }
    assert Offer.objects.get(pk=pending.pk).released_at is not None


def test_an_agent_cannot_review_offers(site):
    # given
    policy = make_policy(site, approval_above=Decimal("5.00"))
    chat = make_chat(site)
    pending = authorize(chat, amount="9.90")

    # when
    with pytest.raises(ChatError) as exc_info:
        offer_review(supervisor=chat.agent, offer_id=pending.pk, approve=True, now=timezone.now())

    # then
    assert exc_info.value.code == "forbidden"
    assert offer_rows() == [("waive_delivery", OfferStatus.PENDING_APPROVAL, Decimal("9.900"))]
    assert counters(policy)[(DAY, 0)] == Decimal("9.900")


def test_decline_releases_exactly_once(site):
    # given
    policy = make_policy(site)
    chat = make_chat(site)
    offer = authorize(chat, amount="9.90")
    authorize(make_chat(site, agent=chat.agent, visitor_id="visitor-2"), amount="2.00")
    now = timezone.now()

    # when
    declined = offer_decline(site_id=site.pk, visitor_id="visitor-1", offer_id=offer.pk, now=now)
    released_again = reservation_release(offer=declined, now=now)
    declined_again = offer_decline(
        site_id=site.pk, visitor_id="visitor-1", offer_id=offer.pk, now=now
    )

    # then
    assert declined.status == declined_again.status == OfferStatus.DECLINED
    assert released_again is False
    assert counters(policy) == {
        (AGENT_DAY, chat.agent.pk): Decimal("2.000"),
        (DAY, 0): Decimal("2.000"),
        (MONTH, 0): Decimal("2.000"),
    }
    assert Grant.objects.count() == 0


def test_expiry_releases_exactly_once(site):
    # given
    policy = make_policy(site)
    chat = make_chat(site)
    offer = authorize(chat, amount="9.90")
    later = offer.expires_at + timedelta(seconds=1)

    # when
    first = offers_expire(now=later)
    second = offers_expire(now=later)
    released_again = reservation_release(offer=offer, now=later)

    # then
    assert (first.done, first.failed, second.done, released_again) == (1, 0, 0, False)
    assert Offer.objects.get(pk=offer.pk).status == OfferStatus.EXPIRED
    assert counters(policy)[(DAY, 0)] == Decimal("0.000")
    assert counters(policy)[(MONTH, 0)] == Decimal("0.000")


def test_a_declined_offer_cannot_be_accepted_later(site):
    # given
    make_policy(site)
    chat = make_chat(site)
    offer = authorize(chat, amount="9.90")
    offer_decline(site_id=site.pk, visitor_id="visitor-1", offer_id=offer.pk, now=timezone.now())

    # when
    from policies.services.offers import offer_accept

    with pytest.raises(ChatError) as exc_info:
        offer_accept(site_id=site.pk, visitor_id="visitor-1", offer_id=offer.pk, now=timezone.now())

    # then
    assert exc_info.value.code == "invalid_state"
    assert Grant.objects.count() == 0


# --- over the console socket ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_crafted_offer_beyond_the_bound_over_the_console_socket_is_refused(sockets):
    # given
    site = await database_sync_to_async(make_site)()
    policy = await database_sync_to_async(make_policy)(site)
    chat = await database_sync_to_async(make_chat)(site)
    ws, _ = await sockets.console(chat.agent)

    # when
    await ws.send_json_to(
        {
            "type": "offer.create",
            "conversation_id": chat.conversation.pk,
            "kind": "waive_delivery",
            "amount": "50.00",
        }
    )
    frame = await receive(ws, skip=frozenset({"queue", "presence", "approvals"}))

    # then
    assert frame == {
        "type": "error",
        "code": "offer_refused",
        "message": "50.00 EUR is above the 9.90 EUR that policy “Free delivery rescue” "
        "allows here.",
    }
    assert await database_sync_to_async(offer_rows)() == []
    assert await database_sync_to_async(counters)(policy) == {}
