"""``evaluate``: conditions, validity, each remedy's bound, limits, stacking, priority and
the nearest miss, asserted on data (Reason fields, Allowed bounds). No database."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from policies.engine import (
    AgentFacts,
    Allowed,
    CartFacts,
    CartLine,
    Conditions,
    Evaluation,
    EvaluationContext,
    ExistingRemedy,
    Limits,
    Money,
    NotAllowed,
    PolicySpec,
    PolicySpend,
    Reason,
    RemedyDecision,
    RemedyKind,
    RemedySpec,
    Segment,
    ShopperFacts,
    Stacking,
    condition_failures,
    evaluate,
)

WAIVE = RemedyKind.WAIVE_DELIVERY
REDUCE = RemedyKind.REDUCE_DELIVERY
DISCOUNT = RemedyKind.DISCOUNT
GIFT = RemedyKind.FREE_GIFT
HOLD = RemedyKind.HOLD_STOCK

# A Tuesday in March.
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
NAME = "Delivery rescue"

CART = CartFacts(
    value=Decimal("60.00"),
    currency="EUR",
    stage="shipping",
    delivery_charge=Decimal("9.90"),
    lines=(CartLine(sku="SKU-1", quantity=2, unit_price=Decimal("30.00"), category="shoes"),),
    country="DE",
)
BASE_CTX = EvaluationContext(
    cart=CART,
    shopper=ShopperFacts(segment=Segment.RETURNING),
    stall_reason="shipping_shock",
    agent=AgentFacts(agent_id=7),
    now=NOW,
)
BASE_SPEC = PolicySpec(
    version_id=101,
    policy_id=1,
    name=NAME,
    currency="EUR",
    remedies=(RemedySpec(WAIVE),),
)


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def with_cart(**changes: object) -> EvaluationContext:
    return dataclasses.replace(BASE_CTX, cart=dataclasses.replace(CART, **changes))


def with_conditions(spec: PolicySpec = BASE_SPEC, **changes: object) -> PolicySpec:
    return dataclasses.replace(spec, conditions=dataclasses.replace(spec.conditions, **changes))


def with_limits(spec: PolicySpec = BASE_SPEC, **changes: object) -> PolicySpec:
    return dataclasses.replace(spec, limits=dataclasses.replace(spec.limits, **changes))


def with_remedy(remedy: RemedySpec, spec: PolicySpec = BASE_SPEC) -> PolicySpec:
    return dataclasses.replace(spec, remedies=(remedy,))


def spent(today: str = "0", month: str = "0", agent_today: str = "0") -> PolicySpend:
    return PolicySpend(today=Decimal(today), month=Decimal(month), agent_today=Decimal(agent_today))


def decide(
    ctx: EvaluationContext, specs: list[PolicySpec], kind: RemedyKind = WAIVE
) -> RemedyDecision:
    return evaluate(ctx, specs).for_kind(kind)


def allowed(
    bound: Money | None,
    *,
    kind: RemedyKind = WAIVE,
    spec: PolicySpec = BASE_SPEC,
    **extra: object,
) -> Allowed:
    return Allowed(
        kind=kind,
        policy_version_id=spec.version_id,
        policy_id=spec.policy_id,
        policy_name=spec.name,
        bound=bound,
        exclusive=spec.stacking is Stacking.EXCLUSIVE,
        **extra,
    )


def refused(reason: Reason, kind: RemedyKind = WAIVE) -> NotAllowed:
    return NotAllowed(kind, reason)


# --- the shape of the answer ---------------------------------------------------------


def test_every_remedy_kind_gets_one_decision_in_a_fixed_order():
    # when
    evaluation = evaluate(BASE_CTX, [BASE_SPEC])
    # then
    assert evaluation.decisions == (
        allowed(eur("9.90")),
        refused(Reason("no_policy"), REDUCE),
        refused(Reason("no_policy"), DISCOUNT),
        refused(Reason("no_policy"), GIFT),
        refused(Reason("no_policy"), HOLD),
    )
    assert [d.allowed for d in evaluation.decisions] == [True, False, False, False, False]


def test_no_policies_allow_nothing():
    # when
    evaluation = evaluate(BASE_CTX, [])
    # then
    assert evaluation.decisions == tuple(refused(Reason("no_policy"), kind) for kind in RemedyKind)


def test_for_kind_raises_for_a_kind_it_does_not_hold():
    # given
    evaluation = Evaluation(decisions=(refused(Reason("no_policy"), WAIVE),))
    # when / then
    with pytest.raises(KeyError):
        evaluation.for_kind(DISCOUNT)


# --- conditions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "ctx", "reason"),
    [
        pytest.param(
            {"min_cart_value": Decimal("75.00")},
            BASE_CTX,
            Reason("below_min_value", NAME, "cart_value", "75.00 EUR", "60.00 EUR"),
            id="min_cart_value",
        ),
        pytest.param(
            {"max_cart_value": Decimal("59.99")},
            BASE_CTX,
            Reason("above_max_value", NAME, "cart_value", "59.99 EUR", "60.00 EUR"),
            id="max_cart_value",
        ),
        pytest.param(
            {"stages": frozenset({"payment", "contact"})},
            BASE_CTX,
            Reason("stage", NAME, "stage", "contact, payment", "shipping"),
            id="stage",
        ),
        pytest.param(
            {"stall_reasons": frozenset({"payment_failed"})},
            BASE_CTX,
            Reason("stall_reason", NAME, "stall_reason", "payment_failed", "shipping_shock"),
            id="stall_reason",
        ),
        pytest.param(
            {"segments": frozenset({Segment.VIP, Segment.NEW})},
            BASE_CTX,
            Reason("segment", NAME, "segment", "new, vip", "returning"),
            id="segment",
        ),
        pytest.param(
            {"countries": frozenset({"NL", "FR"})},
            BASE_CTX,
            Reason("country", NAME, "country", "FR, NL", "DE"),
            id="country",
        ),
        pytest.param(
            {"countries": frozenset({"FR"})},
            with_cart(country=""),
            Reason("country", NAME, "country", "FR", "unknown"),
            id="country_unknown",
        ),
        pytest.param(
            {"exclude_categories": frozenset({"shoes", "hats"})},
            BASE_CTX,
            Reason("category_excluded", NAME, "categories", "", "shoes"),
            id="exclude_categories",
        ),
        pytest.param(
            {"include_categories": frozenset({"bags", "hats"})},
            BASE_CTX,
            Reason("category_required", NAME, "categories", "bags, hats"),
            id="include_categories",
        ),
        pytest.param(
            {"include_categories": frozenset({"bags"})},
            with_cart(lines=(CartLine("SKU-9", 1, Decimal("60.00")),)),
            Reason("category_required", NAME, "categories", "bags"),
            id="include_categories_uncategorised_line",
        ),
        pytest.param(
            {"exclude_skus": frozenset({"SKU-1"})},
            BASE_CTX,
            Reason("sku_excluded", NAME, "skus", "", "SKU-1"),
            id="exclude_skus",
        ),
        pytest.param(
            {"include_skus": frozenset({"SKU-9", "SKU-8"})},
            BASE_CTX,
            Reason("sku_required", NAME, "skus", "SKU-8, SKU-9"),
            id="include_skus",
        ),
        pytest.param(
            {"min_delivery_charge": Decimal("10.00")},
            BASE_CTX,
            Reason("below_min_delivery", NAME, "delivery_charge", "10.00 EUR", "9.90 EUR"),
            id="min_delivery_charge",
        ),
        pytest.param(
            {"min_delivery_charge": Decimal("0.01")},
            with_cart(delivery_charge=None),
            Reason("below_min_delivery", NAME, "delivery_charge", "0.01 EUR", "0.00 EUR"),
            id="min_delivery_charge_none_quoted",
        ),
    ],
)
def test_each_condition_refuses_with_its_reason(conditions, ctx, reason):
    # given
    spec = with_conditions(**conditions)
    # when
    decision = decide(ctx, [spec])
    # then
    assert decision == refused(reason)
    assert condition_failures(spec, ctx) == [reason]


@pytest.mark.parametrize(
    "conditions",
    [
        pytest.param({"min_cart_value": Decimal("60.00")}, id="min_cart_value_equal"),
        pytest.param({"max_cart_value": Decimal("60.00")}, id="max_cart_value_equal"),
        pytest.param({"stages": frozenset({"shipping", "payment"})}, id="stage"),
        pytest.param({"stall_reasons": frozenset({"shipping_shock"})}, id="stall_reason"),
        pytest.param({"segments": frozenset({Segment.RETURNING})}, id="segment"),
        pytest.param({"countries": frozenset({"DE"})}, id="country"),
        pytest.param({"exclude_categories": frozenset({"bags"})}, id="exclude_categories"),
        pytest.param({"include_categories": frozenset({"shoes", "bags"})}, id="include_cat"),
        pytest.param({"exclude_skus": frozenset({"SKU-2"})}, id="exclude_skus"),
        pytest.param({"include_skus": frozenset({"SKU-1"})}, id="include_skus"),
        pytest.param({"min_delivery_charge": Decimal("9.90")}, id="min_delivery_equal"),
    ],
)
def test_each_condition_lets_a_matching_cart_through(conditions):
    # given
    spec = with_conditions(**conditions)
    # when
    decision = decide(BASE_CTX, [spec])
    # then
    assert decision == allowed(eur("9.90"), spec=spec)


def test_every_failing_condition_is_listed_in_a_fixed_order():
    # given
    spec = with_conditions(
        min_cart_value=Decimal("75.00"),
        stages=frozenset({"payment"}),
        countries=frozenset({"FR"}),
    )
    # when
    failures = condition_failures(spec, BASE_CTX)
    # then
    assert [f.code for f in failures] == ["below_min_value", "stage", "country"]
    assert decide(BASE_CTX, [spec]) == refused(failures[0])


def test_a_policy_in_another_currency_does_not_apply():
    # given
    spec = dataclasses.replace(BASE_SPEC, currency="USD")
    # when
    decision = decide(BASE_CTX, [spec])
    # then
    assert decision == refused(Reason("currency", NAME, "currency", "USD", "EUR"))


def test_the_issue_example_message():
    # given
    spec = with_conditions(
        dataclasses.replace(BASE_SPEC, name="Free delivery over 50"), min_cart_value=Decimal("50")
    )
    ctx = with_cart(value=Decimal("42.00"))
    # when
    decision = decide(ctx, [spec])
    # then
    assert isinstance(decision, NotAllowed)
    assert decision.reason == Reason(
        "below_min_value", "Free delivery over 50", "cart_value", "50.00 EUR", "42.00 EUR"
    )
    assert decision.reason.message() == (
        "Cart 42.00 EUR is below the 50.00 EUR policy “Free delivery over 50” requires."
    )


def test_an_unknown_reason_code_still_reads():
    # when
    message = Reason("something_new", NAME).message()
    # then
    assert message == "Not allowed (something_new)."


# --- validity ------------------------------------------------------------------------


def test_a_switched_off_policy_does_not_apply():
    # given
    spec = dataclasses.replace(BASE_SPEC, active=False)
    # when
    decision = decide(BASE_CTX, [spec])
    # then
    assert decision == refused(Reason("inactive", NAME))
    assert decision.reason.message() == "Policy “Delivery rescue” is switched off."


def test_a_policy_does_not_apply_before_valid_from():
    # given
    start = NOW + timedelta(seconds=1)
    spec = dataclasses.replace(BASE_SPEC, valid_from=start)
    # when
    decision = decide(BASE_CTX, [spec])
    # then
    assert decision == refused(
        Reason("not_yet_valid", NAME, "valid_from", "2026-03-10T12:00:01+00:00")
    )


def test_a_policy_applies_from_valid_from_exactly():
    # given
    spec = dataclasses.replace(BASE_SPEC, valid_from=NOW)
    # when
    decision = decide(BASE_CTX, [spec])
    # then
    assert decision == allowed(eur("9.90"), spec=spec)


@pytest.mark.parametrize("until", [NOW, NOW - timedelta(days=1)], ids=["at", "after"])
def test_a_policy_does_not_apply_at_or_after_valid_until(until):
    # given
    spec = dataclasses.replace(BASE_SPEC, valid_until=until)
    # when
    decision = decide(BASE_CTX, [spec])
    # then
    assert decision == refused(Reason("expired", NAME, "valid_until", until.isoformat()))


def test_a_policy_applies_until_just_before_valid_until():
    # given
    spec = dataclasses.replace(BASE_SPEC, valid_until=NOW + timedelta(microseconds=1))
    # when
    decision = decide(BASE_CTX, [spec])
    # then
    assert decision == allowed(eur("9.90"), spec=spec)


def test_validity_is_checked_before_conditions():
    # given: switched off and failing a condition
    spec = with_conditions(
        dataclasses.replace(BASE_SPEC, active=False), min_cart_value=Decimal("100")
    )
    # when
    failures = condition_failures(spec, BASE_CTX)
    # then
    assert failures == [Reason("inactive", NAME)]


# --- each remedy's bound -------------------------------------------------------------


@pytest.mark.parametrize(
    ("remedy", "ctx", "bound"),
    [
        pytest.param(RemedySpec(WAIVE), BASE_CTX, "9.90", id="waive_uncapped"),
        pytest.param(
            RemedySpec(WAIVE, max_amount=Decimal("5.00")), BASE_CTX, "5.00", id="waive_capped"
        ),
        pytest.param(
            RemedySpec(WAIVE, max_amount=Decimal("20.00")),
            BASE_CTX,
            "9.90",
            id="waive_cap_above_fee",
        ),
        pytest.param(
            RemedySpec(REDUCE, max_percent=Decimal(50)), BASE_CTX, "4.95", id="reduce_percent"
        ),
        pytest.param(
            RemedySpec(REDUCE, max_percent=Decimal(15)), BASE_CTX, "1.48", id="reduce_percent_floor"
        ),
        pytest.param(
            RemedySpec(REDUCE, max_amount=Decimal("3.00")), BASE_CTX, "3.00", id="reduce_amount"
        ),
        pytest.param(
            RemedySpec(REDUCE, max_amount=Decimal("12.00")),
            BASE_CTX,
            "9.90",
            id="reduce_amount_above_fee",
        ),
        pytest.param(
            RemedySpec(REDUCE, max_percent=Decimal(50), max_amount=Decimal("3.00")),
            BASE_CTX,
            "3.00",
            id="reduce_both_amount_smaller",
        ),
        pytest.param(
            RemedySpec(REDUCE, max_percent=Decimal(10), max_amount=Decimal("3.00")),
            BASE_CTX,
            "0.99",
            id="reduce_both_percent_smaller",
        ),
        pytest.param(
            RemedySpec(DISCOUNT, max_percent=Decimal(10)),
            with_cart(value=Decimal("60.05")),
            "6.00",
            id="discount_percent_rounds_down",
        ),
        pytest.param(
            RemedySpec(DISCOUNT, max_amount=Decimal("5.00")), BASE_CTX, "5.00", id="discount_amount"
        ),
        pytest.param(
            RemedySpec(DISCOUNT, max_amount=Decimal("100.00")),
            BASE_CTX,
            "60.00",
            id="discount_never_above_cart_value",
        ),
        pytest.param(
            RemedySpec(DISCOUNT, max_percent=Decimal(20), max_amount=Decimal("10.00")),
            BASE_CTX,
            "10.00",
            id="discount_both_amount_smaller",
        ),
        pytest.param(
            RemedySpec(DISCOUNT, max_percent=Decimal("12.5"), max_amount=Decimal("10.00")),
            BASE_CTX,
            "7.50",
            id="discount_both_percent_smaller",
        ),
        pytest.param(
            # 99.999…9 % (28 significant digits) of 4.05 is a hair below 4.05; Decimal's
            # default context would round the product up to 4.05 exactly
            RemedySpec(DISCOUNT, max_percent=Decimal(100) - Decimal("1E-26")),
            with_cart(value=Decimal("4.05")),
            "4.04",
            id="discount_percent_never_rounds_up_through_precision",
        ),
    ],
)
def test_each_remedy_is_bounded_by_its_own_terms(remedy, ctx, bound):
    # given
    spec = with_remedy(remedy)
    # when
    decision = decide(ctx, [spec], remedy.kind)
    # then
    assert decision == allowed(eur(bound), kind=remedy.kind, spec=spec)
    assert str(decision.bound.amount) == bound


@pytest.mark.parametrize(
    ("currency", "value", "bound"),
    [("JPY", "1999", "199"), ("BHD", "12.345", "1.234"), ("EUR", "9.99", "0.99")],
)
def test_bounds_round_down_to_the_currency_minor_unit(currency, value, bound):
    # given
    spec = dataclasses.replace(
        BASE_SPEC, currency=currency, remedies=(RemedySpec(DISCOUNT, max_percent=Decimal(10)),)
    )
    ctx = with_cart(currency=currency, value=Decimal(value))
    # when
    decision = decide(ctx, [spec], DISCOUNT)
    # then
    assert decision == allowed(Money(Decimal(bound), currency), kind=DISCOUNT, spec=spec)
    assert str(decision.bound.amount) == bound  # exactly the currency's decimal places


@pytest.mark.parametrize("fee", [None, Decimal("0.00")], ids=["not_quoted", "free"])
@pytest.mark.parametrize(
    "remedy",
    [RemedySpec(WAIVE), RemedySpec(REDUCE, max_percent=Decimal(50))],
    ids=["waive", "reduce"],
)
def test_delivery_remedies_need_a_delivery_charge(remedy, fee):
    # given
    spec = with_remedy(remedy)
    # when
    decision = decide(with_cart(delivery_charge=fee), [spec], remedy.kind)
    # then
    assert decision == refused(Reason("no_delivery_charge", NAME, "delivery_charge"), remedy.kind)


def test_a_discount_on_an_empty_cart_leaves_nothing_to_offer():
    # given
    spec = with_remedy(RemedySpec(DISCOUNT, max_percent=Decimal(10)))
    # when
    decision = decide(with_cart(value=Decimal("0.00")), [spec], DISCOUNT)
    # then
    assert decision == refused(Reason("zero_bound", NAME, "bound", "", "0.00 EUR"), DISCOUNT)


def test_a_bound_below_one_minor_unit_leaves_nothing_to_offer():
    # given: 1 % of 0.99 EUR is 0.0099 EUR, which rounds down to nothing
    spec = with_remedy(RemedySpec(DISCOUNT, max_percent=Decimal(1)))
    # when
    decision = decide(with_cart(value=Decimal("0.99")), [spec], DISCOUNT)
    # then
    assert decision == refused(Reason("zero_bound", NAME, "bound", "", "0.00 EUR"), DISCOUNT)


GIFT_REMEDY = RemedySpec(GIFT, gift_sku="GIFT-SOCKS", gift_value=Decimal("4.00"))


def test_a_free_gift_is_bounded_by_its_value():
    # given
    spec = with_remedy(GIFT_REMEDY)
    # when
    decision = decide(BASE_CTX, [spec], GIFT)
    # then
    assert decision == allowed(eur("4.00"), kind=GIFT, spec=spec, gift_sku="GIFT-SOCKS")


@pytest.mark.parametrize(
    ("limits", "spend"),
    [
        pytest.param({"max_per_offer": Decimal("3.99")}, spent(), id="max_per_offer"),
        pytest.param({"daily_budget": Decimal("10.00")}, spent(today="6.01"), id="daily"),
        pytest.param({"monthly_budget": Decimal("100.00")}, spent(month="96.01"), id="monthly"),
        pytest.param(
            {"per_agent_daily_cap": Decimal("5.00")}, spent(agent_today="1.01"), id="agent"
        ),
    ],
)
def test_a_free_gift_is_all_or_nothing(limits, spend):
    # given: every limit leaves 3.99 EUR, one cent short of the gift
    spec = with_limits(with_remedy(GIFT_REMEDY), **limits)
    ctx = dataclasses.replace(BASE_CTX, spend=((1, spend),))
    # when
    decision = decide(ctx, [spec], GIFT)
    # then
    assert decision == refused(
        Reason("gift_over_limit", NAME, "gift_value", "3.99 EUR", "4.00 EUR"), GIFT
    )
    assert decision.reason.message() == (
        "The gift is worth 4.00 EUR; policy “Delivery rescue” leaves 3.99 EUR for it."
    )


def test_a_free_gift_fits_a_budget_with_exactly_its_value_left():
    # given
    spec = with_limits(with_remedy(GIFT_REMEDY), daily_budget=Decimal("10.00"))
    ctx = dataclasses.replace(BASE_CTX, spend=((1, spent(today="6.00")),))
    # when
    decision = decide(ctx, [spec], GIFT)
    # then
    assert decision == allowed(eur("4.00"), kind=GIFT, spec=spec, gift_sku="GIFT-SOCKS")


def test_holding_stock_is_not_monetary_and_ignores_budgets():
    # given: every budget used up
    spec = with_limits(
        with_remedy(RemedySpec(HOLD, hold_hours=24)),
        max_per_offer=Decimal("1.00"),
        daily_budget=Decimal("10.00"),
        approval_above=Decimal("0.00"),
    )
    ctx = dataclasses.replace(BASE_CTX, spend=((1, spent(today="10.00")),))
    # when
    decision = decide(ctx, [spec], HOLD)
    # then
    assert decision == allowed(None, kind=HOLD, spec=spec, hold_hours=24)


# --- limits --------------------------------------------------------------------------


def test_max_per_offer_caps_the_bound():
    # given
    spec = with_limits(max_per_offer=Decimal("4.00"))
    # when
    decision = decide(BASE_CTX, [spec])
    # then
    assert decision == allowed(eur("4.00"), spec=spec)


@pytest.mark.parametrize(
    ("limit", "spend", "bound"),
    [
        ("daily_budget", spent(today="97.50"), "2.50"),
        ("monthly_budget", spent(month="96.00"), "4.00"),
        ("per_agent_daily_cap", spent(agent_today="99.01"), "0.99"),
    ],
)
def test_the_bound_is_what_is_left_of_a_budget(limit, spend, bound):
    # given
    spec = with_limits(**{limit: Decimal("100.00")})
    ctx = dataclasses.replace(BASE_CTX, spend=((1, spend),))
    # when
    decision = decide(ctx, [spec])
    # then
    assert decision == allowed(eur(bound), spec=spec)


@pytest.mark.parametrize(
    ("limit", "spend", "code", "actual"),
    [
        ("daily_budget", spent(today="100.00"), "budget_daily", "100.00 EUR"),
        ("daily_budget", spent(today="120.00"), "budget_daily", "120.00 EUR"),
        ("monthly_budget", spent(month="100.00"), "budget_monthly", "100.00 EUR"),
        ("per_agent_daily_cap", spent(agent_today="100.00"), "agent_cap", "100.00 EUR"),
    ],
)
def test_an_exhausted_budget_refuses(limit, spend, code, actual):
    # given
    spec = with_limits(**{limit: Decimal("100.00")})
    ctx = dataclasses.replace(BASE_CTX, spend=((1, spend),))
    # when
    decision = decide(ctx, [spec])
    # then
    assert decision == refused(Reason(code, NAME, code, "100.00 EUR", actual))


def test_budget_messages():
    # given
    daily = Reason("budget_daily", NAME, "budget_daily", "100.00 EUR", "100.00 EUR")
    agent = Reason("agent_cap", NAME, "agent_cap", "20.00 EUR", "20.00 EUR")
    # then
    assert daily.message() == (
        "Policy “Delivery rescue”’s daily budget is used up (100.00 EUR of 100.00 EUR)."
    )
    assert agent.message() == "You have used your daily 20.00 EUR under policy “Delivery rescue”."


def test_another_policys_spend_does_not_count():
    # given
    spec = with_limits(daily_budget=Decimal("100.00"))
    ctx = dataclasses.replace(BASE_CTX, spend=((2, spent(today="100.00")),))
    # when
    decision = decide(ctx, [spec])
    # then
    assert decision == allowed(eur("9.90"), spec=spec)


def test_a_negative_spend_never_lifts_a_budget_above_its_cap():
    # given: a counter that went below zero (a release counted twice)
    spec = with_limits(daily_budget=Decimal("5.00"))
    ctx = dataclasses.replace(BASE_CTX, spend=((1, spent(today="-20.00")),))
    # when
    decision = decide(ctx, [spec])
    # then
    assert decision == allowed(eur("5.00"), spec=spec)


def test_once_per_customer_refuses_within_the_period():
    # given
    spec = with_limits(once_per_customer_days=30)
    last = NOW - timedelta(days=30) + timedelta(seconds=1)
    shopper = dataclasses.replace(BASE_CTX.shopper, last_granted_at=((1, last),))
    ctx = dataclasses.replace(BASE_CTX, shopper=shopper)
    # when
    decision = decide(ctx, [spec])
    # then
    assert decision == refused(
        Reason("once_per_customer", NAME, "once_per_customer_days", "30", "2026-02-08")
    )


def test_once_per_customer_allows_again_after_the_period():
    # given
    spec = with_limits(once_per_customer_days=30)
    shopper = dataclasses.replace(
        BASE_CTX.shopper, last_granted_at=((1, NOW - timedelta(days=30)),)
    )
    ctx = dataclasses.replace(BASE_CTX, shopper=shopper)
    # when
    decision = decide(ctx, [spec])
    # then
    assert decision == allowed(eur("9.90"), spec=spec)


def test_once_per_customer_counts_only_this_policy():
    # given
    spec = with_limits(once_per_customer_days=30)
    shopper = dataclasses.replace(BASE_CTX.shopper, last_granted_at=((2, NOW),))
    ctx = dataclasses.replace(BASE_CTX, shopper=shopper)
    # when
    decision = decide(ctx, [spec])
    # then
    assert decision == allowed(eur("9.90"), spec=spec)


def test_an_agent_needs_approval_above_the_threshold():
    # given
    spec = with_limits(approval_above=Decimal("5.00"))
    # when
    decision = decide(BASE_CTX, [spec])
    # then
    assert decision == allowed(eur("9.90"), spec=spec, approval_above=eur("5.00"))


def test_a_supervisor_has_no_approval_threshold():
    # given
    spec = with_limits(approval_above=Decimal("5.00"))
    ctx = dataclasses.replace(BASE_CTX, agent=AgentFacts(agent_id=1, is_supervisor=True))
    # when
    decision = decide(ctx, [spec])
    # then
    assert decision == allowed(eur("9.90"), spec=spec, approval_above=None)


def test_the_smallest_of_all_limits_wins():
    # given
    spec = with_limits(
        with_remedy(RemedySpec(DISCOUNT, max_percent=Decimal(50), max_amount=Decimal("25.00"))),
        max_per_offer=Decimal("20.00"),
        daily_budget=Decimal("100.00"),
        monthly_budget=Decimal("500.00"),
        per_agent_daily_cap=Decimal("50.00"),
    )
    ctx = dataclasses.replace(
        BASE_CTX, spend=((1, spent(today="90.00", month="480.00", agent_today="38.50")),)
    )
    # when
    decision = decide(ctx, [spec], DISCOUNT)
    # then: 30.00 (50 %), 25.00, 20.00, 10.00 (day), 20.00 (month), 11.50 (agent)
    assert decision == allowed(eur("10.00"), kind=DISCOUNT, spec=spec)


# --- stacking ------------------------------------------------------------------------


def test_nothing_stacks_on_an_exclusive_remedy():
    # given
    ctx = dataclasses.replace(BASE_CTX, existing=(ExistingRemedy(DISCOUNT, exclusive=True),))
    # when
    decision = decide(ctx, [BASE_SPEC])
    # then
    assert decision == refused(Reason("exclusive_taken", NAME))


def test_an_exclusive_policy_does_not_combine_with_an_earlier_remedy():
    # given
    spec = dataclasses.replace(BASE_SPEC, stacking=Stacking.EXCLUSIVE)
    ctx = dataclasses.replace(BASE_CTX, existing=(ExistingRemedy(DISCOUNT, exclusive=False),))
    # when
    decision = decide(ctx, [spec])
    # then
    assert decision == refused(Reason("not_combinable", NAME))


def test_the_same_remedy_is_not_offered_twice():
    # given
    ctx = dataclasses.replace(BASE_CTX, existing=(ExistingRemedy(WAIVE, exclusive=False),))
    # when
    decision = decide(ctx, [BASE_SPEC])
    # then
    assert decision == refused(Reason("already_offered", NAME))


def test_a_waived_delivery_charge_is_not_reduced_as_well():
    # given: the delivery charge was waived (offered or accepted) on this cart
    spec = with_remedy(RemedySpec(REDUCE, max_percent=Decimal(50)))
    ctx = dataclasses.replace(BASE_CTX, existing=(ExistingRemedy(WAIVE, exclusive=False),))
    # when
    decision = decide(ctx, [spec], kind=REDUCE)
    # then: nothing is left to reduce, and the agent is told why
    assert decision == refused(Reason("delivery_waived", NAME), kind=REDUCE)
    assert decision.reason.message() == (
        "The delivery charge is already waived for this cart (or a waiver is on offer)."
    )


def test_combinable_remedies_stack():
    # given
    ctx = dataclasses.replace(BASE_CTX, existing=(ExistingRemedy(DISCOUNT, exclusive=False),))
    # when
    decision = decide(ctx, [BASE_SPEC])
    # then
    assert decision == allowed(eur("9.90"))


def test_an_exclusive_policy_says_so_on_a_fresh_cart():
    # given
    spec = dataclasses.replace(BASE_SPEC, stacking=Stacking.EXCLUSIVE)
    # when
    decision = decide(BASE_CTX, [spec])
    # then
    assert decision == allowed(eur("9.90"), spec=spec)
    assert decision.exclusive is True


# --- priority, determinism, nearest miss --------------------------------------------


def policy(policy_id: int, *, priority: int = 100, cap: str | None = None, **changes) -> PolicySpec:
    remedy = RemedySpec(WAIVE, max_amount=None if cap is None else Decimal(cap))
    return dataclasses.replace(
        BASE_SPEC,
        version_id=policy_id * 100,
        policy_id=policy_id,
        name=f"Policy {policy_id}",
        priority=priority,
        remedies=(remedy,),
        **changes,
    )


def test_the_lowest_priority_number_is_considered_first():
    # given
    generous = policy(1, priority=100)
    careful = policy(2, priority=10, cap="2.00")
    # when
    decision = decide(BASE_CTX, [generous, careful])
    # then
    assert decision == allowed(eur("2.00"), spec=careful)


def test_equal_priorities_are_ordered_by_policy_id_whatever_the_input_order():
    # given
    first = policy(3, cap="3.00")
    second = policy(8, cap="8.00")
    # when
    decisions = {decide(BASE_CTX, specs) for specs in ([first, second], [second, first])}
    # then
    assert decisions == {allowed(eur("3.00"), spec=first)}


def test_a_policy_that_does_not_apply_gives_way_to_the_next():
    # given
    strict = policy(1, priority=10, conditions=Conditions(min_cart_value=Decimal("100.00")))
    lenient = policy(2, priority=20)
    # when
    decision = decide(BASE_CTX, [strict, lenient])
    # then
    assert decision == allowed(eur("9.90"), spec=lenient)


def test_a_policy_with_its_budget_used_up_gives_way_to_the_next():
    # given
    spent_out = policy(1, priority=10, limits=Limits(daily_budget=Decimal("50.00")))
    other = policy(2, priority=20, cap="1.00")
    ctx = dataclasses.replace(BASE_CTX, spend=((1, spent(today="50.00")),))
    # when
    decision = decide(ctx, [spent_out, other])
    # then
    assert decision == allowed(eur("1.00"), spec=other)


def test_the_nearest_miss_is_the_policy_failing_fewest_conditions():
    # given: the first policy fails two conditions, the second only one
    far = policy(
        1,
        priority=10,
        conditions=Conditions(min_cart_value=Decimal("100.00"), countries=frozenset({"FR"})),
    )
    near = policy(2, priority=20, conditions=Conditions(stages=frozenset({"payment"})))
    # when
    decision = decide(BASE_CTX, [far, near])
    # then
    assert decision == refused(Reason("stage", "Policy 2", "stage", "payment", "shipping"))


def test_equally_near_misses_go_to_the_first_policy_in_priority_order():
    # given
    later = policy(1, priority=20, conditions=Conditions(stages=frozenset({"payment"})))
    first = policy(2, priority=10, conditions=Conditions(min_cart_value=Decimal("80.00")))
    # when
    decision = decide(BASE_CTX, [later, first])
    # then
    assert decision == refused(
        Reason("below_min_value", "Policy 2", "cart_value", "80.00 EUR", "60.00 EUR")
    )


def test_a_limit_refusal_counts_as_one_miss():
    # given: the first policy applies but its budget is used up; the second fails twice
    spent_out = policy(1, priority=10, limits=Limits(daily_budget=Decimal("50.00")))
    far = policy(
        2,
        priority=5,
        conditions=Conditions(min_cart_value=Decimal("100.00"), countries=frozenset({"FR"})),
    )
    ctx = dataclasses.replace(BASE_CTX, spend=((1, spent(today="50.00")),))
    # when
    decision = decide(ctx, [spent_out, far])
    # then
    assert decision == refused(
        Reason("budget_daily", "Policy 1", "budget_daily", "50.00 EUR", "50.00 EUR")
    )


@pytest.mark.parametrize(
    "out_of_force",
    [
        {"active": False},
        {"valid_until": NOW},
        {"valid_from": NOW + timedelta(days=1)},
        {"currency": "USD"},
    ],
    ids=["inactive", "expired", "not_yet_valid", "currency"],
)
def test_a_policy_not_in_force_is_never_the_nearest_miss_of_one_in_force(out_of_force):
    # given: a policy not in force comes first; one in force misses on two conditions
    first = policy(1, priority=10, **out_of_force)
    in_force = policy(
        2,
        priority=20,
        conditions=Conditions(min_cart_value=Decimal("100.00"), countries=frozenset({"FR"})),
    )
    # when
    decision = decide(BASE_CTX, [first, in_force])
    # then
    assert decision == refused(
        Reason("below_min_value", "Policy 2", "cart_value", "100.00 EUR", "60.00 EUR")
    )


def test_a_policy_not_in_force_is_the_reason_when_no_other_offers_the_remedy():
    # given
    off = policy(1, active=False)
    discount_only = dataclasses.replace(
        policy(2), remedies=(RemedySpec(DISCOUNT, max_percent=Decimal(5)),)
    )
    # when
    decision = decide(BASE_CTX, [off, discount_only])
    # then
    assert decision == refused(Reason("inactive", "Policy 1"))


def test_policies_without_the_remedy_are_not_misses():
    # given: the only policy offers a discount, not a waiver
    spec = with_remedy(RemedySpec(DISCOUNT, max_percent=Decimal(5)))
    # when
    decision = decide(BASE_CTX, [spec], WAIVE)
    # then
    assert decision == refused(Reason("no_policy"))
    assert decision.reason.message() == "No active policy offers this remedy."


def test_evaluate_accepts_any_iterable_of_policies():
    # when
    decision = evaluate(BASE_CTX, iter([BASE_SPEC])).for_kind(WAIVE)
    # then
    assert decision == allowed(eur("9.90"))
