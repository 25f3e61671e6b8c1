"""Concurrent stall sweepers on PostgreSQL (disjoint carts, the frequency cap), and the
sweep's access path (its index)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.models import Invitation
from bench.sweep import _QueryCounter
from cartassist.flows.sweep import SweepResult, stall_sweep
from cartassist.models import Cart, CartStatus, Intervention, Site, Visitor
from tests.fixtures.sites import make_site, make_stall_rules

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SWEEPERS = 3
STALLED_CARTS = 300
BATCH_SIZE = 25

# Set by the `rendezvous` fixture; read by the availability check below, which the sweep
# calls inside each batch's transaction, after it has claimed (row-locked) its carts.
_rendezvous: threading.Barrier | None = None
_thread = threading.local()


def available_after_rendezvous(site: Site) -> bool:
    """CARTASSIST_AGENT_AVAILABILITY for these tests: holds each sweeper inside its first
    batch until every sweeper has claimed a first batch.

    So all sweepers hold row locks at the same moment. With ``SKIP LOCKED`` they claimed
    disjoint carts and meet here; a sweeper that blocked on another's rows instead would
    never arrive, and the barrier breaks (the test fails, it does not hang).
    """
    if _rendezvous is not None and not getattr(_thread, "met", False):
        _thread.met = True
        _rendezvous.wait(timeout=30)
    return True


@pytest.fixture
def rendezvous(settings: Any, monkeypatch: pytest.MonkeyPatch) -> threading.Barrier:
    barrier = threading.Barrier(SWEEPERS)
    monkeypatch.setattr(f"{__name__}._rendezvous", barrier)
    settings.CARTASSIST_AGENT_AVAILABILITY = f"{__name__}.available_after_rendezvous"
    return barrier


def make_stalled_carts(site: Site, count: int, *, deadline: Any) -> list[Cart]:
    return Cart.objects.bulk_create(
        Cart(
            site=site,
            external_id=f"cart-{i}",
            visitor_id=f"visitor-{i}",  # one cart per visitor: the frequency cap stays out
            currency="EUR",
            subtotal=60,
            stage="shipping",
            state_at=deadline - timedelta(minutes=10),
            last_activity_at=deadline - timedelta(minutes=10),
            stall_deadline=deadline,
        )
        for i in range(count)
    )


def run_concurrently(sweep: Any, count: int) -> tuple[list[SweepResult], list[BaseException]]:
    """Run ``sweep()`` on ``count`` threads at once, each on its own DB connection."""
    results: list[SweepResult] = []
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def worker() -> None:
        try:
            start.wait(timeout=30)
            results.append(sweep())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()  # this thread's connection, not the test's

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a sweeper never finished"
    return results, errors


def test_concurrent_sweepers_record_exactly_one_intervention_per_stalled_cart(
    postgres: None, rendezvous: threading.Barrier
) -> None:
    # given
    now = timezone.now()
    site = make_site()
    make_stall_rules(site)
    carts = make_stalled_carts(site, STALLED_CARTS, deadline=now - timedelta(minutes=1))
    # when
    results, errors = run_concurrently(
        lambda: stall_sweep(now=now, batch_size=BATCH_SIZE), SWEEPERS
    )
    # then
    assert errors == []
    assert len(results) == SWEEPERS
    claimed = [result.claimed for result in results]
    assert sum(claimed) == STALLED_CARTS  # no cart claimed twice, none missed
    assert min(claimed) >= BATCH_SIZE  # every sweeper took a share of the work
    per_cart = Counter(Intervention.objects.values_list("cart_id", flat=True))
    assert len(per_cart) == STALLED_CARTS
    assert set(per_cart.values()) == {1}
    assert set(per_cart) == {cart.pk for cart in carts}
    assert Counter(Intervention.objects.values_list("decision", flat=True)) == {
        "invited": STALLED_CARTS
    }
    assert Cart.objects.filter(status=CartStatus.STALLED, stall_deadline=None).count() == (
        STALLED_CARTS
    )


def test_sweep_claims_through_the_partial_deadline_index(postgres: None) -> None:
    # given: many carts awaiting nothing, a few past their deadline
    now = timezone.now()
    site = make_site()
    make_stall_rules(site)
    quiet = make_stalled_carts(site, 5000, deadline=now)
    Cart.objects.filter(pk__in=[c.pk for c in quiet]).update(stall_deadline=None)
    Cart.objects.bulk_create(
        Cart(
            site=site,
            external_id=f"stalled-{i}",
            visitor_id=f"stalled-visitor-{i}",
            currency="EUR",
            state_at=now - timedelta(hours=1),
            last_activity_at=now - timedelta(hours=1),
            stall_deadline=now - timedelta(minutes=i + 1),
        )
        for i in range(40)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cartassist_cart")
    # when
    with CaptureQueriesContext(connection) as queries:
        result = stall_sweep(now=now, batch_size=BATCH_SIZE)
    claims = [q["sql"] for q in queries.captured_queries if "SKIP LOCKED" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {claims[0]}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # then
    assert result.claimed == 40
    assert len(claims) == 2  # a full batch of 25, then the remaining 15
    assert "cart_pending_stall_deadline" in plan, plan
    assert "Seq Scan" not in plan, plan


SAME_VISITOR_ROUNDS = 30


def test_concurrent_sweepers_invite_a_visitor_with_two_stalled_carts_once(
    postgres: None, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: each round, a new visitor with two stalled carts, and two sweepers that
    # each claim one of them (batch of one) and read the visitor before either decides
    settings.CARTASSIST_AGENT_AVAILABILITY = f"{__name__}.available_after_rendezvous"
    now = timezone.now()
    site = make_site()
    make_stall_rules(site)
    claimed_per_round = []
    for round_number in range(SAME_VISITOR_ROUNDS):
        Cart.objects.bulk_create(
            Cart(
                site=site,
                external_id=f"cart-{round_number}-{tab}",
                visitor_id=f"visitor-{round_number}",
                currency="EUR",
                subtotal=60,
                stage="shipping",
                state_at=now - timedelta(minutes=10),
                last_activity_at=now - timedelta(minutes=10),
                stall_deadline=now - timedelta(minutes=1),
            )
            for tab in ("a", "b")
        )
        monkeypatch.setattr(f"{__name__}._rendezvous", threading.Barrier(2))
        # when
        results, errors = run_concurrently(lambda: stall_sweep(now=now, batch_size=1), 2)
        assert errors == []
        claimed_per_round.append(sorted(result.claimed for result in results))

    # then: every round both sweepers decided a cart of the visitor; one invitation each
    assert claimed_per_round == [[1, 1]] * SAME_VISITOR_ROUNDS
    per_visitor = Counter(
        Intervention.objects.values_list("visitor_id", "decision", "suppression_reason")
    )
    assert per_visitor == {
        (f"visitor-{n}", decision, reason): 1
        for n in range(SAME_VISITOR_ROUNDS)
        for decision, reason in (("invited", ""), ("suppressed", "frequency_cap"))
    }
    assert Counter(Invitation.objects.values_list("visitor_id", flat=True)) == {
        f"visitor-{n}": 1 for n in range(SAME_VISITOR_ROUNDS)
    }
    assert set(Visitor.objects.values_list("last_invited_at", flat=True)) == {now}


def test_the_sweep_bench_finds_the_claim_the_sweep_runs(postgres: None) -> None:
    # given: a due cart, and the execute wrapper `python -m bench --parts sweep` counts the
    # sweep's queries with and reads the claim from (for its EXPLAIN)
    site = make_site()
    make_stall_rules(site)
    now = timezone.now()
    make_stalled_carts(site, 1, deadline=now - timedelta(minutes=1))
    counter = _QueryCounter()
    # when
    with connection.execute_wrapper(counter):
        stall_sweep(now=now, batch_size=BATCH_SIZE)
    # then: it found the claim, the statement that locks the due carts
    sql, _params = counter.claim()
    assert "cartassist_cart" in sql
    assert "SKIP LOCKED" in sql
