"""The remedies for a chat against the number of policies: ``python -m bench.policies
--sizes 10,100,1000``.

Runs in a child process with the bench environment (a throw-away database), in-process
through ``django.setup()``. For each size, a site of its own with that many policies
(each saved through ``policy_version_create``, as the admin saves them; a mix of
conditions, most of which do not apply to the chat, every tenth with a daily budget
already partly spent today), an online agent and an active chat about a 60.00 cart that
stalled for shipping shock. Then, each timed ``--repeat`` times after a warm-up:

- ``remedies_for``: ``cartassist.flows.console.console_remedies``, the console's
  remedies panel for the chat (its conversation, the remedies list, its offers), with
  the policy caches warm (ADR 0020, ADR 0026);
- ``remedies_list``: the service alone (``policies.services.remedies.remedies_list``) for
  the chat's cart, caches warm;
- ``uncached``: ``remedies_list`` with the process's policy caches emptied before each
  call: every current version read and validated again, as before ADR 0020;
- ``offer path``: ``remedies_list`` in a transaction, as the offer's re-authorisation
  runs it (the site's policy-set token read in it, the set of that token from the
  cache; ADR 0026);
- ``engine``: the pure engine as the product runs it, the site's cached ``PolicyIndex``
  (``index.evaluate(ctx)``, ADR 0022) on the same context, the floor;
- ``engine (plain)``: the reference ``evaluate(ctx, specs)`` on the same context and specs
  (what the engine cost before the index);
- ``part: …``: the panel's parts alone, to show where its time goes: its facts
  (``panel_facts``: one statement on PostgreSQL, the ORM's three queries on SQLite), the
  live spend (``spend_snapshot`` of the policies that need it), and the read of the
  site's policy-set token alone (``policy_set_token``, what ``remedies_list`` adds).

Rounds alternate the cases (each round calls every case once; ``uncached`` only every
``repeat / uncached-repeat``-th round), so that all see the same machine load. Prints one
JSON line: the rows the runner renders (wall-clock p50 / p99 / max in ms, and the mean CPU
time of this process per call, which excludes PostgreSQL's own time), and for the panel
the number of queries it makes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import django

STALL_REASONS = ["shipping_shock", "payment_failed", "coupon_rejected", "idle"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=1000)
    parser.add_argument("--uncached-repeat", type=int, default=100)
    args = parser.parse_args()
    django.setup()
    rows = []
    for size in sorted(int(s) for s in args.sizes.split(",")):
        rows += run(size, args.repeat, args.uncached_repeat)
    print(json.dumps({"rows": rows}))


def run(size: int, repeat: int, uncached_repeat: int) -> list[dict[str, Any]]:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from cartassist.flows.console import console_remedies
    from policies.engine import evaluate
    from policies.services.context import spend_snapshot
    from policies.services.panel import panel_facts
    from policies.services.remedies import remedies_list
    from policies.specs import current_policies, policy_caches_clear, policy_set_token

    site, agent, conversation = _chat(size)
    _policies(site, size)
    cart = conversation.cart
    now = timezone.now()

    def panel() -> object:
        return console_remedies(agent=agent, conversation_id=conversation.pk, now=now)

    def service() -> object:
        return remedies_list(cart=cart, agent=agent, stall_reason="shipping_shock", now=now)

    def uncached() -> object:
        policy_caches_clear()
        return service()

    def offer_path() -> object:
        with transaction.atomic():
            return remedies_list(cart=cart, agent=agent, stall_reason="shipping_shock", now=now)

    listed = remedies_list(cart=cart, agent=agent, stall_reason="shipping_shock", now=now)
    current = current_policies(site_id=site.pk)
    specs, index = current.specs, current.index
    assert listed.policies == size, (listed.policies, size)
    assert index.evaluate(listed.context) == evaluate(listed.context, specs)
    allowed = sum(1 for option in listed.options if option.decision.allowed)
    needed = index.spend_needed(listed.context)
    panel()
    with CaptureQueriesContext(connection) as queries:
        panel()

    def engine() -> object:
        return index.evaluate(listed.context)

    def engine_plain() -> object:
        return evaluate(listed.context, specs)

    def facts_part() -> object:
        return panel_facts(agent=agent, conversation_id=conversation.pk, now=now)

    def spend_part() -> object:
        return spend_snapshot(policy_ids=needed, agent_id=agent.pk, now=now, timezone=site.timezone)

    def token_part() -> object:
        return policy_set_token(site_id=site.pk)

    cases: list[tuple[str, Callable[[], object], int]] = [
        ("remedies_for", panel, 1),
        ("remedies_list", service, 1),
        ("offer path", offer_path, 1),
        ("uncached", uncached, max(1, repeat // uncached_repeat)),
        ("engine", engine, 1),
        ("engine (plain)", engine_plain, 1),
        ("part: panel facts", facts_part, 1),
        ("part: spend query", spend_part, 1),
        ("part: token read", token_part, 1),
    ]
    samples, cpu = _time(cases, repeat)
    rows = []
    for name, wall in samples.items():
        row = {
            "policies": size,
            "case": name,
            "calls": len(wall),
            "allowed": allowed,
            "p50_ms": round(statistics.median(wall), 3),
            "p99_ms": round(_quantile(wall, 0.99), 3),
            "max_ms": round(max(wall), 3),
            "cpu_ms_mean": round(cpu[name] / len(wall), 3),
        }
        if name == "remedies_for":
            row["queries"] = len(queries.captured_queries)
        rows.append(row)
    return rows


def _time(
    cases: list[tuple[str, Callable[[], object], int]], rounds: int
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """``rounds`` rounds, each calling every case in turn (a case with ``every`` n only
    every n-th round), so that all cases see the same machine load: wall-clock samples
    in ms per case, and the process's CPU ms per case."""
    for _, call, _ in cases:
        for _ in range(5):
            call()
    samples: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    cpu = dict.fromkeys(samples, 0.0)
    for n in range(rounds):
        for name, call, every in cases:
            if n % every:
                continue
            cpu_started = time.process_time()
            started = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - started) * 1000)
            cpu[name] += (time.process_time() - cpu_started) * 1000
    return samples, cpu


def _quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _chat(size: int) -> tuple[Any, Any, Any]:
    """A site, an online agent, and an active chat about a stalled 60.00 cart (14.90
    delivery) whose invitation named shipping shock."""
    from datetime import timedelta

    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from agents.models import AgentProfile, AgentStatus, Conversation, ConversationStatus
    from agents.services.invitations import invitations_create
    from cartassist.models import Cart, CartStatus, Intervention, Site

    now = timezone.now()
    site = Site.objects.create(
        name=f"Bench policies {size}",
        allowed_origins=["https://shop.bench.test"],
        currency="EUR",
        timezone="Europe/Berlin",
        holdout_share=Decimal("0"),
    )
    user = User.objects.create_user(username=f"bench-policies-{size}", password=None)
    user.groups.add(Group.objects.get_or_create(name="Agents")[0])
    agent = AgentProfile.objects.create(
        user=user,
        site=site,
        display_name="Bench agent",
        capacity=5,
        status=AgentStatus.ONLINE,
        last_heartbeat_at=now,
    )
    cart = Cart.objects.create(
        site=site,
        external_id="bench-cart",
        visitor_id="bench-shopper",
        currency="EUR",
        subtotal=Decimal("60.00"),
        shipping_fee=Decimal("14.90"),
        stage="shipping",
        signal="shipping_quoted",
        status=CartStatus.STALLED,
        lines=[{"sku": "A-1", "quantity": 2, "unit_price": "30.00", "category": "shoes"}],
        state_at=now - timedelta(minutes=10),
        last_activity_at=now - timedelta(minutes=10),
    )
    intervention = Intervention.objects.create(
        site=site,
        cart=cart,
        visitor_id=cart.visitor_id,
        stall_deadline=now - timedelta(minutes=1),
        stage=cart.stage,
        stall_reason="shipping_shock",
        urgency=50,
        inactivity=timedelta(minutes=10),
        cart_value=cart.subtotal,
        currency="EUR",
        decision="invited",
        trigger="sweep",
        decided_at=now,
    )
    (invitation,) = invitations_create(interventions=[intervention], now=now)
    conversation = Conversation.objects.create(
        site=site,
        visitor_id=cart.visitor_id,
        cart=cart,
        agent=agent,
        invitation=invitation,
        status=ConversationStatus.ACTIVE,
        urgency=50,
        cart_value=cart.subtotal,
        created_at=now,
        assigned_at=now,
        visitor_last_seen_at=now,
    )
    return site, agent, conversation


def _policies(site: Any, size: int) -> None:
    """``size`` policies: one in ten applies to the chat (shipping shock, carts of at
    least 30.00), the others need another stall reason, a larger cart or a country;
    every tenth has a daily budget with spend recorded today."""
    from django.utils import timezone

    from policies.models import BudgetCounter, BudgetPeriod, Policy
    from policies.services.context import period_starts
    from policies.services.versions import policy_version_create

    now = timezone.now()
    today, _ = period_starts(now, site.timezone)
    for n in range(size):
        values: dict[str, Any] = {
            "name": f"Policy {n}",
            "priority": n % 50,
            "stall_reasons": [STALL_REASONS[n % len(STALL_REASONS)]],
            "min_cart_value": Decimal(30 + (n % 7) * 20),
            "waive_delivery": n % 2 == 0,
            "waive_delivery_cap": Decimal("10.00"),
            "discount": n % 2 == 1,
            "discount_max_percent": Decimal("10"),
            "countries": ["DE", "FR"] if n % 3 == 0 else [],
            "daily_budget": Decimal("500.00") if n % 10 == 0 else None,
        }
        policy = Policy.objects.create(site=site, **values)
        policy_version_create(policy=policy, user=None, now=now)
        if n % 10 == 0:
            BudgetCounter.objects.create(
                policy=policy, period=BudgetPeriod.DAY, period_start=today, spent=Decimal("25")
            )


if __name__ == "__main__":
    main()
