"""The offer's status changes (policies/services/offers.py, ``OFFER_TRANSITIONS`` and
``offer_transition``): one table says which moves exist, what each records in the audit
log and whether it gives the reservation back (docs/adr/0009)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from agents.errors import ChatError
from policies.models import (
    UNACCEPTED_FINISHED,
    AuditEntry,
    Offer,
    OfferStatus,
)
from policies.services.offers import (
    OFFER_TRANSITIONS,
    offer_authorize,
    offer_decline,
    offer_transition,
)
from tests.fixtures.policies import counters, make_chat, make_policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("chat_settings")]


def test_every_finish_without_acceptance_releases_the_budget_and_no_other_move_does():
    # given / when
    releasing = {to for (_, to), move in OFFER_TRANSITIONS.items() if move.releases}
    keeping = {to for (_, to), move in OFFER_TRANSITIONS.items() if not move.releases}
    granting = [pair for pair, move in OFFER_TRANSITIONS.items() if move.issues_grant]

    # then
    assert releasing == set(UNACCEPTED_FINISHED)
    assert keeping == {OfferStatus.OFFERED, OfferStatus.ACCEPTED}
    assert granting == [(OfferStatus.OFFERED, OfferStatus.ACCEPTED)]


def test_no_move_leaves_a_finished_offer():
    # given
    finished = {*UNACCEPTED_FINISHED, OfferStatus.ACCEPTED}

    # when
    sources = {source for source, _ in OFFER_TRANSITIONS}

    # then
    assert sources == {OfferStatus.PENDING_APPROVAL, OfferStatus.OFFERED}
    assert not sources & finished


def test_declining_an_offer_waiting_for_approval_is_refused_and_changes_nothing(site):
    # given: an offer above the approval threshold, holding 9.90 of the budget
    policy = make_policy(site, approval_above=Decimal("5.00"))
    chat = make_chat(site)
    offer = offer_authorize(
        agent=chat.agent, conversation_id=chat.conversation.pk, kind="waive_delivery",
        amount="9.90", now=timezone.now(),
    )  # fmt: skip
    held, entries = counters(policy), AuditEntry.objects.count()

    # when
    with pytest.raises(ChatError) as refused:
        offer_decline(
            site_id=site.pk, visitor_id="visitor-1", offer_id=offer.pk, now=timezone.now()
        )

    # then
    assert (refused.value.code, refused.value.message) == (
        "invalid_state",
        "This offer is no longer open.",
    )
    stored = Offer.objects.get(pk=offer.pk)
    assert (stored.status, stored.responded_at, stored.released_at) == (
        OfferStatus.PENDING_APPROVAL,
        None,
        None,
    )
    assert counters(policy) == held
    assert AuditEntry.objects.count() == entries


def test_an_accepted_offer_cannot_expire(site):
    # given
    make_policy(site)
    chat = make_chat(site)
    offer = offer_authorize(
        agent=chat.agent, conversation_id=chat.conversation.pk, kind="waive_delivery",
        amount="9.90", now=timezone.now(),
    )  # fmt: skip
    Offer.objects.filter(pk=offer.pk).update(status=OfferStatus.ACCEPTED)
    offer.refresh_from_db()
    entries = AuditEntry.objects.count()

    # when
    with pytest.raises(ChatError) as refused:
        offer_transition(
            offer=offer, status=OfferStatus.EXPIRED, actor="system", outcome="expired",
            now=timezone.now(),
        )  # fmt: skip

    # then
    assert refused.value.code == "invalid_state"
    assert Offer.objects.get(pk=offer.pk).status == OfferStatus.ACCEPTED
    assert AuditEntry.objects.count() == entries
