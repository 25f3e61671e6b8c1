"""One run: each shopper's journey through the real services, step by step."""

from __future__ import annotations

import random
import zoneinfo
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction

from agents.errors import ChatError
from agents.models import (
    AgentStatus,
    CloseReason,
    Conversation,
    Sender,
)
from agents.services.assignment import conversation_close
from agents.services.conversations import conversation_message_post
from agents.services.invitations import (
    invitation_accept,
    invitation_dismiss,
    invitations_mark_delivered,
)
from agents.services.presence import (
    agent_heartbeat,
    agent_status_set,
)
from cartassist.api.serializers import validate_events
from cartassist.carts.models import Cart, Decision, EventSource, EventType, Intervention, Site
from cartassist.carts.services.ingest import cart_events_ingest
from cartassist.flows.sweep import stall_sweep
from cartassist.outcomes.services.followups import follow_up_report
from cartassist.simulation.population import (
    ACCEPT_SHARE,
    AGENT_SHIFTS,
    DELIVERED_SHARE,
    DISMISS_SHARE,
    FOLLOW_UP_CHANNELS,
    FOLLOW_UP_REASONS,
    NEW_CART_SHARE,
    OFFER_ACCEPT_SHARE,
    RecentInvitation,
    SimulatedShopper,
    SimulationConfig,
    basket_fill,
    random_delay,
    weighted_pick,
)
from cartassist.simulation.sites import simulated_agents_ensure
from policies.models import Grant, OfferStatus
from policies.services.grants import grant_redeem, grant_token
from policies.services.offers import OfferRefused, offer_accept, offer_authorize, offer_decline

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


class SimulationRun:
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
        self.agents = simulated_agents_ensure(site)
        self.recently_invited: list[RecentInvitation] = []
        self.events = 0
        self.agent_status: dict[int, str] = {}
        self.cap = timedelta(hours=site.frequency_cap_hours)
        self.window = timedelta(hours=site.attribution_window_hours)
        self.follow_up_window = timedelta(days=site.follow_up_window_days)

    # -- the steps of one shopper --

    def shopper_run(self, shopper: SimulatedShopper) -> None:
        with transaction.atomic():
            if shopper.returning:
                self._reuse_visitor(shopper)
            basket_fill(self.rng, shopper)
            last = self._browse(shopper)
            cart = Cart.objects.get(site=self.site, external_id=shopper.cart_id)
            if cart.stall_deadline is None:
                return  # no rule applies (a site's own rules): the cart never stalls
            swept_at = cart.stall_deadline + random_delay(self.rng, 0, 10)
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
                self.recently_invited.append(RecentInvitation(shopper.visitor_id, swept_at))
                grant = self._outreach(shopper, intervention)
            self._order(shopper, intervention, grant, after=max(last, swept_at))
            self._follow_up(shopper, intervention)

    def _reuse_visitor(self, shopper: SimulatedShopper) -> None:
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
        self,
        shopper: SimulatedShopper,
        kind: str,
        at: datetime,
        data: dict[str, Any],
        *,
        cart_id: str = "",
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

    def _browse(self, shopper: SimulatedShopper) -> datetime:
        """The widget's events up to the stall; returns the time of the last one."""
        rng = self.rng
        at = shopper.arrival
        currency = self.site.currency
        raw = []
        if shopper.opted_out:
            raw.append(self._event(shopper, EventType.OPTED_OUT, at, {}))
            at += random_delay(rng, 5, 30)
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
            at += random_delay(rng, 15, 90)
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

    def _outreach(self, shopper: SimulatedShopper, intervention: Intervention) -> Grant | None:
        """Invitation delivered, accepted / dismissed / ignored; the chat; an offer."""
        rng = self.rng
        invitation = intervention.invitation
        if rng.random() >= DELIVERED_SHARE:
            return None  # the shopper had left: it expires undelivered
        at = invitation.sent_at + random_delay(rng, 1, 4)
        invitations_mark_delivered(invitation_ids=[invitation.pk], now=at)
        roll = rng.random()
        at += random_delay(rng, 5, 120)
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

    def _chat(
        self, shopper: SimulatedShopper, conversation: Conversation, at: datetime
    ) -> Grant | None:
        rng = self.rng
        if conversation.agent is None:
            # Queued (no free seat): the shopper waits a while and leaves.
            conversation_close(
                conversation_id=conversation.pk,
                reason=CloseReason.VISITOR_TIMEOUT,
                now=at + random_delay(rng, 120, 600),
            )
            return None
        opener = {
            "shipping_shock": "Hi, the delivery charge is more than I expected.",
            "payment_failed": "My card was declined, what can I do?",
            "coupon_rejected": "Why doesn't my coupon work?",
            "idle": "Hi, I have a question about delivery times.",
        }[shopper.stall]
        visitor_at = at + random_delay(rng, 5, 40)
        self._post(conversation, Sender.VISITOR, opener, visitor_at, "v1")
        at = visitor_at + random_delay(rng, 8, 90)
        self._heartbeats(at)
        self._post(conversation, Sender.AGENT, "Hi! Let me look at your order.", at, "a1")
        grant = None
        if shopper.stall == "shipping_shock":
            at += random_delay(rng, 15, 60)
            grant, at = self._offer(shopper, conversation, at)
        for turn in range(rng.randrange(0, 3)):
            at += random_delay(rng, 10, 60)
            self._post(
                conversation, Sender.VISITOR, "Thanks, one more question.", at, f"v{turn + 2}"
            )
            at += random_delay(rng, 10, 60)
            self._heartbeats(at)
            self._post(conversation, Sender.AGENT, "Of course, happy to help.", at, f"a{turn + 2}")
        conversation_close(
            conversation_id=conversation.pk,
            reason=CloseReason.AGENT,
            now=at + random_delay(rng, 30, 240),
        )
        return grant

    def _offer(
        self, shopper: SimulatedShopper, conversation: Conversation, at: datetime
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
        at += random_delay(rng, 10, 90)
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
        shopper: SimulatedShopper,
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
            at = grant.issued_at + random_delay(rng, 60, 0.8 * _ttl_seconds(grant))
        elif rng.random() < 0.5:
            at = decided + random_delay(rng, 120, 2 * 3600)
        else:
            at = decided + random_delay(rng, 2 * 3600, self.window.total_seconds() - 600)
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
                        at - random_delay(rng, 60, 300),
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

    def _follow_up(self, shopper: SimulatedShopper, intervention: Intervention) -> None:
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
            channel=weighted_pick(rng, FOLLOW_UP_CHANNELS),
            reason=weighted_pick(rng, FOLLOW_UP_REASONS),
            visitor_id=shopper.visitor_id,
            customer_id="",
            occurred_at=at,
            note="Simulated helpdesk contact.",
            now=at + timedelta(minutes=1),
        )


def _ttl_seconds(grant: Grant) -> float:
    return (grant.expires_at - grant.issued_at).total_seconds()
