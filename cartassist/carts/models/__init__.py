"""The carts domain's models (app label ``cartassist``)."""

from .carts import Cart, CartStatus, Stage, StallSignal
from .events import CartEvent, EventSource, EventType
from .followups import FollowUpChannel, FollowUpContact, FollowUpReason, FollowUpSource
from .helpdesk import HelpdeskCapacity
from .interventions import (
    Arm,
    Attribution,
    Decision,
    Intervention,
    InterventionTrigger,
    InvitationResult,
    StallReason,
    SuppressionReason,
)
from .outreach import ContactIdentity, ContactKind, FollowUpResolution, ShopperEmailAddress
from .rollups import (
    AnalyticsChange,
    AnalyticsContact,
    AnalyticsDay,
    AnalyticsGroup,
    AnalyticsMoment,
    AnalyticsRepeat,
    AnalyticsResponse,
)
from .shoppers import IdentityKind, ShopperIdentity
from .sites import Site
from .stall_rules import StallRule
from .visitors import Visitor

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
    "FollowUpChannel",
    "FollowUpContact",
    "FollowUpReason",
    "FollowUpSource",
    "HelpdeskCapacity",
    "IdentityKind",
    "InvitationResult",
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
    "Visitor",
]
