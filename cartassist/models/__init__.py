"""The cartassist app's models module: it only re-exports the domain models, so that
Django's app registry and the migrations find them. Project code imports models from
their domain package (cartassist.carts.models, cartassist.webhooks.models); ADR 0015."""

from cartassist.carts.models.carts import Cart, CartStatus, Stage, StallSignal
from cartassist.carts.models.events import CartEvent, EventSource, EventType
from cartassist.carts.models.followups import (
    FollowUpChannel,
    FollowUpContact,
    FollowUpReason,
    FollowUpSource,
)
from cartassist.carts.models.helpdesk import HelpdeskCapacity
from cartassist.carts.models.interventions import (
    Arm,
    Attribution,
    Decision,
    Intervention,
    InterventionTrigger,
    InvitationResult,
    StallReason,
    SuppressionReason,
)
from cartassist.carts.models.outreach import (
    ContactIdentity,
    ContactKind,
    FollowUpResolution,
    ShopperEmailAddress,
)
from cartassist.carts.models.rollups import (
    AnalyticsChange,
    AnalyticsContact,
    AnalyticsDay,
    AnalyticsGroup,
    AnalyticsMoment,
    AnalyticsRepeat,
    AnalyticsResponse,
)
from cartassist.carts.models.shoppers import IdentityKind, ShopperIdentity
from cartassist.carts.models.sites import Site
from cartassist.carts.models.stall_rules import StallRule
from cartassist.carts.models.visitors import Visitor
from cartassist.webhooks.models import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "Arm",
    "AnalyticsChange",
    "AnalyticsContact",
    "AnalyticsDay",
    "AnalyticsGroup",
    "AnalyticsMoment",
    "AnalyticsRepeat",
    "AnalyticsResponse",
    "Attribution",
    "ContactIdentity",
    "ContactKind",
    "FollowUpResolution",
    "DeliveryStatus",
    "FollowUpChannel",
    "FollowUpContact",
    "FollowUpReason",
    "FollowUpSource",
    "IdentityKind",
    "InvitationResult",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "Cart",
    "CartEvent",
    "CartStatus",
    "Decision",
    "EventSource",
    "EventType",
    "Intervention",
    "InterventionTrigger",
    "ShopperEmailAddress",
    "ShopperIdentity",
    "Site",
    "Stage",
    "StallReason",
    "StallRule",
    "StallSignal",
    "SuppressionReason",
    "HelpdeskCapacity",
    "Visitor",
]
