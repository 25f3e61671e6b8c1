"""The experiment's arm of each shopper (docs/ANALYTICS.md, "The arms"; ADR 0023).

Randomised per shopper, not per cart, so that one shopper's carts never land in both arms
and a returning shopper cannot carry outreach into the holdout. A shopper is every cart
linked, transitively, by a visitor id or a customer id (``shoppers.py``, ADR 0008).

The rule, at each decision (the sweep, an agent's reach-out):

1. If any cart of the shopper already has an intervention with a recorded arm, the arm
   of the earliest one (by decision time, then id) is the shopper's arm. It was recorded
   at that decision and is never rewritten, so shoppers merged later keep the arms their
   outreach already happened in; the merged shopper's later carts follow the earlier of
   the two.
2. Otherwise the arm is drawn: ``is_held_out`` of the shop's id of the shopper's first
   cart (the cart whose id names the shopper, the smallest), salted with the site's
   public key, at the site's current holdout share. A shopper with one cart is drawn
   exactly as per-cart randomisation drew it; concurrent sweepers deciding two carts of
   a new shopper draw the same arm; the simulator draws the same arms in any database.

The answer also says whether the shopper is *returning*: had an earlier intervention
(a CUPED covariate, known at decision time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Q

from cartassist.carts.models import Arm, Cart, Intervention, ShopperIdentity, Site
from cartassist.carts.services.shoppers import cart_identities, shopper_numbers
from cartassist.domain.attribution import CUSTOMER, VISITOR, IdentityKey
from cartassist.domain.holdout import is_held_out

# A shopper: ("shopper", number) when linked (ShopperIdentity); ("identity", key) for a
# cart whose identities were never linked (matched by its visitor or customer id alone);
# ("cart", cart id) for a cart with neither.
ShopperKey = tuple[str, object]


@dataclass(frozen=True)
class Assignment:
    arm: Arm
    returning: bool


def shopper_arms(*, site: Site, carts: Sequence[Cart]) -> dict[int, Assignment]:
    """The arm of each cart's shopper and whether the shopper is returning, by cart id.

    ``carts`` are taken in order: of two carts of one new shopper, the second is
    returning (the first is decided before it). Four queries whatever the number of
    carts: the identities' shoppers, the shoppers' identities, their earliest recorded
    arms and their first carts' shop ids. A cart whose identities were never linked
    (ingestion links them) is matched by its own visitor and customer ids.
    """
    keys = {
        cart.pk: cart_identities(visitor_id=cart.visitor_id, customer_ids=[cart.customer_id])
        for cart in carts
    }
    numbers = shopper_numbers(site_id=site.pk, keys={k for ks in keys.values() for k in ks})
    shopper_of: dict[int, ShopperKey] = {}
    key_of: dict[IdentityKey, ShopperKey] = {}
    for cart in carts:
        found = [numbers[key] for key in keys[cart.pk] if key in numbers]
        if found:
            shopper_of[cart.pk] = ("shopper", min(found))
        elif keys[cart.pk]:
            shopper_of[cart.pk] = key_of.get(min(keys[cart.pk])) or ("identity", min(keys[cart.pk]))
            for key in keys[cart.pk]:
                key_of.setdefault(key, shopper_of[cart.pk])
        else:
            shopper_of[cart.pk] = ("cart", cart.pk)
    linked = {
        number
        for kind, number in shopper_of.values()
        if kind == "shopper" and isinstance(number, int)
    }
    for kind, value, number in ShopperIdentity.objects.filter(
        site_id=site.pk, shopper_id__in=linked
    ).values_list("kind", "value", "shopper_id"):
        key_of[kind, value] = ("shopper", number)
    recorded = _earliest_arms(site=site, key_of=key_of, shopper_of=shopper_of)
    first_cart = dict(
        Cart.objects.filter(site_id=site.pk, pk__in=linked).values_list("pk", "external_id")
    )
    assigned: dict[int, Assignment] = {}
    for cart in carts:
        shopper = shopper_of[cart.pk]
        arm = recorded.get(shopper)
        returning = arm is not None
        if arm is None:
            drawn_from = cart.external_id
            if shopper[0] == "shopper" and isinstance(shopper[1], int):
                drawn_from = first_cart.get(shopper[1], drawn_from)
            held_out = is_held_out(drawn_from, site.holdout_share, salt=site.public_key)
            arm = Arm.HOLDOUT if held_out else Arm.OUTREACH
            recorded[shopper] = arm  # a later cart of this shopper in ``carts`` returns
        assigned[cart.pk] = Assignment(arm=arm, returning=returning)
    return assigned


def _earliest_arms(
    *, site: Site, key_of: dict[IdentityKey, ShopperKey], shopper_of: dict[int, ShopperKey]
) -> dict[ShopperKey, Arm]:
    """The arm of each shopper's earliest intervention that has one."""
    visitors = [value for kind, value in key_of if kind == VISITOR]
    customers = [value for kind, value in key_of if kind == CUSTOMER]
    bare = [cart_id for (kind, cart_id) in shopper_of.values() if kind == "cart"]
    query = Q(cart_id__in=bare)
    if visitors:
        query |= Q(visitor_id__in=visitors)
    if customers:
        query |= Q(cart__customer_id__in=customers)
    earliest: dict[ShopperKey, Arm] = {}
    rows = (
        Intervention.objects.filter(query, site_id=site.pk)
        .exclude(arm=Arm.NONE)
        .order_by("decided_at", "pk")
        .values_list("cart_id", "visitor_id", "cart__customer_id", "arm")
    )
    for cart_id, visitor_id, customer_id, arm in rows:
        shopper = (
            key_of.get((VISITOR, visitor_id))
            or key_of.get((CUSTOMER, customer_id))
            or ("cart", cart_id)
        )
        earliest.setdefault(shopper, Arm(arm))
    return earliest
