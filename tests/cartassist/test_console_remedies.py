"""The console's remedies panel (``cartassist/flows/console.py::console_remedies``): a
fixed number of queries whatever the number of policies (one statement on PostgreSQL,
ADR 0026; the ORM's three on SQLite), the chat's offers and the cart's live ones read
together (issue 13, ADR 0022), and a policy change seen by the next panel exactly when
it commits."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cartassist.core.sql import prepared_statements_forget
from cartassist.flows.console import console_remedies
from cartassist.models import Cart, CartStatus
from policies.models import BudgetCounter, BudgetPeriod, Offer, OfferStatus, Policy
from policies.services.context import period_starts
from policies.services.offers import offer_authorize
from policies.services.versions import policy_version_create
from policies.specs import policy_caches_clear
from tests.fixtures.agents import make_conversation, make_intervention, make_stalled_cart
from tests.fixtures.policies import Chat, make_chat, make_policy

# The panel's statements: on PostgreSQL one (panel_facts), on SQLite the ORM's three (the
# chat with its cart, site, invitation and policy-set token; the shopper; the offers).
PANEL_QUERIES = 1 if connection.vendor == "postgresql" else 3

# Real commits: the policy cache keeps nothing a test's open transaction changed.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("chat_settings")]


def offer(chat: Chat, *, conversation_id: int, kind: str, amount: str) -> Offer:
    """The chat's agent offers ``kind`` up to ``amount`` in the chat ``conversation_id``."""
    return offer_authorize(
        agent=chat.agent,
        conversation_id=conversation_id,
        kind=kind,
        amount=amount,
        now=timezone.now(),
    )


def panel_queries(chat: Chat) -> list[str]:
    console_remedies(agent=chat.agent, conversation_id=chat.conversation.pk, now=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        console_remedies(agent=chat.agent, conversation_id=chat.conversation.pk, now=timezone.now())
    return [query["sql"] for query in queries.captured_queries]


@pytest.mark.parametrize("policies", [1, 40])
def test_the_panel_makes_a_fixed_number_of_queries_whatever_the_number_of_policies(site, policies):
    # given: policies without budgets (no spend to read), one offer already made
    for n in range(policies):
        make_policy(site, name=f"Policy {n}", priority=n)
    chat = make_chat(site)
    offer(chat, conversation_id=chat.conversation.pk, kind="waive_delivery", amount="5.00")
    # when
    queries = panel_queries(chat)
    # then: one statement on PostgreSQL (was three before ADR 0026, plus a Redis GET of
    # the policies' stamp); on SQLite the chat (with the token), the shopper, the offers
    assert len(queries) == PANEL_QUERIES, queries


def test_a_policy_with_a_budget_that_applies_adds_the_spend_query(site):
    make_policy(site, daily_budget=Decimal("50.00"))
    chat = make_chat(site)

    queries = panel_queries(chat)

    assert len(queries) == PANEL_QUERIES + 1, queries
    assert is_spend_statement(queries[-1]), queries[-1]


def is_spend_statement(sql: str) -> bool:
    """The live spend's read: by name once prepared (PostgreSQL with kept sessions), else
    the statement itself."""
    return sql.startswith("EXECUTE cartassist_budget_spend_") or (
        'FROM "policies_budgetcounter"' in sql
    )


@pytest.mark.postgres
def test_the_spend_statement_is_prepared_once_per_connection_and_reads_todays_spend(site):
    # given: a daily budget of 50.00 with 45.00 spent today and 40.00 yesterday, on a
    # new database session
    policy = make_policy(site, daily_budget=Decimal("50.00"))
    chat = make_chat(site)
    today, month = period_starts(timezone.now(), site.timezone)
    BudgetCounter.objects.create(
        policy=policy, period=BudgetPeriod.DAY, period_start=today, spent=Decimal("45.00")
    )
    BudgetCounter.objects.create(
        policy=policy,
        period=BudgetPeriod.DAY,
        period_start=today - timedelta(days=1),
        spent=Decimal("40.00"),
    )
    console_remedies(agent=chat.agent, conversation_id=chat.conversation.pk, now=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    prepared_statements_forget()

    # when: two panels on it
    with CaptureQueriesContext(connection) as queries:
        first = waive_cap_shown(chat)
        second = waive_cap_shown(chat)

    # then: each panel's spend read is the prepared statement, prepared once; the cap is
    # what is left of today's budget (5.00 of the 9.90 delivery charge), yesterday's
    # spend not counted
    spend = [q["sql"] for q in queries.captured_queries if "budget_spend" in q["sql"]]
    assert [sql.split(" ", 1)[0] for sql in spend] == ["SELECT", "PREPARE", "EXECUTE", "EXECUTE"]
    assert first == second == "5.00"


def test_the_panel_shows_this_chats_offers_and_stacks_on_the_carts_live_ones(site):
    # given: the cart's delivery waived from another chat, then this chat's own offer
    # declined (not live: it does not count for stacking, but the chat shows it)
    make_policy(site, stall_reasons=[], discount=True, discount_max_percent=Decimal("10"))
    chat = make_chat(site)
    other_chat = make_conversation(site, agent=chat.agent, cart=chat.cart)
    waived = offer(chat, conversation_id=other_chat.pk, kind="waive_delivery", amount="5.00")
    discount = offer(chat, conversation_id=chat.conversation.pk, kind="discount", amount="1.00")
    Offer.objects.filter(pk=discount.pk).update(status=OfferStatus.DECLINED)
    # when
    panel = console_remedies(
        agent=chat.agent, conversation_id=chat.conversation.pk, now=timezone.now()
    )
    # then
    assert [offer["id"] for offer in panel["offers"]] == [discount.pk]
    by_kind = {item["kind"]: item for item in panel["remedies"]}
    assert by_kind["waive_delivery"]["reason_code"] == "already_offered"
    assert by_kind["discount"]["allowed"] is True
    assert waived.pk not in [offer["id"] for offer in panel["offers"]]


def test_a_returning_farming_shopper_is_read_in_the_one_shopper_query(site):
    # given: the shopper converted another cart and stalled three carts today
    chat = make_chat(site)
    converted = make_stalled_cart(site, visitor_id="visitor-1", external_id="old")
    stalled = [make_stalled_cart(site, visitor_id="visitor-1", external_id=f"s{n}") for n in (1, 2)]
    for cart in [chat.cart, converted, *stalled]:
        make_intervention(cart)
    Cart.objects.filter(pk=converted.pk).update(status=CartStatus.CONVERTED)
    # when
    panel = console_remedies(
        agent=chat.agent, conversation_id=chat.conversation.pk, now=timezone.now()
    )
    # then
    assert (panel["segment"], panel["flagged_for_farming"]) == ("returning", True)


def waive_cap_shown(chat: Chat) -> str | None:
    panel = console_remedies(
        agent=chat.agent, conversation_id=chat.conversation.pk, now=timezone.now()
    )
    (waive,) = [item for item in panel["remedies"] if item["kind"] == "waive_delivery"]
    return waive["bound"] if waive["allowed"] else None


class Boom(Exception):
    pass


def test_a_committed_policy_change_is_seen_by_the_next_panel_in_every_process(site):
    # given: the panel shown (this process has the site's set cached)
    policy = make_policy(site)
    chat = make_chat(site)
    assert waive_cap_shown(chat) == "9.90"

    # when: the cap is lowered in a committed transaction
    with transaction.atomic():
        Policy.objects.filter(pk=policy.pk).update(waive_delivery_cap=Decimal("4.00"))
        policy_version_create(policy=policy, user=None, now=timezone.now())

    # then: the next panel in this process, and in another one (a fresh cache), show it
    assert waive_cap_shown(chat) == "4.00"
    policy_caches_clear()
    assert waive_cap_shown(chat) == "4.00"


def test_a_rolled_back_policy_change_is_never_seen(site):
    # given
    policy = make_policy(site)
    chat = make_chat(site)
    assert waive_cap_shown(chat) == "9.90"

    # when: the change is seen inside its own transaction (its set is loaded there,
    # under the token that transaction wrote), which then rolls back
    seen = []

    def change_then_fail() -> None:
        with transaction.atomic():
            Policy.objects.filter(pk=policy.pk).update(waive_delivery_cap=Decimal("4.00"))
            policy_version_create(policy=policy, user=None, now=timezone.now())
            seen.append(waive_cap_shown(chat))
            raise Boom

    with pytest.raises(Boom):
        change_then_fail()

    # then: neither this process nor another shows it
    assert seen == ["4.00"]
    assert waive_cap_shown(chat) == "9.90"
    policy_caches_clear()
    assert waive_cap_shown(chat) == "9.90"


@pytest.mark.postgres
def test_the_panels_statement_is_prepared_once_per_connection(site):
    # given: the site's set cached, then a new database session (the pool hands the
    # same connection back after close(): forget its prepared statements instead)
    make_policy(site)
    chat = make_chat(site)
    console_remedies(agent=chat.agent, conversation_id=chat.conversation.pk, now=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    prepared_statements_forget()

    # when: two panels on it
    with CaptureQueriesContext(connection) as queries:
        first = console_remedies(
            agent=chat.agent, conversation_id=chat.conversation.pk, now=timezone.now()
        )
        second = console_remedies(
            agent=chat.agent, conversation_id=chat.conversation.pk, now=timezone.now()
        )

    # then: asked the server, PREPARE once, EXECUTE twice, the same panels
    sql = [query["sql"].split(" ", 1)[0] for query in queries.captured_queries]
    assert sql == ["SELECT", "PREPARE", "EXECUTE", "EXECUTE"]
    assert first == second


@pytest.mark.postgres
def test_a_session_that_prepared_the_panel_already_is_not_asked_to_prepare_it_again(site):
    # given: the statement prepared on this session, but the process does not know it
    # (a pooled session it has not used yet, or its bookkeeping forgotten)
    make_policy(site)
    chat = make_chat(site)
    expected = console_remedies(
        agent=chat.agent, conversation_id=chat.conversation.pk, now=timezone.now()
    )
    prepared_statements_forget()

    # when
    with CaptureQueriesContext(connection) as queries:
        again = console_remedies(
            agent=chat.agent, conversation_id=chat.conversation.pk, now=timezone.now()
        )

    # then: the server is asked, nothing is prepared twice, the same panel
    sql = [query["sql"].split(" ", 1)[0] for query in queries.captured_queries]
    assert sql == ["SELECT", "EXECUTE"]
    assert again == expected


@pytest.mark.postgres
def test_without_prepared_statements_the_panel_is_one_plain_statement(site, settings):
    # given: server-side prepared statements off (a PgBouncer in transaction mode)
    settings.DATABASE_ASYNC_PREPARE_THRESHOLD = -1
    make_policy(site)
    chat = make_chat(site)

    # when
    queries = panel_queries(chat)

    # then
    assert len(queries) == 1
    assert queries[0].startswith("WITH chat AS")
