"""The policy caches (policies/specs.py, ADR 0020, ADR 0026): validated specs by version
and each site's current set under the site's policy-set token, renewed in the
transaction of every change. What an agent sees changes as soon as a policy is saved,
switched off (retired) or deleted, or its budget changes; spend is always live; an offer
reads the token in its own transaction; and the cached answer is the uncached one."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from redis.exceptions import RedisError

from policies.engine import Allowed, RemedyKind, evaluate, validate_spec
from policies.models import BudgetCounter, BudgetPeriod, Policy, PolicySetVersion, PolicyVersion
from policies.services.context import evaluation_context, period_starts
from policies.services.offers import OfferRefused, offer_authorize
from policies.services.remedies import remedies_list
from policies.services.versions import policies_delete, policy_version_create
from policies.specs import current_policies, policy_caches_clear, policy_set_token
from tests.fixtures.policies import Chat, make_chat, make_policy
from tests.fixtures.sites import make_site

# Real commits: what is cached depends on whether a change has committed.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("chat_settings")]


def waive_bound(chat: Chat) -> Decimal | None:
    """The "waive delivery" bound the agent of ``chat`` sees now (None: not allowed)."""
    decision = remedies_list(
        cart=chat.cart, agent=chat.agent, stall_reason=None, now=timezone.now()
    ).evaluation.for_kind(RemedyKind.WAIVE_DELIVERY)
    return decision.bound.amount if isinstance(decision, Allowed) and decision.bound else None


def save(policy: Policy, **changes: Any) -> None:
    """Save ``policy`` as the admin does: the row, then its new version."""
    for field, value in changes.items():
        setattr(policy, field, value)
    policy.save()
    policy_version_create(policy=policy, user=None, now=timezone.now())


def version_queries(queries: CaptureQueriesContext) -> list[str]:
    sql = [query["sql"] for query in queries.captured_queries]
    return [statement for statement in sql if 'FROM "policies_policyversion"' in statement]


def test_a_warm_call_reads_no_policy_version(site):
    # given
    make_policy(site)
    chat = make_chat(site)
    assert waive_bound(chat) == Decimal("9.90")

    # when
    with CaptureQueriesContext(connection) as queries:
        bound = waive_bound(chat)

    # then
    assert bound == Decimal("9.90")
    assert version_queries(queries) == []


def test_saving_a_policy_changes_what_the_agent_sees_at_once(site):
    # given: the cache is warm with a cap of 10.00 on a 9.90 delivery charge
    policy = make_policy(site)
    chat = make_chat(site)
    assert waive_bound(chat) == Decimal("9.90")

    # when
    save(policy, waive_delivery_cap=Decimal("4.00"))

    # then
    assert waive_bound(chat) == Decimal("4.00")


def test_a_retired_policy_is_switched_off_and_a_deleted_one_gone(site):
    policy = make_policy(site)
    chat = make_chat(site)
    assert waive_bound(chat) == Decimal("9.90")

    save(policy, active=False)
    retired = remedies_list(
        cart=chat.cart, agent=chat.agent, stall_reason=None, now=timezone.now()
    ).evaluation.for_kind(RemedyKind.WAIVE_DELIVERY)
    assert not retired.allowed
    assert retired.reason.code == "inactive"

    assert policies_delete(policy_ids=[policy.pk]) == [policy.pk]
    gone = remedies_list(cart=chat.cart, agent=chat.agent, stall_reason=None, now=timezone.now())
    assert gone.policies == 0
    assert gone.evaluation.for_kind(RemedyKind.WAIVE_DELIVERY).reason.code == "no_policy"


def test_a_new_budget_applies_at_once_and_spend_is_always_live(site):
    # given
    policy = make_policy(site)
    chat = make_chat(site)
    assert waive_bound(chat) == Decimal("9.90")

    # when: a daily budget of 6.00 is set
    save(policy, daily_budget=Decimal("6.00"))
    # then
    assert waive_bound(chat) == Decimal("6.00")

    # when: 5.00 of it is spent (the counter moves; no policy is saved)
    today, _ = period_starts(timezone.now(), site.timezone)
    BudgetCounter.objects.create(
        policy=policy, period=BudgetPeriod.DAY, period_start=today, spent=Decimal("5.00")
    )
    # then
    assert waive_bound(chat) == Decimal("1.00")


class Boom(Exception):
    pass


def test_a_change_rolled_back_is_not_left_in_the_cache(site):
    # given
    policy = make_policy(site)
    chat = make_chat(site)
    assert waive_bound(chat) == Decimal("9.90")

    # when: the change is seen inside its transaction, which then rolls back
    seen = []

    def change_then_fail() -> None:
        with transaction.atomic():
            save(policy, waive_delivery_cap=Decimal("4.00"))
            seen.append(waive_bound(chat))
            raise Boom

    with pytest.raises(Boom):
        change_then_fail()
    assert seen == [Decimal("4.00")]

    # then
    assert waive_bound(chat) == Decimal("9.90")


def test_a_change_committed_by_another_process_is_seen_on_its_next_call(site):
    # given: this process has the site's current set cached
    policy = make_policy(site)
    chat = make_chat(site)
    assert waive_bound(chat) == Decimal("9.90")

    # when: another process saves a new version and commits (this process is not told:
    # only the site's token row changes, in that process's transaction)
    with transaction.atomic():
        _new_version_behind_the_cache(policy, max_amount="3")
        PolicySetVersion.objects.filter(site=site).update(token=12345)

    # then: this process reads the new token with its next call, and the new set
    assert waive_bound(chat) == Decimal("3.00")


def _new_version_behind_the_cache(policy: Policy, *, max_amount: str) -> PolicyVersion:
    """A new current version with this waiving cap, written without telling the caches
    (no ``policies_changed``)."""
    assert policy.current_version_id is not None
    spec = dict(PolicyVersion.objects.get(pk=policy.current_version_id).spec)
    spec["remedies"] = [{"kind": "waive_delivery", "max_amount": max_amount}]
    number = PolicyVersion.objects.filter(policy=policy).count() + 1
    version = PolicyVersion.objects.create(
        policy=policy, number=number, spec=spec, created_at=timezone.now()
    )
    Policy.objects.filter(pk=policy.pk).update(current_version=version)
    return version


def test_an_offer_is_authorised_on_the_token_its_transaction_reads(site):
    # given: the panel has the set cached; another process then lowers the cap to 2.00
    # and commits (new version and new token), without this process being told
    policy = make_policy(site)
    chat = make_chat(site)
    assert waive_bound(chat) == Decimal("9.90")
    with transaction.atomic():
        version = _new_version_behind_the_cache(policy, max_amount="2")
        PolicySetVersion.objects.filter(site=site).update(token=67890)

    # then: the offer (no panel call in between) is re-authorised on the new set
    with pytest.raises(OfferRefused, match="above the 2.00"):
        offer_authorize(
            agent=chat.agent,
            conversation_id=chat.conversation.pk,
            kind="waive_delivery",
            amount="5.00",
            now=timezone.now(),
        )
    offer = offer_authorize(
        agent=chat.agent,
        conversation_id=chat.conversation.pk,
        kind="waive_delivery",
        amount="2.00",
        now=timezone.now(),
    )
    assert offer.policy_version_id == version.pk


def test_the_policies_do_not_need_the_shared_cache(site, monkeypatch):
    # given: the shared cache (Redis in production) cannot be read
    policy = make_policy(site)
    chat = make_chat(site)

    def unreachable(*args: Any, **kwargs: Any) -> None:
        raise RedisError("down")

    monkeypatch.setattr("django.core.cache.cache.get", unreachable)
    assert waive_bound(chat) == Decimal("9.90")

    # then: warm calls still read no version, and a committed change is seen
    with CaptureQueriesContext(connection) as queries:
        assert waive_bound(chat) == Decimal("9.90")
    assert version_queries(queries) == []
    save(policy, waive_delivery_cap=Decimal("1.00"))
    assert waive_bound(chat) == Decimal("1.00")


def test_a_change_renews_only_its_sites_token_and_reloads_only_its_set(site):
    # given: two sites with a policy each, both sets cached
    other = make_site(name="Other Shop")
    policy = make_policy(site)
    make_policy(other)
    before = (policy_set_token(site_id=site.pk), policy_set_token(site_id=other.pk))
    other_set = current_policies(site_id=other.pk)
    current_policies(site_id=site.pk)

    # when
    save(policy, waive_delivery_cap=Decimal("4.00"))

    # then
    assert policy_set_token(site_id=site.pk) not in (0, before[0])
    assert policy_set_token(site_id=other.pk) == before[1] != 0
    assert current_policies(site_id=other.pk) is other_set


def test_deleting_policies_of_two_sites_renews_both_tokens(site):
    other = make_site(name="Other Shop")
    policies = [make_policy(site), make_policy(other)]
    before = {s.pk: policy_set_token(site_id=s.pk) for s in (site, other)}

    assert sorted(policies_delete(policy_ids=[p.pk for p in policies])) == sorted(
        p.pk for p in policies
    )

    for s in (site, other):
        assert policy_set_token(site_id=s.pk) != before[s.pk]
        assert current_policies(site_id=s.pk).specs == ()


def test_a_site_without_a_token_row_has_token_0_and_its_policies_are_read(site):
    # given: a policy whose token row is gone (a site from before the row existed)
    make_policy(site)
    PolicySetVersion.objects.filter(site=site).delete()
    policy_caches_clear()

    # then
    assert policy_set_token(site_id=site.pk) == 0
    assert len(current_policies(site_id=site.pk).specs) == 1


def test_a_policy_version_cannot_be_changed(site):
    policy = make_policy(site)
    version = PolicyVersion.objects.get(pk=policy.current_version_id)
    version.spec = {**version.spec, "name": "Changed"}

    with pytest.raises(ValueError, match="immutable"):
        version.save()


@pytest.mark.parametrize("seed", range(5))
def test_the_cached_answer_is_the_uncached_one_for_random_policy_sets(site, seed):
    # given: random policies, some with budgets partly spent, changed at random between
    # evaluations
    rng = random.Random(seed)
    chat = make_chat(site)
    today, month = period_starts(timezone.now(), site.timezone)
    policies = [_random_policy(site, rng, n) for n in range(rng.randint(3, 12))]
    for policy in policies:
        if policy.daily_budget and rng.random() < 0.5:
            BudgetCounter.objects.create(
                policy=policy,
                period=BudgetPeriod.DAY,
                period_start=today,
                spent=Decimal(rng.randint(0, 40)),
            )

    for _ in range(4):
        # when
        now = timezone.now()
        cached = remedies_list(cart=chat.cart, agent=chat.agent, stall_reason=None, now=now)
        # then: the same as every current version validated afresh, with every spend
        assert cached.evaluation == _uncached(chat, now)
        changed = rng.choice(policies)
        save(changed, **_random_values(rng, changed.pk))
    assert current_policies(site_id=site.pk) is current_policies(site_id=site.pk)


def _uncached(chat: Chat, now: Any) -> Any:
    versions = PolicyVersion.objects.filter(policy__site=chat.cart.site_id)
    current = [v for v in versions if v.policy.current_version_id == v.pk]
    fresh = [validate_spec(v.spec, version_id=v.pk, policy_id=v.policy_id) for v in current]
    ctx = evaluation_context(
        cart=chat.cart,
        agent=chat.agent,
        stall_reason=chat.conversation.invitation.stall_reason,
        now=now,
        policy_ids=[v.policy_id for v in current],
        timezone=chat.cart.site.timezone,
    )
    return evaluate(ctx, fresh)


def _random_values(rng: random.Random, n: int) -> dict[str, Any]:
    values = {
        "name": f"Random {n}",
        "active": rng.random() < 0.8,
        "priority": rng.randint(1, 5),
        "stall_reasons": rng.choice([[], ["shipping_shock"], ["idle"]]),
        "min_cart_value": rng.choice([None, Decimal(30), Decimal(100)]),
        "waive_delivery": rng.random() < 0.6,
        "waive_delivery_cap": rng.choice([None, Decimal("5.00"), Decimal("20.00")]),
        "discount": rng.random() < 0.5,
        "discount_max_percent": Decimal(rng.choice([5, 10, 20])),
        "daily_budget": rng.choice([None, Decimal("8.00"), Decimal("50.00")]),
        "stacking": rng.choice(["combinable", "exclusive"]),
    }
    if not values["waive_delivery"] and not values["discount"]:
        values["discount"] = True  # a policy allows at least one remedy
    return values


def _random_policy(site: Any, rng: random.Random, n: int) -> Policy:
    return make_policy(site, **_random_values(rng, n))
