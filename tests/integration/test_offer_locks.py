"""Offer row locks on PostgreSQL (docs/adr/0009): an authorisation locks only the rows it
means, so ingestion for the site goes on meanwhile; authorise, decline, expire, accept and
review racing under one policy never deadlock and never let the budget drift."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError, connection
from django.db.models import Sum
from django.utils import timezone

import policies.services.offers as offers_module
from agents.errors import ChatError
from agents.models import AgentProfile
from cartassist.api.serializers import validate_events
from cartassist.carts.services.ingest import cart_events_ingest
from cartassist.models import Cart, EventSource, Site
from policies.models import BudgetCounter, BudgetPeriod, Offer, OfferStatus, Policy
from policies.services.offers import (
    OfferRefused,
    offer_accept,
    offer_authorize,
    offer_decline,
    offer_review,
    offers_expire,
)
from tests.fixtures.agents import make_agent, make_stalled_cart
from tests.fixtures.carts import make_event
from tests.fixtures.policies import Chat, make_chat, make_policy
from tests.fixtures.sites import make_site, make_stall_rules
from tests.integration.conftest import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("chat_settings"),
]

ROUNDS = 200
JOBS = 7  # the transitions of one round, below (_jobs)
LIVE = [OfferStatus.OFFERED, OfferStatus.PENDING_APPROVAL, OfferStatus.ACCEPTED]
FINISHED = [
    OfferStatus.DECLINED,
    OfferStatus.DENIED,
    OfferStatus.EXPIRED,
    OfferStatus.REFUSED_ON_ACCEPT,
]


class Worker(threading.Thread):
    """Runs ``job`` on its own thread and database connection; keeps its result, its
    error and its backend pid (to see in pg_stat_activity whether it waits on a lock)."""

    def __init__(self, job: Callable[[], Any]) -> None:
        super().__init__()
        self.job = job
        self.pid: int | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pid = cursor.fetchone()[0]
            self.result = self.job()
        except BaseException as exc:
            self.error = exc
        finally:
            self.finished.set()
            connection.close()


def waiting_on_a_lock(worker: Worker) -> bool:
    if worker.pid is None:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [worker.pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def finished_or_blocked(worker: Worker) -> str:
    """Poll until ``worker`` has finished ("finished") or waits on a lock ("blocked")."""
    return wait_until(
        lambda: (
            "finished"
            if worker.finished.is_set()
            else "blocked"
            if waiting_on_a_lock(worker)
            else ""
        ),
        what="the ingestion to finish or to wait on a lock",
    )


def ingest(site: Site, *events: dict[str, Any]) -> list[str]:
    fresh = Site.objects.get(pk=site.pk)
    valid = validate_events(list(events), site=fresh, trusted=False, now=timezone.now())
    return cart_events_ingest(
        site=fresh, events=valid, source=EventSource.WIDGET, now=timezone.now()
    ).stored


def test_ingestion_for_the_site_proceeds_while_an_authorisation_holds_its_locks(
    postgres: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: an agent's offer held open inside its transaction, after every lock it takes
    site = make_site()
    make_stall_rules(site)
    make_policy(site)
    chat = make_chat(site)
    other = make_stalled_cart(site, visitor_id="visitor-2")
    holding, release = threading.Event(), threading.Event()
    publish = offers_module.offer_publish

    def publish_then_hold(offer: Offer) -> None:
        publish(offer)
        holding.set()
        release.wait(timeout=60)

    monkeypatch.setattr(offers_module, "offer_publish", publish_then_hold)
    authorising = Worker(
        lambda: offer_authorize(
            agent=chat.agent,
            conversation_id=chat.conversation.pk,
            kind="waive_delivery",
            amount="9.90",
            now=timezone.now(),
        )
    )
    authorising.start()
    workers = [authorising]
    try:
        wait_until(holding.is_set, what="the authorisation to hold its locks")

        # when: the storefront sends an event for the cart being offered on, then events
        # for another cart of the site and for a new one
        same_cart = Worker(
            lambda: ingest(
                site,
                make_event(
                    "checkout_step",
                    id="evt-same",
                    cart_id=chat.cart.external_id,
                    visitor_id="visitor-1",
                ),
            )
        )
        workers.append(same_cart)
        same_cart.start()
        same_cart_state = finished_or_blocked(same_cart)
        other_carts = Worker(
            lambda: ingest(
                site,
                make_event(
                    "checkout_step",
                    id="evt-other",
                    cart_id=other.external_id,
                    visitor_id="visitor-2",
                ),
                make_event(
                    "cart_updated", id="evt-new", cart_id="cart-new", visitor_id="visitor-3"
                ),
            )
        )
        workers.append(other_carts)
        other_carts.start()
        other_carts_state = finished_or_blocked(other_carts)
    finally:
        release.set()
        for worker in workers:
            worker.join(timeout=60)

    # then: only the cart being offered on waits for the authorisation
    assert (same_cart_state, other_carts_state) == ("blocked", "finished")
    assert (authorising.error, same_cart.error, other_carts.error) == (None, None, None)
    assert other_carts.result == ["evt-other", "evt-new"]
    assert same_cart.result == ["evt-same"]
    assert Offer.objects.get().status == OfferStatus.OFFERED
    assert Cart.objects.filter(site=site).count() == 3


# --- many rounds of racing transitions under one policy ------------------------------------


class Round:
    """The offers one round races on, made before the round starts."""

    def __init__(self, site: Site, agents: list[AgentProfile], number: int) -> None:
        def chat(agent: AgentProfile, name: str) -> Chat:
            return make_chat(site, agent=agent, visitor_id=f"visitor-{number}-{name}")

        self.to_accept = chat(agents[0], "accept")
        self.to_decline = chat(agents[1], "decline")
        self.to_review = chat(agents[0], "review")
        self.to_offer = [chat(agents[1], "offer-1"), chat(agents[0], "offer-2")]
        now = timezone.now()
        self.accepted = _offer(self.to_accept, "4.00", now)
        self.declined = _offer(self.to_decline, "3.00", now)
        self.reviewed = _offer(self.to_review, "8.00", now)  # above approval: pending
        if number % 2:  # the cart changes under the offer: acceptance is refused
            Cart.objects.filter(pk=self.to_accept.cart.pk).update(subtotal=Decimal("20.00"))
        self.approve = number % 3 == 0
        self.expire_at = now + django_settings.CARTASSIST_OFFER_TTL + timedelta(seconds=1)


def _offer(chat: Chat, amount: str, now: Any) -> Offer:
    return offer_authorize(
        agent=chat.agent,
        conversation_id=chat.conversation.pk,
        kind="waive_delivery",
        amount=amount,
        now=now,
    )


def _jobs(site: Site, supervisor: AgentProfile, r: Round) -> list[Callable[[], Any]]:
    visitor = r.to_accept.conversation.visitor_id
    return [
        lambda: offer_accept(
            site_id=site.pk, visitor_id=visitor, offer_id=r.accepted.pk, now=timezone.now()
        ),
        lambda: offer_decline(
            site_id=site.pk,
            visitor_id=r.to_decline.conversation.visitor_id,
            offer_id=r.declined.pk,
            now=timezone.now(),
        ),
        lambda: offer_review(
            supervisor=supervisor, offer_id=r.reviewed.pk, approve=r.approve, now=timezone.now()
        ),
        lambda: _offer(r.to_offer[0], "2.00", timezone.now()),
        lambda: _offer(r.to_offer[1], "9.00", timezone.now()),
        # A second offer on the cart being accepted: the same cart lock, the same counters.
        lambda: _offer(r.to_accept, "1.00", timezone.now()),
        lambda: offers_expire(now=r.expire_at),
    ]


def expected(outcome: Any) -> bool:
    """A transition's result, a policy or budget refusal, or a lost race ("no longer
    open"); an expiry pass must not have failed on any offer."""
    if isinstance(outcome, OfferRefused):
        return True
    if isinstance(outcome, ChatError):
        return outcome.code == "invalid_state"
    if isinstance(outcome, BaseException):
        return False
    return not getattr(outcome, "failed", 0)


def reserved_by_live_offers(policy: Policy, **where: Any) -> Decimal:
    live = Offer.objects.filter(policy_version__policy=policy, status__in=LIVE, **where)
    return live.aggregate(total=Sum("amount"))["total"] or Decimal(0)


def spent(policy: Policy, period: str, **where: Any) -> Decimal:
    counters = BudgetCounter.objects.filter(policy=policy, period=period, **where)
    return counters.aggregate(total=Sum("spent"))["total"] or Decimal(0)


def test_offer_transitions_racing_under_one_policy_never_deadlock_nor_drift(
    postgres: None,
) -> None:
    # given: one policy (approval above 5.00), two agents and a supervisor; each round
    # an offer to accept, one to decline, one to review, two chats to offer in
    site = make_site()
    make_stall_rules(site)
    policy = make_policy(site, approval_above=Decimal("5.00"), daily_budget=Decimal("1000000.00"))
    agents = [
        make_agent(site, name="Ada", capacity=1000),
        make_agent(site, name="Bob", capacity=1000),
    ]
    supervisor = make_agent(site, name="Sam", supervisor=True)
    start = threading.Barrier(JOBS + 1)
    done = threading.Barrier(JOBS + 1)
    current: list[Round] = []
    outcomes: list[list[Any]] = []

    def racer(index: int) -> None:
        try:
            for _ in range(ROUNDS):
                start.wait(timeout=60)
                try:
                    outcome: Any = _jobs(site, supervisor, current[-1])[index]()
                except Exception as exc:  # judged below: only lost races are expected
                    outcome = exc
                outcomes[-1][index] = outcome
                done.wait(timeout=60)
        except threading.BrokenBarrierError:
            pass  # the test thread gave up on the round (it fails there)
        finally:
            connection.close()

    racers = [threading.Thread(target=racer, args=(i,)) for i in range(JOBS)]
    for thread in racers:
        thread.start()

    # when: every round, the seven transitions start at once
    rounds_without_deadlock = 0
    unexpected: list[tuple[int, Any]] = []
    try:
        for number in range(1, ROUNDS + 1):
            current.append(Round(site, agents, number))
            outcomes.append([None] * JOBS)
            start.wait(timeout=60)
            done.wait(timeout=120)
            deadlocked = False
            for outcome in outcomes[-1]:
                if isinstance(outcome, OperationalError) and "deadlock" in str(outcome):
                    deadlocked = True
                if not expected(outcome):
                    unexpected.append((number, outcome))
            rounds_without_deadlock += not deadlocked
    except BaseException:
        start.abort()  # frees the racers
        done.abort()
        raise
    finally:
        for thread in racers:
            thread.join(timeout=60)

    # then: no deadlock, no error; every counter holds exactly the live reservations
    assert rounds_without_deadlock == ROUNDS
    assert unexpected == []
    assert not Offer.objects.filter(status__in=FINISHED, released_at__isnull=True).exists()
    assert not Offer.objects.filter(status__in=LIVE, released_at__isnull=False).exists()
    for period in (BudgetPeriod.DAY, BudgetPeriod.MONTH):
        assert spent(policy, period) == reserved_by_live_offers(policy), period
    for agent in agents:
        assert spent(policy, BudgetPeriod.AGENT_DAY, agent_key=agent.pk) == (
            reserved_by_live_offers(policy, agent=agent)
        )
    statuses = set(Offer.objects.values_list("status", flat=True))
    assert statuses >= {OfferStatus.ACCEPTED, OfferStatus.DECLINED, OfferStatus.EXPIRED}
