"""The simulator: a synthetic population of shoppers sent through the real pipeline.

docs/ANALYTICS.md, "Simulator". Each shopper gets true rates we chose (conversion if invited, if
held out; a follow-up contact after outreach), goes through the same services a live shopper
and agent would (event ingestion with its validation, the stall sweep, invitations,
chat, offers within policy, grants, orders, grant redemption, helpdesk follow-ups, the
outcome finaliser), and the analytics are then read back, so that what they report can
be checked against the truth, and the demo has data to show.

How it stays honest and reproducible:

- Every random draw comes from one ``random.Random(seed)``, and the timeline is anchored
  at local midnight of the site's day (``simulation_horizon``), so the same seed gives the
  same summary on a fresh database on the same day.
- Nothing sleeps: every service takes the simulated moment as ``now``. Shoppers arrive
  over ``days`` days that end one day before the horizon, so every order falls inside its
  attribution window, in the past, and the finaliser closes every window.
- Conversion is intention-to-treat: every invited shopper converts with the invited
  rate, whatever they did with the invitation; held-out (and suppressed) shoppers with
  the held-out rate.
- Each shopper has a visitor id of their own (``sim-r<run>-<n>``), so frequency caps do
  not cut into the experiment; a small share of shoppers come back within the cap on
  purpose, to show "suppressed: frequency cap" (they never join the experiment).
- The sweep asks the "is an agent available?" check about its own moment (the default
  check takes ``now``), so simulated agents, who follow shifts, are online at simulated
  times; stalls outside the shifts are suppressed with "no agent available", as they
  would be.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Q, QuerySet

from agents.errors import ChatError
from agents.models import (
    AgentProfile,
    AgentStatus,
    CloseReason,
    Conversation,
    Invitation,
    Message,
    Sender,
)
from agents.services.assignment import conversation_close
from agents.services.conversations import conversation_message_post
from agents.services.invitations import (
    invitation_accept,
    invitation_dismiss,
    invitations_expire,
    invitations_mark_delivered,
)
from agents.services.presence import (
    agent_heartbeat,
    agent_status_set,
    is_online,
)
from cartassist.api.serializers import validate_events
from cartassist.domain.uplift import compare
from cartassist.models import (
    Cart,
    Decision,
    EventSource,
    EventType,
    FollowUpChannel,
    FollowUpContact,
    FollowUpReason,
    Intervention,
    Site,
    Stage,
    StallRule,
)
from cartassist.services.followups import follow_up_report
from cartassist.services.ingest import cart_events_ingest
from cartassist.services.outcomes import outcomes_finalise
from cartassist.services.sweep import stall_sweep
from policies.models import Grant, Offer, OfferStatus, Policy
from policies.services.grants import grant_redeem, grant_token
from policies.services.offers import OfferRefused, offer_accept, offer_authorize, offer_decline
from policies.services.versions import policy_version_create

# --- the population (fixed: only the true rates and the size are options) ----------------

# Why the shopper stalls, and the share of shoppers each way.
STALL_MIX: list[tuple[str, float]] = [
    ("shipping_shock", 0.35),
    ("payment_failed", 0.15),
    ("coupon_rejected", 0.10),
    ("idle", 0.40),
]
# Shoppers per local hour of the day (relative weights): quiet at night, busy evenings.
HOURLY_TRAFFIC = [
    1.0, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.4, 2.2, 2.6, 2.8, 3.0,
    3.2, 3.0, 2.8, 2.8, 3.0, 3.3, 3.8, 4.2, 4.3, 3.8, 2.8, 1.8,
]  # fmt: skip
# The simulated agents and their shifts (local hours, start inclusive, end exclusive):
# nobody is online from 23:00 to 08:00, so those stalls are suppressed.
AGENT_SHIFTS: list[tuple[str, int, int]] = [
    ("Robin (simulated)", 8, 16),
    ("Kim (simulated)", 12, 20),
    ("Jo (simulated)", 15, 23),
]
OPTED_OUT_SHARE = 0.01  # opted out of proactive chat earlier: suppressed
RETURNING_SHARE = 0.03  # an invited shopper back within the frequency cap: suppressed
DELIVERED_SHARE = 0.93  # the rest left before the widget showed the invitation
ACCEPT_SHARE = 0.45  # of delivered invitations
DISMISS_SHARE = 0.25  # of delivered invitations; the rest are ignored (they expire)
OFFER_ACCEPT_SHARE = 0.85  # of offers shown
NEW_CART_SHARE = 0.15  # converting shoppers who order on a new cart (same shopper)
# Reasons of helpdesk follow-ups: 45 % undesirable (the research), split three ways.
FOLLOW_UP_REASONS: list[tuple[str, float]] = [
    (FollowUpReason.NEEDED_CONFIRMATION, 0.20),
    (FollowUpReason.CHECKING_GENUINE, 0.12),
    (FollowUpReason.UNRESOLVED, 0.13),
    (FollowUpReason.OTHER, 0.55),
]
FOLLOW_UP_CHANNELS: list[tuple[str, float]] = [
    (FollowUpChannel.EMAIL, 0.45),
    (FollowUpChannel.PHONE, 0.35),
    (FollowUpChannel.SOCIAL, 0.10),
    (FollowUpChannel.OTHER, 0.10),
]
SHOCK_FEE = Decimal("9.90")
STANDARD_FEE = Decimal("4.90")

# A site the simulator creates: short, realistic stall thresholds.
SIMULATION_STALL_THRESHOLDS = {
    Stage.CART: timedelta(minutes=10),
    Stage.CONTACT: timedelta(minutes=5),
    Stage.SHIPPING: timedelta(minutes=3),
    Stage.PAYMENT: timedelta(minutes=3),
}
DEFAULT_SITE_NAME = "Simulated shop"
# The demo's analytics page shows the history of a site of its own, so that the live demo
# storefront (its site, agents, availability and console) is left exactly as it was.
DEMO_HISTORY_SITE_NAME = "Demo Storefront (simulated history)"
DEMO_HISTORY_SHOPPERS = 200

PRODUCTS = [
    ("SIM-MUG", "Enamel camp mug", Decimal("14.50")),
    ("SIM-PEN", "Brass pen", Decimal("24.00")),
    ("SIM-TEA", "Loose-leaf tea", Decimal("9.80")),
    ("SIM-BAG", "Canvas tote", Decimal("19.90")),
    ("SIM-LAMP", "Desk lamp", Decimal("42.00")),
    ("SIM-KNIFE", "Pocket knife", Decimal("36.50")),
]


@dataclass(frozen=True)
class SimulationConfig:
    shoppers: int = 2000
    days: int = 14
    invited_conversion: float = 0.30
    holdout_conversion: float = 0.18
    follow_up_rate: float = 0.25
    holdout_follow_up_rate: float = 0.05
    holdout_share: Decimal = Decimal("0.5")
    seed: int = 7

    def errors(self) -> list[str]:
        problems = []
        if self.shoppers < 1:
            problems.append("shoppers must be at least 1")
        if self.days < 1:
            problems.append("days must be at least 1")
        for name in (
            "invited_conversion",
            "holdout_conversion",
            "follow_up_rate",
            "holdout_follow_up_rate",
        ):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name.replace('_', '-')} must be between 0 and 1")
        if not Decimal(0) <= self.holdout_share <= Decimal(1):
            problems.append("holdout-share must be between 0 and 1")
        return problems


@dataclass(frozen=True)
class Measured:
    """What the analytics report for the simulated period (``source`` says which code)."""

    source: str  # "analytics_compute" or "interventions" (uplift applied to the table)
    invited: int
    invited_converted: int
    held_out: int
    held_out_converted: int
    invited_rate: float | None
    held_out_rate: float | None
    uplift: float | None
    uplift_low: float | None
    uplift_high: float | None
    invited_followed_up: int
    held_out_followed_up: int
    follow_up_rate: float | None
    held_out_follow_up_rate: float | None
    other_interventions: int  # in the period but not from this run (earlier runs, live)


@dataclass(frozen=True)
class SimulationSummary:
    config: SimulationConfig
    site_id: int
    site_name: str
    run: str
    date_from: date
    date_to: date
    shoppers: int
    stalled: int
    decisions: dict[str, int]
    suppression_reasons: dict[str, int]
    invitations: dict[str, int]
    conversations: int
    messages: int
    offers: dict[str, int]
    grants_issued: int
    grants_redeemed: int
    orders: int
    attribution: dict[str, int]
    follow_up_contacts: int
    follow_up_contacts_credited: int
    follow_up_reasons: dict[str, int]
    measured: Measured


# --- the agent availability check at the simulated moment ---------------------------------

# --- sites and agents ---------------------------------------------------------------------


def simulation_site_key(name: str) -> str:
    """A stable public key for a site the simulator creates (it salts the holdout)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "site"
    return f"pk_sim_{slug}"


@transaction.atomic
def simulation_site_ensure(*, name: str = DEFAULT_SITE_NAME, now: datetime) -> Site:
    """A site of its own for simulated shoppers, with stall rules and the demo's
    empowerment policies; found again by its key on the next run."""
    from cartassist.demo.seed import DEMO_POLICIES

    site, created = Site.objects.get_or_create(
        public_key=simulation_site_key(name),
        defaults={"name": name, "currency": "EUR", "timezone": "Europe/Berlin"},
    )
    if created:
        for stage, threshold in SIMULATION_STALL_THRESHOLDS.items():
            StallRule.objects.create(
                site=site,
                stage=stage,
                inactivity_threshold=threshold,
                minimum_cart_value=Decimal("10"),
            )
        for values in DEMO_POLICIES:
            defaults = {k: v for k, v in values.items() if k != "name"}
            policy, _ = Policy.objects.get_or_create(
                site=site, name=values["name"], defaults=defaults
            )
            policy_version_create(policy=policy, user=None, now=now)
    return site


def site_find(reference: str) -> Site | None:
    """A site by public key, or by name (case-insensitive)."""
    return (
        Site.objects.filter(public_key=reference).first()
        or Site.objects.filter(name__iexact=reference).order_by("pk").first()
    )


def _simulated_agents(site: Site) -> list[AgentProfile]:
    agents = []
    for number, (display_name, _, _) in enumerate(AGENT_SHIFTS, start=1):
        user, created = User.objects.get_or_create(username=f"sim-agent-{site.pk}-{number}")
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        agent, _ = AgentProfile.objects.get_or_create(
            user=user, defaults={"site": site, "display_name": display_name, "capacity": 3}
        )
        agents.append(agent)
    return agents


class SimulationError(Exception):
    pass


def _check_site(site: Site, agents: list[AgentProfile], now: datetime) -> None:
    if not StallRule.objects.filter(site=site, enabled=True).exists():
        raise SimulationError(f"Site “{site.name}” has no enabled stall rule: no cart would stall.")
    ours = {a.pk for a in agents}
    live = [
        a for a in AgentProfile.objects.filter(site=site).exclude(pk__in=ours) if is_online(a, now)
    ]
    if live:
        raise SimulationError(
            f"Agents are online on site “{site.name}” ({', '.join(str(a) for a in live)}): "
            "simulated chats could be routed to them. Simulate on a site of its own."
        )


# --- the run ------------------------------------------------------------------------------


def simulation_horizon(site: Site, now: datetime) -> datetime:
    """Local midnight of the site's day at ``now``: the end of the simulated period."""
    tz = zoneinfo.ZoneInfo(site.timezone)
    local = now.astimezone(tz)
    return datetime.combine(local.date(), time.min, tzinfo=tz)


def _run_tag(site: Site) -> str:
    """r1, r2, …: the first shopper of every run has cart ``sim-r<n>-00000-1``."""
    earlier = Cart.objects.filter(
        site=site, external_id__startswith="sim-r", external_id__endswith="-00000-1"
    ).count()
    return f"r{earlier + 1}"


def _pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    roll = rng.random() * sum(w for _, w in weighted)
    for value, weight in weighted:
        roll -= weight
        if roll < 0:
            return value
    return weighted[-1][0]


def _seconds(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=rng.uniform(low, high))


@dataclass
class _Shopper:
    index: int
    arrival: datetime
    stall: str
    visitor_id: str
    cart_id: str
    opted_out: bool
    returning: bool
    subtotal: Decimal = Decimal(0)
    lines: list[dict[str, Any]] = field(default_factory=list)
    fee: Decimal | None = None


@dataclass
class _Invited:
    """An invited shopper still inside the frequency cap (candidates to come back)."""

    visitor_id: str
    decided_at: datetime


class _Run:
    """One simulation run on one site (state shared by the steps of every shopper)."""

    def __init__(self, *, site: Site, config: SimulationConfig, now: datetime) -> None:
        self.site = site
        self.config = config
        self.now = now
        self.rng = random.Random(config.seed)
        self.tz = zoneinfo.ZoneInfo(site.timezone)
        self.horizon = simulation_horizon(site, now)
        self.first_day = (self.horizon - timedelta(days=config.days + 1)).date()
        self.run = _run_tag(site)
        self.prefix = f"sim-{self.run}-"
        self.agents = _simulated_agents(site)
        self.recently_invited: list[_Invited] = []
        self.events = 0
        self.agent_status: dict[int, str] = {}
        self.cap = timedelta(hours=site.frequency_cap_hours)
        self.window = timedelta(hours=site.attribution_window_hours)
        self.follow_up_window = timedelta(days=site.follow_up_window_days)

    # -- the population --

    def population(self) -> list[_Shopper]:
        """Every shopper's arrival and stall, drawn up front, oldest first."""
        rng = self.rng
        hours = list(range(24))
        shoppers = []
        for index in range(self.config.shoppers):
            day = self.first_day + timedelta(days=rng.randrange(self.config.days))
            hour = rng.choices(hours, weights=HOURLY_TRAFFIC)[0]
            local = datetime.combine(day, time(hour), tzinfo=self.tz) + _seconds(rng, 0, 3599)
            shoppers.append(
                _Shopper(
                    index=index,
                    arrival=local.astimezone(zoneinfo.ZoneInfo("UTC")),
                    stall=_pick(rng, STALL_MIX),
                    visitor_id=f"{self.prefix}{index:05d}",
                    cart_id=f"{self.prefix}{index:05d}-1",
                    opted_out=rng.random() < OPTED_OUT_SHARE,
                    returning=rng.random() < RETURNING_SHARE,
                )
            )
        shoppers.sort(key=lambda s: (s.arrival, s.index))
        return shoppers

    def _basket(self, shopper: _Shopper) -> None:
        """Lines and subtotal to fit the stall: a shipping shock needs the 9.90 fee to be a
        large share of a modest cart (and the demo policy a cart of 30 or more)."""
        rng = self.rng
        low, high = (
            (Decimal("30"), Decimal("60"))
            if shopper.stall == "shipping_shock"
            else (Decimal("35"), Decimal("160"))
        )
        lines: list[dict[str, Any]] = []
        subtotal = Decimal(0)
        while subtotal < low or not lines:
            sku, name, price = PRODUCTS[rng.randrange(len(PRODUCTS))]
            if lines and subtotal + price > high:
                break
            lines.append({"sku": sku, "name": name, "quantity": 1, "unit_price": str(price)})
            subtotal += price
        shopper.lines, shopper.subtotal = lines, subtotal
        shopper.fee = SHOCK_FEE if shopper.stall == "shipping_shock" else STANDARD_FEE

    # -- the steps of one shopper --

    def shopper_run(self, shopper: _Shopper) -> None:
        with transaction.atomic():
            if shopper.returning:
                self._reuse_visitor(shopper)
            self._basket(shopper)
            last = self._browse(shopper)
            cart = Cart.objects.get(site=self.site, external_id=shopper.cart_id)
            if cart.stall_deadline is None:
                return  # no rule applies (a site's own rules): the cart never stalls
            swept_at = cart.stall_deadline + _seconds(self.rng, 0, 10)
            self._agents_at(swept_at)
            stall_sweep(now=swept_at, site_ids=[self.site.pk])
            intervention = (
                Intervention.objects.filter(cart=cart)
                .select_related("invitation")
                .order_by("-pk")
                .first()
            )
            if intervention is None:  # pragma: no cover - the sweep decides every claimed cart
                return
            grant = None
            if intervention.decision == Decision.INVITED:
                self.recently_invited.append(_Invited(shopper.visitor_id, swept_at))
                grant = self._outreach(shopper, intervention)
            self._order(shopper, intervention, grant, after=max(last, swept_at))
            self._follow_up(shopper, intervention)

    def _reuse_visitor(self, shopper: _Shopper) -> None:
        """Come back as a shopper invited within the frequency cap (the sweep suppresses)."""
        recent = [
            i
            for i in self.recently_invited
            if timedelta(hours=1) < shopper.arrival - i.decided_at < self.cap - timedelta(hours=1)
        ]
        if recent:
            shopper.visitor_id = recent[self.rng.randrange(len(recent))].visitor_id
        else:
            shopper.returning = False

    def _event(
        self, shopper: _Shopper, kind: str, at: datetime, data: dict[str, Any], *, cart_id: str = ""
    ) -> dict[str, Any]:
        cart = cart_id or shopper.cart_id
        self.events += 1
        return {
            "id": f"{cart}-e{self.events}",
            "type": kind,
            "occurred_at": at.isoformat(),
            "cart_id": cart,
            "visitor_id": shopper.visitor_id,
            "data": data,
        }

    def _ingest(self, raw: list[dict[str, Any]], *, source: EventSource, now: datetime) -> None:
        events = validate_events(raw, site=self.site, trusted=source == EventSource.SERVER, now=now)
        cart_events_ingest(site=self.site, events=events, source=source, now=now)

    def _browse(self, shopper: _Shopper) -> datetime:
        """The widget's events up to the stall; returns the time of the last one."""
        rng = self.rng
        at = shopper.arrival
        currency = self.site.currency
        raw = []
        if shopper.opted_out:
            raw.append(self._event(shopper, EventType.OPTED_OUT, at, {}))
            at += _seconds(rng, 5, 30)
        raw.append(
            self._event(
                shopper,
                EventType.CART_UPDATED,
                at,
                {"currency": currency, "subtotal": str(shopper.subtotal), "lines": shopper.lines},
            )
        )
        steps: list[tuple[str, dict[str, Any]]] = []
        if shopper.stall == "idle":
            if rng.random() < 0.5:
                steps.append((EventType.CHECKOUT_STEP, {"step": "contact"}))
        elif shopper.stall == "coupon_rejected":
            steps.append((EventType.COUPON_REJECTED, {"code": f"SAVE{rng.randrange(5, 30)}"}))
        else:
            steps.append((EventType.CHECKOUT_STEP, {"step": "contact"}))
            steps.append((EventType.CHECKOUT_STEP, {"step": "shipping"}))
            steps.append(
                (
                    EventType.SHIPPING_QUOTED,
                    {"currency": currency, "fee": str(shopper.fee), "method": "standard"},
                )
            )
            if shopper.stall == "payment_failed":
                steps.append((EventType.CHECKOUT_STEP, {"step": "payment"}))
                steps.append((EventType.PAYMENT_FAILED, {"reason": "card_declined"}))
        for kind, data in steps:
            at += _seconds(rng, 15, 90)
            raw.append(self._event(shopper, kind, at, data))
        self._ingest(raw, source=EventSource.WIDGET, now=at + timedelta(seconds=1))
        return at

    def _agents_at(self, moment: datetime) -> None:
        """Each simulated agent online during their shift (status and heartbeat through
        the presence service, at the simulated moment), offline outside it."""
        hour = moment.astimezone(self.tz).hour
        for agent, (_, start, end) in zip(self.agents, AGENT_SHIFTS, strict=True):
            status = AgentStatus.ONLINE if start <= hour < end else AgentStatus.OFFLINE
            if status == AgentStatus.ONLINE or self.agent_status.get(agent.pk) != status:
                agent_status_set(agent_id=agent.pk, status=status, now=moment)
                self.agent_status[agent.pk] = status

    def _heartbeats(self, moment: datetime) -> None:
        hour = moment.astimezone(self.tz).hour
        for agent, (_, start, end) in zip(self.agents, AGENT_SHIFTS, strict=True):
            if start <= hour < end:
                agent_heartbeat(agent_id=agent.pk, now=moment)

    def _outreach(self, shopper: _Shopper, intervention: Intervention) -> Grant | None:
        """Invitation delivered, accepted / dismissed / ignored; the chat; an offer."""
        rng = self.rng
        invitation = intervention.invitation
        if rng.random() >= DELIVERED_SHARE:
            return None  # the shopper had left: it expires undelivered
        at = invitation.sent_at + _seconds(rng, 1, 4)
        invitations_mark_delivered(invitation_ids=[invitation.pk], now=at)
        roll = rng.random()
        at += _seconds(rng, 5, 120)
        if roll >= ACCEPT_SHARE + DISMISS_SHARE:
            return None  # ignored: expires
        if roll >= ACCEPT_SHARE:
            invitation_dismiss(
                site_id=self.site.pk,
                visitor_id=shopper.visitor_id,
                invitation_id=invitation.pk,
                now=at,
            )
            return None
        self._heartbeats(at)
        conversation = invitation_accept(
            site_id=self.site.pk,
            visitor_id=shopper.visitor_id,
            invitation_id=invitation.pk,
            now=at,
        )
        return self._chat(shopper, conversation, at)

    def _post(
        self, conversation: Conversation, sender: Sender, text: str, at: datetime, key: str
    ) -> None:
        conversation_message_post(
            conversation_id=conversation.pk,
            sender=sender,
            client_message_id=f"{conversation.pk}-{key}",
            text=text,
            now=at,
            agent=conversation.agent if sender == Sender.AGENT else None,
        )

    def _chat(self, shopper: _Shopper, conversation: Conversation, at: datetime) -> Grant | None:
        rng = self.rng
        if conversation.agent is None:
            # Queued (no free seat): the shopper waits a while and leaves.
            conversation_close(
                conversation_id=conversation.pk,
                reason=CloseReason.VISITOR_TIMEOUT,
                now=at + _seconds(rng, 120, 600),
            )
            return None
        opener = {
            "shipping_shock": "Hi, the delivery charge is more than I expected.",
            "payment_failed": "My card was declined, what can I do?",
            "coupon_rejected": "Why doesn't my coupon work?",
            "idle": "Hi, I have a question about delivery times.",
        }[shopper.stall]
        visitor_at = at + _seconds(rng, 5, 40)
        self._post(conversation, Sender.VISITOR, opener, visitor_at, "v1")
        at = visitor_at + _seconds(rng, 8, 90)
        self._heartbeats(at)
        self._post(conversation, Sender.AGENT, "Hi! Let me look at your order.", at, "a1")
        grant = None
        if shopper.stall == "shipping_shock":
            at += _seconds(rng, 15, 60)
            grant, at = self._offer(shopper, conversation, at)
        for turn in range(rng.randrange(0, 3)):
            at += _seconds(rng, 10, 60)
            self._post(
                conversation, Sender.VISITOR, "Thanks, one more question.", at, f"v{turn + 2}"
            )
            at += _seconds(rng, 10, 60)
            self._heartbeats(at)
            self._post(conversation, Sender.AGENT, "Of course, happy to help.", at, f"a{turn + 2}")
        conversation_close(
            conversation_id=conversation.pk,
            reason=CloseReason.AGENT,
            now=at + _seconds(rng, 30, 240),
        )
        return grant

    def _offer(
        self, shopper: _Shopper, conversation: Conversation, at: datetime
    ) -> tuple[Grant | None, datetime]:
        """Waive the delivery charge (reduce it by half if the waive is refused, e.g. the
        day's budget is spent); the shopper accepts most offers."""
        rng = self.rng
        assert shopper.fee is not None
        agent = conversation.agent
        if agent is None:  # still queued: nobody can make an offer
            return None, at
        offer = None
        for kind, amount in (
            ("waive_delivery", shopper.fee),
            ("reduce_delivery", (shopper.fee / 2).quantize(Decimal("0.01"))),
        ):
            try:
                offer = offer_authorize(
                    agent=agent,
                    conversation_id=conversation.pk,
                    kind=kind,
                    amount=str(amount),
                    now=at,
                )
                break
            except OfferRefused:
                continue
        if offer is None or offer.status != OfferStatus.OFFERED:
            return None, at
        at += _seconds(rng, 10, 90)
        if rng.random() >= OFFER_ACCEPT_SHARE:
            offer_decline(
                site_id=self.site.pk, visitor_id=shopper.visitor_id, offer_id=offer.pk, now=at
            )
            return None, at
        try:
            offer = offer_accept(
                site_id=self.site.pk, visitor_id=shopper.visitor_id, offer_id=offer.pk, now=at
            )
        except ChatError:
            return None, at
        grant = Grant.objects.filter(offer=offer).first()
        return grant, at

    def _order(
        self,
        shopper: _Shopper,
        intervention: Intervention,
        grant: Grant | None,
        *,
        after: datetime,
    ) -> None:
        """Intention to treat: every invited shopper converts with the invited rate."""
        rng = self.rng
        rate = (
            self.config.invited_conversion
            if intervention.decision == Decision.INVITED
            else self.config.holdout_conversion
        )
        if rng.random() >= rate:
            return
        decided = intervention.decided_at
        if grant is not None:
            # Checks out soon after accepting, well within the grant's life.
            at = grant.issued_at + _seconds(rng, 60, 0.8 * _ttl_seconds(grant))
        elif rng.random() < 0.5:
            at = decided + _seconds(rng, 120, 2 * 3600)
        else:
            at = decided + _seconds(rng, 2 * 3600, self.window.total_seconds() - 600)
        at = max(at, after + timedelta(seconds=30))
        new_cart = not shopper.returning and rng.random() < NEW_CART_SHARE
        cart_id = f"{self.prefix}{shopper.index:05d}-2" if new_cart else shopper.cart_id
        order_id = f"{self.prefix}{shopper.index:05d}-order"
        if new_cart:
            self._ingest(
                [
                    self._event(
                        shopper,
                        EventType.CART_UPDATED,
                        at - _seconds(rng, 60, 300),
                        {
                            "currency": self.site.currency,
                            "subtotal": str(shopper.subtotal),
                            "lines": shopper.lines,
                        },
                        cart_id=cart_id,
                    )
                ],
                source=EventSource.WIDGET,
                now=at,
            )
        reduction = grant.amount if grant is not None and grant.amount is not None else Decimal(0)
        total = shopper.subtotal + (shopper.fee or Decimal(0)) - reduction
        order = self._event(
            shopper,
            EventType.ORDER_COMPLETED,
            at,
            {"order_id": order_id, "currency": self.site.currency, "total": f"{total:.2f}"},
            cart_id=cart_id,
        )
        self._ingest([order], source=EventSource.SERVER, now=at + timedelta(seconds=1))
        if grant is not None:
            grant_redeem(
                site=self.site,
                token=grant_token(grant),
                order_id=order_id,
                idempotency_key=order_id,
                now=at + timedelta(seconds=2),
            )

    def _follow_up(self, shopper: _Shopper, intervention: Intervention) -> None:
        """A helpdesk contact after outreach (or in the control group, the baseline)."""
        rng = self.rng
        if intervention.decision == Decision.INVITED:
            rate = self.config.follow_up_rate
        elif intervention.decision == Decision.HELD_OUT:
            rate = self.config.holdout_follow_up_rate
        else:
            return
        if rng.random() >= rate:
            return
        decided = intervention.decided_at
        latest = min(self.follow_up_window, self.horizon - decided) - timedelta(minutes=5)
        delay = min(timedelta(seconds=rng.expovariate(1 / 86_400) + 600), latest)
        at = decided + delay
        follow_up_report(
            site=self.site,
            key=f"{self.prefix}{shopper.index:05d}-contact",
            channel=_pick(rng, FOLLOW_UP_CHANNELS),
            reason=_pick(rng, FOLLOW_UP_REASONS),
            visitor_id=shopper.visitor_id,
            customer_id="",
            occurred_at=at,
            note="Simulated helpdesk contact.",
            now=at + timedelta(minutes=1),
        )


def _ttl_seconds(grant: Grant) -> float:
    return (grant.expires_at - grant.issued_at).total_seconds()


def simulate(*, site: Site, config: SimulationConfig, now: datetime) -> SimulationSummary:
    """Send ``config.shoppers`` synthetic shoppers through the pipeline on ``site``.

    1. Draw the population (arrival, stall reason) from ``config.seed``.
    2. Set the site's holdout share for the run and switch outreach on (both restored
       afterwards); agents' presence is checked at each simulated moment.
    3. For each shopper, oldest first, in one transaction: cart events → sweep at the
       stall deadline → invitation, chat, offer and grant (invited) → order and grant
       redemption (with the true rate of the shopper's arm) → helpdesk follow-up.
    4. Expire what was ignored and finalise every outcome (``now`` is after every
       attribution window), then read the analytics back.
    """
    problems = config.errors()
    if problems:
        raise SimulationError("; ".join(problems))
    run = _Run(site=site, config=config, now=now)
    _check_site(site, run.agents, now)
    saved = Site.objects.filter(pk=site.pk).values("holdout_share", "agents_available").get()
    Site.objects.filter(pk=site.pk).update(
        holdout_share=config.holdout_share, agents_available=True
    )
    site.refresh_from_db()
    try:
        for shopper in run.population():
            run.shopper_run(shopper)
    finally:
        Site.objects.filter(pk=site.pk).update(**saved)
        site.refresh_from_db()
    invitations_expire(now=run.horizon)
    outcomes_finalise(now=now)
    return _summary(run)


# Enough of an effect for 200 shoppers to show an interval above zero, usually.
DEMO_HISTORY_CONFIG = SimulationConfig(
    shoppers=DEMO_HISTORY_SHOPPERS, invited_conversion=0.35, holdout_conversion=0.17
)


def demo_history_ensure(
    *, shoppers: int = DEMO_HISTORY_SHOPPERS, now: datetime
) -> SimulationSummary | None:
    """The demo's simulated history, the first time only (None when it exists already):
    ``shoppers`` shoppers over 14 days on a site of its own (DEMO_HISTORY_CONFIG)."""
    if shoppers <= 0:
        return None
    site = simulation_site_ensure(name=DEMO_HISTORY_SITE_NAME, now=now)
    if Intervention.objects.filter(site=site).exists():
        return None
    config = dataclasses.replace(DEMO_HISTORY_CONFIG, shoppers=shoppers)
    return simulate(site=site, config=config, now=now)


# --- the summary --------------------------------------------------------------------------


def _summary(run: _Run) -> SimulationSummary:
    site = run.site
    ours = Intervention.objects.filter(site=site, visitor_id__startswith=run.prefix)
    decisions = Counter(ours.values_list("decision", flat=True))
    suppressions = Counter(
        ours.filter(decision=Decision.SUPPRESSED).values_list("suppression_reason", flat=True)
    )
    invitations = Counter(
        Invitation.objects.filter(site=site, visitor_id__startswith=run.prefix).values_list(
            "status", flat=True
        )
    )
    conversations = Conversation.objects.filter(site=site, visitor_id__startswith=run.prefix)
    offers = Counter(
        Offer.objects.filter(
            site=site, conversation__visitor_id__startswith=run.prefix
        ).values_list("status", flat=True)
    )
    grants = Grant.objects.filter(site=site, cart__visitor_id__startswith=run.prefix)
    contacts = FollowUpContact.objects.filter(site=site, key__startswith=run.prefix)
    return SimulationSummary(
        config=run.config,
        site_id=site.pk,
        site_name=site.name,
        run=run.run,
        date_from=run.first_day,
        date_to=run.horizon.date(),
        shoppers=run.config.shoppers,
        stalled=ours.values("cart_id").distinct().count(),
        decisions=dict(sorted(decisions.items())),
        suppression_reasons=dict(sorted(suppressions.items())),
        invitations=dict(sorted(invitations.items())),
        conversations=conversations.count(),
        messages=Message.objects.filter(conversation__in=conversations).count(),
        offers=dict(sorted(offers.items())),
        grants_issued=grants.count(),
        grants_redeemed=grants.filter(redeemed_at__isnull=False).count(),
        orders=Cart.objects.filter(
            site=site, visitor_id__startswith=run.prefix, status="converted"
        ).count(),
        attribution=dict(
            sorted(
                Counter(ours.filter(converted=True).values_list("attribution", flat=True)).items()
            )
        ),
        follow_up_contacts=contacts.count(),
        follow_up_contacts_credited=contacts.filter(intervention__isnull=False).count(),
        follow_up_reasons=dict(sorted(Counter(contacts.values_list("reason", flat=True)).items())),
        measured=_measure(run, ours.count()),
    )


def _measure(run: _Run, ours: int) -> Measured:
    """The figures as the analytics report them for the site and the simulated period."""
    site = run.site
    date_from, date_to = run.first_day, run.horizon.date()
    start = datetime.combine(date_from, time.min, tzinfo=run.tz)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=run.tz)
    in_period = Intervention.objects.filter(site=site, decided_at__gte=start, decided_at__lt=end)
    other = in_period.count() - ours
    try:
        from cartassist.services.analytics import analytics_compute
    except ImportError:  # pragma: no cover - the analytics may be absent in a partial tree
        return _measure_from_interventions(in_period, other)
    report = analytics_compute(site_ids=[site.pk], date_from=date_from, date_to=date_to, tz=run.tz)
    conversion, follow_ups = report.conversion, report.follow_ups.rate
    return Measured(
        source="analytics_compute",
        invited=conversion.invited,
        invited_converted=conversion.invited_successes,
        held_out=conversion.held_out,
        held_out_converted=conversion.held_out_successes,
        invited_rate=conversion.invited_rate,
        held_out_rate=conversion.held_out_rate,
        uplift=conversion.uplift,
        uplift_low=conversion.uplift_low,
        uplift_high=conversion.uplift_high,
        invited_followed_up=follow_ups.invited_successes,
        held_out_followed_up=follow_ups.held_out_successes,
        follow_up_rate=follow_ups.invited_rate,
        held_out_follow_up_rate=follow_ups.held_out_rate,
        other_interventions=other,
    )


def _measure_from_interventions(interventions: QuerySet[Intervention], other: int) -> Measured:
    """The same figures straight from the Intervention table (cartassist.domain.uplift)."""
    arms = {
        row["decision"]: row
        for row in interventions.filter(decision__in=[Decision.INVITED, Decision.HELD_OUT])
        .order_by()
        .values("decision")
        .annotate(
            n=Count("id"),
            converted_n=Count("id", filter=Q(converted=True)),
            followed_n=Count("id", filter=Q(follow_ups__gt=0)),
        )
    }
    empty = {"n": 0, "converted_n": 0, "followed_n": 0}
    invited = arms.get(Decision.INVITED, empty)
    held_out = arms.get(Decision.HELD_OUT, empty)
    conversion = compare(
        invited["converted_n"], invited["n"], held_out["converted_n"], held_out["n"]
    )
    follow = compare(invited["followed_n"], invited["n"], held_out["followed_n"], held_out["n"])
    return Measured(
        source="interventions",
        invited=invited["n"],
        invited_converted=invited["converted_n"],
        held_out=held_out["n"],
        held_out_converted=held_out["converted_n"],
        invited_rate=conversion.rate_a,
        held_out_rate=conversion.rate_b,
        uplift=conversion.difference,
        uplift_low=conversion.interval.low if conversion.interval else None,
        uplift_high=conversion.interval.high if conversion.interval else None,
        invited_followed_up=invited["followed_n"],
        held_out_followed_up=held_out["followed_n"],
        follow_up_rate=follow.rate_a,
        held_out_follow_up_rate=follow.rate_b,
        other_interventions=other,
    )


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _points(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.1f} pp"


def standard_error(rate: float, n: int) -> float:
    """The binomial standard error of a rate measured on ``n`` shoppers."""
    return math.sqrt(rate * (1 - rate) / n) if n else math.inf


def summary_lines(summary: SimulationSummary) -> list[str]:
    """The summary as the command prints it."""
    c, m = summary.config, summary.measured
    true_uplift = c.invited_conversion - c.holdout_conversion
    inside = (
        m.uplift_low is not None
        and m.uplift_high is not None
        and m.uplift_low <= true_uplift <= m.uplift_high
    )
    lines = [
        f"Simulated {summary.shoppers} shoppers on “{summary.site_name}” (run {summary.run}, "
        f"seed {c.seed}), decided {summary.date_from} to {summary.date_to}.",
        "",
        "True rates used",
        f"  conversion if invited     {_percent(c.invited_conversion)}",
        f"  conversion if held out    {_percent(c.holdout_conversion)}",
        f"  uplift                    {_points(true_uplift)}",
        f"  follow-up after outreach  {_percent(c.follow_up_rate)}   "
        f"(held out: {_percent(c.holdout_follow_up_rate)})",
        f"  holdout share             {_percent(float(c.holdout_share))}",
        "",
        f"Measured (read back from {m.source})",
        f"  invited                   {m.invited_converted} / {m.invited} converted = "
        f"{_percent(m.invited_rate)}",
        f"  held out                  {m.held_out_converted} / {m.held_out} converted = "
        f"{_percent(m.held_out_rate)}",
        f"  uplift                    {_points(m.uplift)}, 95 % CI "
        f"[{_points(m.uplift_low)}, {_points(m.uplift_high)}]"
        f" — {'contains' if inside else 'does NOT contain'} the true uplift",
        f"  follow-up after outreach  {m.invited_followed_up} / {m.invited} = "
        f"{_percent(m.follow_up_rate)}   (held out: {m.held_out_followed_up} / {m.held_out} = "
        f"{_percent(m.held_out_follow_up_rate)})",
    ]
    if m.other_interventions:
        lines.append(
            f"  note: the period also holds {m.other_interventions} interventions that are not "
            "from this run; simulate on a site of its own for figures of this run alone."
        )
    lines += [
        "",
        "Through the pipeline",
        f"  stalled carts             {summary.stalled}   decisions: {_counts(summary.decisions)}",
        f"  suppressed because        {_counts(summary.suppression_reasons) or '—'}",
        f"  invitations               {_counts(summary.invitations)}",
        f"  chats                     {summary.conversations} with {summary.messages} messages",
        f"  offers                    {_counts(summary.offers) or '—'}",
        f"  grants                    {summary.grants_issued} issued, "
        f"{summary.grants_redeemed} redeemed",
        f"  orders                    {summary.orders}   attributed: "
        f"{_counts(summary.attribution) or '—'}",
        f"  follow-up contacts        {summary.follow_up_contacts} "
        f"({summary.follow_up_contacts_credited} credited to an intervention): "
        f"{_counts(summary.follow_up_reasons) or '—'}",
    ]
    return lines


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{key or 'none'} {value}" for key, value in counts.items())
