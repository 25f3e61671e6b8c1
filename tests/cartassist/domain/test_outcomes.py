"""Outcomes from facts (domain/outcomes.py). Pure: no database.

The refresh in services/outcomes.py loads the facts and writes what changes; here the
computation alone: invitation result, chat figures, offers and grant money (ADR 0010),
conversion (ADR 0008), follow-up contacts, finality, and what counts as a change.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from cartassist.domain.attribution import SAME_CART, SAME_SHOPPER, Order
from cartassist.domain.outcomes import (
    ChatFacts,
    ContactFacts,
    GrantFacts,
    InterventionFacts,
    InvitationFacts,
    OfferFacts,
    Outcome,
    OutcomeChanges,
    OutcomeFacts,
    ShopperCart,
    compute_outcomes,
    invitation_result,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DECIDED = NOW - timedelta(hours=2)
WINDOW = timedelta(hours=72)
FOLLOW_UP_WINDOW = timedelta(days=7)

NOTHING = Outcome(
    invitation_result="",
    agent_id=None,
    first_response_seconds=None,
    chat_duration_seconds=None,
    visitor_messages=0,
    agent_messages=0,
    offers_made=0,
    offer_accepted=False,
    remedy_kind="",
    policy_id=None,
    policy_version_id=None,
    granted_amount=Decimal(0),
    remedy_cost=Decimal(0),
    converted=False,
    converted_at=None,
    order_id="",
    attribution="",
    revenue=Decimal(0),
    net_revenue=Decimal(0),
    follow_ups=0,
    outcome_final=False,
)
CART = ShopperCart(id=1, visitor_id="v1", customer_id="", shopper=1)


def intervention(**overrides: object) -> InterventionFacts:
    values: dict[str, object] = {
        "id": 10,
        "cart_id": 1,
        "decided_at": DECIDED,
        "in_experiment": True,
        "currency": "EUR",
        "stored": NOTHING,
    }
    values.update(overrides)
    return InterventionFacts(**values)  # type: ignore[arg-type]


def facts(
    *interventions: InterventionFacts,
    carts: tuple[ShopperCart, ...] = (CART,),
    contacts: tuple[ContactFacts, ...] = (),
) -> OutcomeFacts:
    return OutcomeFacts(
        attribution_window=WINDOW,
        follow_up_window=FOLLOW_UP_WINDOW,
        carts=carts,
        interventions=interventions,
        contacts=contacts,
    )


def outcome_of(*interventions: InterventionFacts, **kwargs: object) -> Outcome:
    """The new outcome of the first intervention (which must change)."""
    changes = compute_outcomes(facts(*interventions, **kwargs), now=NOW)  # type: ignore[arg-type]
    return changes.outcomes[interventions[0].id]


def order(cart_id: int = 1, order_id: str = "A-1", **overrides: object) -> Order:
    values: dict[str, object] = {
        "cart_id": cart_id,
        "order_id": order_id,
        "completed_at": DECIDED + timedelta(hours=1),
        "total": Decimal("59.90"),
        "currency": "EUR",
    }
    values.update(overrides)
    return Order(**values)  # type: ignore[arg-type]


def grant(**overrides: object) -> GrantFacts:
    values: dict[str, object] = {
        "kind": "waive_delivery",
        "amount": Decimal("4.90"),
        "currency": "EUR",
        "redeemed_at": None,
        "policy_id": 3,
        "policy_version_id": 30,
    }
    values.update(overrides)
    return GrantFacts(**values)  # type: ignore[arg-type]


# --- the invitation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "delivered_at", "expires_at", "result"),
    [
        ("pending", None, NOW + timedelta(minutes=1), "pending"),
        ("delivered", NOW, NOW + timedelta(minutes=1), "delivered"),
        ("accepted", NOW, NOW - timedelta(minutes=1), "accepted"),
        ("dismissed", NOW, NOW - timedelta(minutes=1), "dismissed"),
        ("expired", NOW - timedelta(minutes=5), NOW, "ignored"),
        ("expired", None, NOW, "undelivered"),
        # the housekeeping pass has not expired them yet
        ("pending", None, NOW, "undelivered"),
        ("delivered", NOW - timedelta(minutes=5), NOW - timedelta(minutes=1), "ignored"),
    ],
)
def test_what_became_of_the_invitation(status, delivered_at, expires_at, result):
    assert (
        invitation_result(status=status, delivered_at=delivered_at, expires_at=expires_at, now=NOW)
        == result
    )


def test_an_intervention_without_invitation_has_no_invitation_result():
    # given: a stored result that is out of date
    stale = intervention(stored=replace(NOTHING, invitation_result="pending"))
    # then
    assert outcome_of(stale).invitation_result == ""


def test_the_invitation_result_is_recorded():
    invited = intervention(
        invitation=InvitationFacts(status="accepted", delivered_at=NOW, expires_at=NOW)
    )
    assert outcome_of(invited).invitation_result == "accepted"


# --- the chat ----------------------------------------------------------------------------


def test_the_chat_figures_come_from_the_conversation():
    chat = ChatFacts(
        agent_id=7,
        created_at=DECIDED,
        first_agent_message_at=DECIDED + timedelta(seconds=42),
        closed_at=DECIDED + timedelta(minutes=5),
        visitor_messages=3,
        agent_messages=2,
    )
    result = outcome_of(intervention(chat=chat))
    assert (
        result.agent_id,
        result.first_response_seconds,
        result.chat_duration_seconds,
        result.visitor_messages,
        result.agent_messages,
    ) == (7, 42.0, 300.0, 3, 2)


def test_an_open_chat_with_no_answer_has_no_response_time_nor_duration():
    chat = ChatFacts(
        agent_id=None,
        created_at=DECIDED,
        first_agent_message_at=None,
        closed_at=None,
        visitor_messages=1,
        agent_messages=0,
    )
    result = outcome_of(intervention(chat=chat))
    assert (result.agent_id, result.first_response_seconds, result.chat_duration_seconds) == (
        None,
        None,
        None,
    )


# --- offers and grants -------------------------------------------------------------------


def test_offers_made_counts_the_offers_the_shopper_saw():
    offers = tuple(
        OfferFacts(status=status, grant=None)
        for status in ("pending_approval", "denied", "offered", "declined", "expired")
    )
    result = outcome_of(intervention(offers=offers))
    assert (result.offers_made, result.offer_accepted) == (3, False)


def test_the_first_grant_names_the_remedy_and_the_policy():
    offers = (
        OfferFacts(status="accepted", grant=grant()),
        OfferFacts(
            status="accepted", grant=grant(kind="discount", policy_id=4, policy_version_id=41)
        ),
    )
    result = outcome_of(intervention(offers=offers))
    assert (
        result.offers_made,
        result.offer_accepted,
        result.remedy_kind,
        result.policy_id,
        result.policy_version_id,
    ) == (2, True, "waive_delivery", 3, 30)


def test_remedy_cost_counts_redeemed_grants_only():
    offers = (
        OfferFacts(status="accepted", grant=grant(amount=Decimal("4.90"), redeemed_at=NOW)),
        OfferFacts(status="accepted", grant=grant(amount=Decimal("2.00"))),
        OfferFacts(status="accepted", grant=grant(amount=None, redeemed_at=NOW)),
    )
    result = outcome_of(intervention(offers=offers))
    assert (result.granted_amount, result.remedy_cost) == (Decimal("6.90"), Decimal("4.90"))


def test_a_grant_in_another_currency_adds_no_money():
    # given: the cart switched to USD after the decision, and the grant is in USD
    offers = (OfferFacts(status="accepted", grant=grant(currency="USD", redeemed_at=NOW)),)
    # then: accepted, but no EUR amount
    result = outcome_of(intervention(offers=offers))
    assert (result.offer_accepted, result.granted_amount, result.remedy_cost) == (
        True,
        Decimal(0),
        Decimal(0),
    )


# --- conversion --------------------------------------------------------------------------


def test_an_order_on_the_cart_converts_it_with_net_revenue_after_the_remedy():
    # given
    cart = replace(CART, order=order())
    offers = (OfferFacts(status="accepted", grant=grant(redeemed_at=NOW)),)
    # when
    result = outcome_of(intervention(offers=offers), carts=(cart,))
    # then
    assert (
        result.converted,
        result.converted_at,
        result.order_id,
        result.attribution,
        result.revenue,
        result.net_revenue,
    ) == (True, DECIDED + timedelta(hours=1), "A-1", SAME_CART, Decimal("59.90"), Decimal("55.00"))


def test_an_order_on_another_cart_of_the_shopper_counts():
    carts = (CART, ShopperCart(id=2, visitor_id="v2", customer_id="c", shopper=1, order=order(2)))
    result = outcome_of(intervention(), carts=carts)
    assert (result.converted, result.attribution) == (True, SAME_SHOPPER)


def test_an_order_of_another_shopper_does_not_count():
    carts = (CART, ShopperCart(id=2, visitor_id="v2", customer_id="", shopper=2, order=order(2)))
    changes = compute_outcomes(facts(intervention(), carts=carts), now=NOW)
    assert changes == OutcomeChanges(outcomes={}, newly_converted=[], contacts={})


def test_an_order_in_another_currency_does_not_count():
    carts = (replace(CART, order=order(currency="USD")),)
    changes = compute_outcomes(facts(intervention(), carts=carts), now=NOW)
    assert changes == OutcomeChanges(outcomes={}, newly_converted=[], contacts={})


def test_an_order_is_credited_once_when_two_interventions_could_take_it():
    # given: two interventions of one shopper, one order
    carts = (replace(CART, order=order()),)
    first = intervention(id=10, decided_at=DECIDED - timedelta(minutes=30))
    second = intervention(id=11)
    # when
    changes = compute_outcomes(facts(first, second, carts=carts), now=NOW)
    # then: the most recent takes it
    assert (list(changes.outcomes), changes.newly_converted) == ([11], [11])


# --- follow-up contacts ------------------------------------------------------------------


def contact(contact_id: int, at: datetime, **overrides: object) -> ContactFacts:
    values: dict[str, object] = {
        "id": contact_id,
        "visitor_id": "v1",
        "customer_id": "",
        "occurred_at": at,
        "intervention_id": None,
    }
    values.update(overrides)
    return ContactFacts(**values)  # type: ignore[arg-type]


def test_a_contact_goes_to_the_latest_intervention_in_the_experiment_before_it():
    # given: an earlier held-out intervention, a later suppressed one, a contact after both
    earlier = intervention(id=10, decided_at=DECIDED - timedelta(hours=1))
    suppressed = intervention(id=11, in_experiment=False)
    contacts = (contact(5, NOW),)
    # when
    changes = compute_outcomes(facts(earlier, suppressed, contacts=contacts), now=NOW)
    # then
    assert (changes.contacts, changes.outcomes[10].follow_ups, 11 in changes.outcomes) == (
        {5: 10},
        1,
        False,
    )


def test_a_contact_found_by_customer_id_counts():
    carts = (replace(CART, customer_id="cust-1"),)
    contacts = (contact(5, NOW, visitor_id="", customer_id="cust-1"),)
    changes = compute_outcomes(facts(intervention(), carts=carts, contacts=contacts), now=NOW)
    assert (changes.contacts, changes.outcomes[10].follow_ups) == ({5: 10}, 1)


def test_a_contact_outside_the_follow_up_window_goes_to_no_intervention():
    # given: credited before, now beyond the window (the window is a site setting)
    late = contact(5, DECIDED + FOLLOW_UP_WINDOW + timedelta(seconds=1), intervention_id=10)
    stored = replace(NOTHING, follow_ups=1)
    changes = compute_outcomes(
        facts(intervention(stored=stored), contacts=(late,)), now=NOW + FOLLOW_UP_WINDOW
    )
    assert (changes.contacts, changes.outcomes[10].follow_ups) == ({5: None}, 0)


def test_a_contact_credited_to_an_intervention_with_none_of_its_ids_stays_and_counts():
    # given: a contact without the shopper's ids, credited to the intervention earlier
    other = contact(5, NOW, visitor_id="v-other", intervention_id=10)
    # then: kept as it is, and counted
    changes = compute_outcomes(facts(intervention(), contacts=(other,)), now=NOW)
    assert (changes.contacts, changes.outcomes[10].follow_ups) == ({}, 1)


def test_a_contact_with_an_empty_visitor_id_is_not_found_by_it():
    carts = (replace(CART, visitor_id=""),)
    contacts = (contact(5, NOW, visitor_id=""),)
    changes = compute_outcomes(facts(intervention(), carts=carts, contacts=contacts), now=NOW)
    assert changes == OutcomeChanges(outcomes={}, newly_converted=[], contacts={})


# --- what changes ------------------------------------------------------------------------


def test_an_outcome_is_final_once_the_attribution_window_has_closed():
    closed = intervention(decided_at=NOW - WINDOW)
    assert outcome_of(closed).outcome_final is True


def test_an_outcome_as_stored_is_no_change():
    # given: the stored outcome is what the facts give
    converted = replace(
        NOTHING,
        converted=True,
        converted_at=DECIDED + timedelta(hours=1),
        order_id="A-1",
        attribution=SAME_CART,
        revenue=Decimal("59.900"),  # as the database returns it
        net_revenue=Decimal("59.900"),
    )
    carts = (replace(CART, order=order()),)
    # then
    changes = compute_outcomes(facts(intervention(stored=converted), carts=carts), now=NOW)
    assert changes == OutcomeChanges(outcomes={}, newly_converted=[], contacts={})


def test_a_changed_outcome_that_keeps_its_order_is_not_announced_again():
    # given: converted with A-1 already; a follow-up contact arrives
    converted = replace(
        NOTHING,
        converted=True,
        converted_at=DECIDED + timedelta(hours=1),
        order_id="A-1",
        attribution=SAME_CART,
        revenue=Decimal("59.90"),
        net_revenue=Decimal("59.90"),
    )
    carts = (replace(CART, order=order()),)
    contacts = (contact(5, NOW),)
    # when
    changes = compute_outcomes(
        facts(intervention(stored=converted), carts=carts, contacts=contacts), now=NOW
    )
    # then
    assert changes == OutcomeChanges(
        outcomes={10: replace(converted, follow_ups=1)}, newly_converted=[], contacts={5: 10}
    )


def test_another_order_is_announced():
    stored = replace(NOTHING, converted=True, order_id="OLD", revenue=Decimal("1.00"))
    carts = (replace(CART, order=order()),)
    changes = compute_outcomes(facts(intervention(stored=stored), carts=carts), now=NOW)
    assert changes.newly_converted == [10]
